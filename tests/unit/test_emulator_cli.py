"""``python -m batchcore.emulator``: its flags become the emulator's configuration."""

from batchcore.emulator.__main__ import KEYS_ENV, parse_config


def test_defaults_are_the_head_server_with_planned_videos():
    """With no flags it serves the real server's shape, planned videos, 100 requests a minute."""
    config, args = parse_config([], environ={})
    assert (args.host, args.port) == ("127.0.0.1", 8787)
    assert config.profile == "head" and config.videos == "planned"
    assert config.rate_limit_per_minute == 100
    assert config.api_keys == frozenset()


def test_flags_reach_the_configuration():
    """Profile, videos, error style, latency, failures and seed are all taken from the flags."""
    config, args = parse_config(
        ["--port", "9999", "--profile", "brief", "--videos", "501", "--error-style", "legacy",
         "--latency-ms", "0", "--rate-limit", "0", "--fail-scene", "S2", "--failure-rate", "0.5",
         "--seed", "7"], environ={})
    assert args.port == 9999
    assert (config.profile, config.videos, config.error_style) == ("brief", "501", "legacy")
    assert config.latency_ms == 0 and config.rate_limit_per_minute == 0
    assert config.fail_scenes == frozenset({"S2"})
    assert (config.failure_rate, config.seed) == (0.5, 7)


def test_accepted_keys_come_from_flags_and_the_environment():
    """Keys given with --api-key and in the comma-separated variable are all accepted."""
    config, _ = parse_config(["--api-key", "aip_one"],
                             environ={KEYS_ENV: "aip_two, ,aip_three"})
    assert config.api_keys == frozenset({"aip_one", "aip_two", "aip_three"})


def test_strict_flag_reaches_the_configuration():
    """--strict turns on the real server's https-only references; without it the emulator stays lenient."""
    assert parse_config(["--strict"], environ={})[0].strict is True
    assert parse_config([], environ={})[0].strict is False


def test_https_needs_both_the_certificate_and_its_key():
    """--ssl-certfile and --ssl-keyfile are taken together; one alone is a usage error."""
    import pytest

    _, args = parse_config(["--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem"], environ={})
    assert (args.ssl_certfile, args.ssl_keyfile) == ("c.pem", "k.pem")
    with pytest.raises(SystemExit):
        parse_config(["--ssl-certfile", "c.pem"], environ={})
