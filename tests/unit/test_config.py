"""Settings: the mock/live decision, reading each setting, and never showing the API key."""

from __future__ import annotations

import string
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from batchcore.config import DEFAULT_BASE_URL, MOCK_BASE_URL, Settings, load_settings

KEY = "aip_test123"


def _problems_about(settings: Settings, name: str) -> list[str]:
    return [p for p in settings.problems if name in p]


# --- mock or live -------------------------------------------------------------------------


def test_no_key_means_mock_mode_without_problems():
    """With nothing configured the settings are mock mode, default values and no problems."""
    settings = load_settings({})
    assert settings.use_mock is True
    assert settings.mock_reason == "no API key is configured"
    assert settings.api_key is None and settings.key == ""
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.database_url is None
    assert settings.daily_cap == Decimal("2.00")
    assert (settings.live_read_timeout, settings.mock_latency_ms, settings.poll_seconds) == (900.0, 150, 2.0)
    assert settings.mock_profile == "head"
    assert settings.problems == ()


def test_a_key_means_live_mode():
    """An aip_ key without a mock flag gives live mode with the key kept and no problems."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY})
    assert settings.use_mock is False
    assert settings.mock_reason == ""
    assert settings.key == KEY
    assert settings.problems == ()


def test_api_key_is_read_under_its_short_name_too():
    """API_KEY is accepted when ORCHESTRATOR_API_KEY is absent; surrounding blanks are stripped."""
    settings = load_settings({"API_KEY": f"  {KEY}\n"})
    assert settings.key == KEY
    assert settings.use_mock is False


@pytest.mark.parametrize("name", ["BATCH_USE_MOCK", "NEXT_PUBLIC_USE_MOCK"])
@pytest.mark.parametrize("word", ["true", "TRUE", " yes ", "1", "on"])
def test_a_true_mock_flag_forces_mock_mode_even_with_a_key(name, word):
    """Either mock flag set to a true word forces mock mode although a key is configured."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY, name: word})
    assert settings.use_mock is True
    assert settings.mock_reason == "BATCH_USE_MOCK is true"
    assert settings.key == KEY
    assert settings.problems == ()


@pytest.mark.parametrize("name", ["BATCH_USE_MOCK", "NEXT_PUBLIC_USE_MOCK"])
@pytest.mark.parametrize("word", ["false", "False", "0", "no", "off"])
def test_a_false_mock_flag_with_a_key_is_live(name, word):
    """Either mock flag set to a false word leaves a configured key in live mode."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY, name: word})
    assert settings.use_mock is False
    assert settings.problems == ()


def test_a_false_mock_flag_without_a_key_is_still_mock():
    """BATCH_USE_MOCK=false cannot make live mode without a key: mock, because no key."""
    settings = load_settings({"BATCH_USE_MOCK": "false"})
    assert settings.use_mock is True
    assert settings.mock_reason == "no API key is configured"


@pytest.mark.parametrize("name", ["BATCH_USE_MOCK", "NEXT_PUBLIC_USE_MOCK"])
def test_a_garbage_mock_flag_is_a_problem_and_means_mock(name):
    """A mock flag that is neither true nor false is reported and fails safe into mock mode."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY, name: "maybe"})
    assert settings.use_mock is True
    assert len(settings.problems) == 1
    assert "BATCH_USE_MOCK" in settings.problems[0] and "'maybe'" in settings.problems[0]


def test_batch_use_mock_wins_over_next_public_use_mock():
    """When both flags are set, BATCH_USE_MOCK decides."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY, "BATCH_USE_MOCK": "false",
                              "NEXT_PUBLIC_USE_MOCK": "true"})
    assert settings.use_mock is False


def test_earlier_mappings_win_over_later_ones():
    """A value in the first mapping (secrets) beats the same setting in a later one (env)."""
    secrets = {"ORCHESTRATOR_URL": "https://first.example", "DAILY_SPEND_CAP": "1.50",
               "BATCH_USE_MOCK": "true"}
    env = {"ORCHESTRATOR_URL": "https://second.example", "DAILY_SPEND_CAP": "3",
           "BATCH_USE_MOCK": "false", "ORCHESTRATOR_API_KEY": KEY}
    settings = load_settings(secrets, env)
    assert settings.base_url == "https://first.example"
    assert settings.daily_cap == Decimal("1.50")
    assert settings.use_mock is True
    assert settings.key == KEY  # only in the later mapping, so it is still found there


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_blank_values_are_ignored_in_favour_of_later_mappings(blank):
    """A blank value counts as not set: a later mapping's value (or the default) is used."""
    secrets = {"ORCHESTRATOR_API_KEY": blank, "ORCHESTRATOR_URL": blank, "POLL_SECONDS": blank,
               "BATCH_USE_MOCK": blank, "DATABASE_URL": blank}
    settings = load_settings(secrets, {"ORCHESTRATOR_API_KEY": KEY, "POLL_SECONDS": "5"})
    assert settings.key == KEY
    assert settings.use_mock is False
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.database_url is None
    assert settings.poll_seconds == 5.0
    assert settings.problems == ()


def test_none_values_are_ignored():
    """A setting present with the value None counts as not set."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": None, "DAILY_SPEND_CAP": None})
    assert settings.use_mock is True
    assert settings.daily_cap == Decimal("2.00")
    assert settings.problems == ()


def test_a_key_without_the_aip_prefix_is_a_problem():
    """A key that does not start with aip_ is reported (the server would refuse it), never quoted."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": "sk_wrong987"})
    assert settings.use_mock is False
    assert len(settings.problems) == 1
    assert 'does not start with "aip_"' in settings.problems[0]
    assert "sk_wrong987" not in settings.problems[0]


# --- the other settings -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ORCHESTRATOR_URL", "BATCH_API_URL"])
def test_the_backend_url_loses_its_trailing_slash(name):
    """ORCHESTRATOR_URL (or BATCH_API_URL) is stripped of blanks and trailing slashes."""
    settings = load_settings({name: "  https://orch.example/api//  "})
    assert settings.base_url == "https://orch.example/api"


def test_database_url_is_kept_stripped():
    """DATABASE_URL is taken as given, without surrounding blanks."""
    settings = load_settings({"DATABASE_URL": " postgresql://db.example/studio "})
    assert settings.database_url == "postgresql://db.example/studio"


@pytest.mark.parametrize("raw, expected", [("1.50", Decimal("1.50")), ("$3", Decimal("3")),
                                           ("0", Decimal("0")), (5, Decimal("5"))])
def test_a_valid_daily_cap_is_used(raw, expected):
    """DAILY_SPEND_CAP is read as dollars (text or number)."""
    settings = load_settings({"DAILY_SPEND_CAP": raw})
    assert settings.daily_cap == expected
    assert settings.problems == ()


@pytest.mark.parametrize("raw", ["two dollars", "-1", "1000", "0.0001"])
def test_an_invalid_daily_cap_is_a_problem_and_the_default_is_kept(raw):
    """An unreadable or out-of-range DAILY_SPEND_CAP is reported and $2.00 is used."""
    settings = load_settings({"DAILY_SPEND_CAP": raw})
    assert settings.daily_cap == Decimal("2.00")
    [problem] = settings.problems
    assert problem.startswith("DAILY_SPEND_CAP:") and "Using $2.00." in problem


@pytest.mark.parametrize("raw, expected", [("head", "head"), ("brief", "brief"), (" brief ", "brief")])
def test_mock_profile_head_or_brief_is_used(raw, expected):
    """MOCK_PROFILE accepts head and brief (blanks stripped)."""
    settings = load_settings({"MOCK_PROFILE": raw})
    assert settings.mock_profile == expected
    assert settings.problems == ()


def test_an_unknown_mock_profile_is_a_problem_and_head_is_kept():
    """A MOCK_PROFILE other than head or brief is reported and head is used."""
    settings = load_settings({"MOCK_PROFILE": "Brief-ish"})
    assert settings.mock_profile == "head"
    [problem] = settings.problems
    assert "MOCK_PROFILE" in problem and "'Brief-ish'" in problem


NUMBERS = [
    # (setting, field, default, valid text, its value)
    ("LIVE_READ_TIMEOUT", "live_read_timeout", 900.0, "120.5", 120.5),
    ("MOCK_LATENCY_MS", "mock_latency_ms", 150, " 0 ", 0),
    ("POLL_SECONDS", "poll_seconds", 2.0, "0.25", 0.25),
]


@pytest.mark.parametrize("name, field, default, text, value", NUMBERS)
def test_a_valid_number_setting_is_used(name, field, default, text, value):
    """LIVE_READ_TIMEOUT, MOCK_LATENCY_MS and POLL_SECONDS in range are read as numbers."""
    settings = load_settings({name: text})
    assert getattr(settings, field) == value
    assert type(getattr(settings, field)) is type(default)
    assert settings.problems == ()


@pytest.mark.parametrize("name, field, default, text, value", NUMBERS)
def test_a_number_setting_accepts_its_bounds(name, field, default, text, value):
    """The lowest and highest allowed values of each number setting are accepted."""
    low, high = {"LIVE_READ_TIMEOUT": ("1", "86400"), "MOCK_LATENCY_MS": ("0", "60000"),
                 "POLL_SECONDS": ("0.01", "600")}[name]
    assert getattr(load_settings({name: low}), field) == type(default)(low)
    assert getattr(load_settings({name: high}), field) == type(default)(high)


@pytest.mark.parametrize("name, field, default, text, value", NUMBERS)
@pytest.mark.parametrize("bad", ["soon", "12abc", "1,5"])
def test_a_non_numeric_number_setting_is_a_problem_and_the_default_is_kept(
        name, field, default, text, value, bad):
    """Text that is not a number is refused with a problem naming the setting; the default stays."""
    settings = load_settings({name: bad})
    assert getattr(settings, field) == default
    [problem] = settings.problems
    assert problem.startswith(name) and "should be a number" in problem and repr(bad) in problem


def test_a_fractional_latency_is_not_a_whole_number_of_milliseconds():
    """MOCK_LATENCY_MS is whole milliseconds: 1.5 is refused and 150 kept."""
    settings = load_settings({"MOCK_LATENCY_MS": "1.5"})
    assert settings.mock_latency_ms == 150
    assert _problems_about(settings, "MOCK_LATENCY_MS")


@pytest.mark.parametrize("name, field, default, text, value", NUMBERS)
@pytest.mark.parametrize("bad", ["-1", "0.001", "1e9", "100000"])
def test_an_out_of_range_number_setting_is_a_problem_and_the_default_is_kept(
        name, field, default, text, value, bad):
    """A number outside the setting's range is refused with a problem naming it; the default stays."""
    settings = load_settings({name: bad})
    assert getattr(settings, field) == default
    [problem] = settings.problems
    assert problem.startswith(name) and repr(bad) in problem


@pytest.mark.parametrize("name, field, default, text, value", NUMBERS)
@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_inf_are_refused_for_every_number_setting(name, field, default, text, value, bad):
    """nan and inf are never taken as a timeout, latency or poll interval: problem, default kept."""
    settings = load_settings({name: bad})
    assert getattr(settings, field) == default
    [problem] = settings.problems
    assert problem.startswith(name) and repr(bad) in problem


def test_several_problems_are_all_reported():
    """Every unreadable setting gets its own problem, in a stable order."""
    settings = load_settings({"BATCH_USE_MOCK": "perhaps", "DAILY_SPEND_CAP": "lots",
                              "MOCK_PROFILE": "tail", "LIVE_READ_TIMEOUT": "nan",
                              "MOCK_LATENCY_MS": "fast", "POLL_SECONDS": "0"})
    names = ["BATCH_USE_MOCK", "DAILY_SPEND_CAP", "MOCK_PROFILE", "LIVE_READ_TIMEOUT",
             "MOCK_LATENCY_MS", "POLL_SECONDS"]
    assert len(settings.problems) == len(names)
    for problem, name in zip(settings.problems, names):
        assert problem.startswith(name)


# --- poll interval, describe, and the key never shown -------------------------------------------


@pytest.mark.parametrize("poll", ["0.02", "0.5", "3"])
def test_poll_interval_is_as_configured_in_mock_mode(poll):
    """In mock mode the poll interval is exactly POLL_SECONDS, however short."""
    settings = load_settings({"POLL_SECONDS": poll})
    assert settings.use_mock is True
    assert settings.poll_interval == float(poll)


@pytest.mark.parametrize("poll, expected", [("0.02", 1.0), ("0.5", 1.0), ("1", 1.0), ("3", 3.0)])
def test_poll_interval_is_at_least_one_second_in_live_mode(poll, expected):
    """Against a real server the poll interval is POLL_SECONDS but never under 1 s."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY, "POLL_SECONDS": poll})
    assert settings.use_mock is False
    assert settings.poll_interval == expected


def test_describe_in_mock_mode_names_the_emulator():
    """The sidebar text in mock mode names the built-in emulator and no cost; it says nothing
    of a key (the key check beside it says the one fact: accepted by the built-in emulator)."""
    shown = load_settings({"ORCHESTRATOR_API_KEY": KEY, "BATCH_USE_MOCK": "1"}).describe()
    assert shown == {"Backend": MOCK_BASE_URL + " (built-in emulator)",
                     "Mode": "Mock — no real cost"}


def test_describe_in_live_mode_names_the_backend_and_hides_the_key():
    """The sidebar text in live mode names the backend URL and real cost; the key is 'configured'."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY, "ORCHESTRATOR_URL": "https://o.example/"})
    shown = settings.describe()
    assert shown == {"Backend": "https://o.example", "Mode": "Live — real cost",
                     "API key": "configured"}
    assert KEY not in str(shown)


def test_describe_live_without_a_key_says_missing():
    """Settings built by hand as live without a key say the key is missing (never crash)."""
    shown = Settings(use_mock=False).describe()
    assert shown["API key"] == "missing"
    assert shown["Mode"] == "Live — real cost"


def test_repr_and_str_never_contain_the_key():
    """repr(), str() and the JSON dump of live settings show a mask, not the key."""
    settings = load_settings({"ORCHESTRATOR_API_KEY": KEY})
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert KEY not in text
        assert "test123" not in text


def test_key_returns_the_key_in_clear():
    """Settings.key gives the configured key exactly (for the HTTP client only)."""
    assert load_settings({}, {"ORCHESTRATOR_API_KEY": KEY}).key == KEY


def test_settings_are_frozen():
    """Settings cannot be changed after they are built."""
    settings = load_settings({})
    with pytest.raises(ValidationError, match="frozen"):
        settings.use_mock = False  # type: ignore[misc]
    assert settings.use_mock is True


_KEYS = st.builds(lambda tail: "aip_" + tail,
                  st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=60))


@given(key=_KEYS, mock=st.sampled_from([None, "true", "false"]))
def test_no_generated_key_ever_shows_in_repr_str_or_describe(key, mock):
    """For any aip_ key, in mock or live mode, the key text is in no repr, str or sidebar text."""
    source = {"ORCHESTRATOR_API_KEY": key}
    if mock is not None:
        source["BATCH_USE_MOCK"] = mock
    settings = load_settings(source)
    assert settings.key == key
    for text in (repr(settings), str(settings), str(settings.describe()), *settings.problems):
        assert key not in text


def test_app_signing_key_is_a_secret_shared_by_replicas():
    """A long APP_SIGNING_KEY is kept as a secret; a short one is said and not used."""
    long_key = "s" * 40
    cfg = load_settings({"APP_SIGNING_KEY": long_key})
    assert cfg.signing_key is not None and cfg.signing_key.get_secret_value() == long_key
    assert long_key not in repr(cfg) and long_key not in cfg.model_dump_json()
    short = load_settings({"APP_SIGNING_KEY": "short"})
    assert short.signing_key is None
    assert any("APP_SIGNING_KEY is too short (5 characters" in p for p in short.problems)
    assert all("short" not in p.replace("too short", "") for p in short.problems)

