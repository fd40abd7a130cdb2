"""EmulatorConfig refuses values the emulator cannot honour, naming the setting and the choices."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batchcore.emulator import EmulatorConfig
from batchcore.emulator.assets import AssetStore


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("profile", "legacy", "profile must be 'head' or 'brief', not 'legacy'"),
        ("videos", "off", "videos must be 'planned' or '501', not 'off'"),
        ("videos", 501, "videos must be 'planned' or '501', not 501"),
        ("error_style", "fastify", "error_style must be 'problem' or 'legacy', not 'fastify'"),
        ("failure_rate", 1.5, "failure_rate must be between 0 and 1"),
        ("failure_rate", -0.1, "failure_rate must be between 0 and 1"),
    ],
)
def test_impossible_settings_are_refused_by_name(setting, value, message):
    """A setting outside its allowed values raises ValueError naming the setting and what it may be."""
    with pytest.raises(ValueError) as info:
        EmulatorConfig(**{setting: value})
    assert str(info.value) == message


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_failure_rate_bounds_are_allowed(rate):
    """failure_rate 0 and 1 are both valid (never fail, always fail)."""
    assert EmulatorConfig(failure_rate=rate).failure_rate == rate


def test_settings_given_loosely_are_normalised():
    """Keys and failing scenes given as lists become frozensets; a float budget becomes its exact Decimal text."""
    config = EmulatorConfig(api_keys=["k1", "k1"], fail_scenes=["S2"], daily_budget=2.5)
    assert config.api_keys == frozenset({"k1"}) and config.fail_scenes == frozenset({"S2"})
    assert config.daily_budget == Decimal("2.5") and isinstance(config.daily_budget, Decimal)


def test_only_pictures_offer_thumbnails():
    """A generated picture has a thumbnail and a clip does not; an unknown id has no bytes at all."""
    store = AssetStore(size=64, thumb_size=16)
    image_id = store.add_image("S1", "a prompt", 1, (), lambda refs: None)
    clip_id = store.add_video(lambda: None, "S1", (64, 36), 0.1, 10, "token")
    assert (store.has_thumb(image_id), store.has_thumb(clip_id)) == (True, False)
    assert store.bytes_of(image_id, thumb=True)[:8] == b"\x89PNG\r\n\x1a\n"
    assert store.bytes_of(clip_id, thumb=True) is None
    assert store.bytes_of("img-unknown") is None and store.bytes_of("img-unknown", thumb=True) is None
