"""Limits, prices and the one money formatter."""

from __future__ import annotations

from decimal import Decimal

import pytest

import batchcore
from batchcore import (
    MAX_REF_IMAGES,
    MAX_ROWS,
    MAX_VARIANTS,
    PRICE_PER_IMAGE,
    BatchRow,
    format_money,
    image_cost,
    video_cost,
)
from batchcore.domain.pricing import (
    MAX_PROMPT_CHARS,
    MAX_SCENE_ID_CHARS,
    VIDEO_CLIP_SECONDS,
    VIDEO_PRICES,
    to_decimal,
    total_images,
)


def rows(*variants: int) -> list[BatchRow]:
    return [BatchRow(scene_id=f"S{i}", prompt="p", variants=v) for i, v in enumerate(variants)]


def test_limits_are_the_contract_numbers():
    """Caps: 10 rows, 3 variants, 6 reference images, 50-char ids, 1000-char prompts."""
    assert (MAX_ROWS, MAX_VARIANTS, MAX_REF_IMAGES) == (10, 3, 6)
    assert (MAX_SCENE_ID_CHARS, MAX_PROMPT_CHARS) == (50, 1000)


def test_prices_are_exact_decimals():
    """An image costs Decimal('0.002'); an 8 s clip costs $0.50 (veo3) or $0.10 (veo3_fast)."""
    assert Decimal("0.002") == PRICE_PER_IMAGE and isinstance(PRICE_PER_IMAGE, Decimal)
    assert VIDEO_CLIP_SECONDS == 8
    assert {"veo3": Decimal("0.50"), "veo3_fast": Decimal("0.10")} == VIDEO_PRICES
    assert all(isinstance(p, Decimal) for p in VIDEO_PRICES.values())


def test_image_cost_is_price_times_total_variants():
    """image_cost is $0.002 x the sum of variants, exactly."""
    assert total_images(rows(2, 3, 1)) == 6
    assert image_cost(rows(2, 3, 1)) == Decimal("0.012")
    assert image_cost([]) == 0 and total_images([]) == 0
    assert image_cost(rows(*[3] * 10)) == Decimal("0.060")


def test_image_cost_accepts_any_rows_with_variants():
    """image_cost works on an iterator of anything with .variants (one pass)."""
    assert image_cost(iter(rows(1, 1))) == Decimal("0.004")


def test_video_cost_per_model():
    """video_cost is the per-clip price of the model times the clip count, exactly."""
    assert video_cost("veo3", 3) == Decimal("1.50")
    assert video_cost("veo3_fast", 3) == Decimal("0.30")
    assert video_cost("veo3", 0) == 0
    assert format_money(video_cost("veo3_fast", 7)) == "$0.70"


def test_video_cost_refuses_an_unknown_model():
    """An unknown model is a ValueError naming the models to choose from."""
    with pytest.raises(ValueError, match="veo3, veo3_fast"):
        video_cost("sora", 1)


def test_video_cost_refuses_a_negative_count():
    """A negative clip count is a ValueError."""
    with pytest.raises(ValueError, match="negative"):
        video_cost("veo3", -1)


@pytest.mark.parametrize(
    "amount, text",
    [
        (Decimal("0.012"), "$0.012"),
        (Decimal("0.5"), "$0.50"),
        (Decimal("0.50"), "$0.50"),
        (Decimal("1"), "$1.00"),
        (Decimal("0.002"), "$0.002"),
        (Decimal("0"), "$0.00"),
        (0, "$0.00"),
        (3, "$3.00"),
        ("0.060", "$0.06"),
        ("1234.5", "$1,234.50"),
        (Decimal("0.0125"), "$0.013"),
        (Decimal("0.0124"), "$0.012"),
        (Decimal("0.0005"), "$0.001"),
        (Decimal("-0.5"), "-$0.50"),
        (Decimal("-0.012"), "-$0.012"),
        (Decimal("-0.0001"), "$0.00"),
        (0.1 + 0.2, "$0.30"),
        (0.006, "$0.006"),
        (0.006000000000000001, "$0.006"),
        (1e-7, "$0.00"),
        (2.0, "$2.00"),
    ],
)
def test_format_money(amount, text):
    """Money shows 2 decimals, or 3 when the third is not zero, and never float noise."""
    assert format_money(amount) == text


def test_format_money_of_costs_is_exact():
    """Every possible batch cost (1..30 images) formats without float noise."""
    for n in range(31):
        shown = format_money(PRICE_PER_IMAGE * n)
        assert shown.startswith("$") and len(shown.split(".")[1]) in (2, 3)
        assert Decimal(shown[1:]) == PRICE_PER_IMAGE * n


def test_to_decimal_reads_floats_through_repr():
    """to_decimal(0.1) is Decimal('0.1'), not the binary float's expansion; others are exact."""
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal("0.002") == Decimal("0.002")
    assert to_decimal(5) == Decimal(5)
    assert to_decimal(Decimal("1.50")) == Decimal("1.50")


def test_there_is_one_money_formatter():
    """The package exposes exactly one money formatter: format_money."""
    assert [n for n in batchcore.__all__ if "money" in n.lower()] == ["format_money"]
