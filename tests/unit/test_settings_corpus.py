"""The hostile settings corpus (tests/data/hostile/settings.jsonl) through batchcore.config.

Each case is a secrets file's values as TOML can type them (text, numbers, booleans, arrays,
tables, builders for a fake key and huge numbers). For every case: no exception; mock or live
as expected (an unusable backend address never falls back to another backend: it stays in
mock mode); every expected sentence among the problems; each problem one plain sentence;
nothing listed under ``never`` (a password in the URL, a key) in any problem, the sidebar
text or the settings' repr; the key never shown.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from batchcore.config import Settings, load_settings, secrets_settings
from tests.conftest import fake_key
from tests.unit.test_hostile_corpus import build as build_value

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile" / "settings.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def build(value: Any) -> Any:
    """The corpus builders, plus ``{"$fake_key": true}`` (a key made at run time)."""
    if isinstance(value, dict) and "$fake_key" in value:
        return fake_key("s")
    if isinstance(value, dict) and "$concat" in value:
        return "".join(build(v) for v in value["$concat"])
    if isinstance(value, dict) and not any(k.startswith("$") for k in value):
        return {k: build(v) for k, v in value.items()}
    if isinstance(value, list):
        return [build(v) for v in value]
    return build_value(value)


def settings_of(case: dict[str, Any]) -> tuple[Settings, list[str]]:
    flat, problems = secrets_settings(build(case["secrets"]))
    settings = load_settings(flat)
    return settings, [*problems, *settings.problems]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_setting(case):
    """A hostile setting gives the expected mode and sentences, and shows no secret."""
    settings, problems = settings_of(case)
    expect = case["expect"]
    assert settings.use_mock is expect["mock"], problems
    for fragment in expect["has"]:
        assert any(fragment in p for p in problems), (fragment, problems)
    if not expect["has"]:
        assert problems == []
    if "backend" in expect:
        assert settings.describe()["Backend"] == expect["backend"]
    shown = [repr(settings), str(settings.describe()), *problems]
    for secret in [*expect.get("never", ()), fake_key("s")]:
        assert not any(secret in text for text in shown), secret
    for problem in problems:
        assert problem.endswith(".") and len(problem) < 600, problem
        assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in problem), ascii(problem)


def test_the_corpus_is_large_enough():
    """At least 40 hostile settings, each with an id and an expectation."""
    assert len(CASES) >= 40 and all(c["id"] and "expect" in c for c in CASES)


def test_no_secrets_file_is_quiet_but_a_broken_one_is_said():
    """Streamlit's 'no secrets found' says nothing; a parse error is one sentence with its place."""
    from batchcore.config import secrets_problem

    assert secrets_problem("no-secrets-found", "No secrets found. Valid paths …") == ""
    said = secrets_problem("failed-parsing-secrets-file",
                           "Error parsing secrets file at /x/secrets.toml: Invalid value "
                           "(at line 3, column 9)")
    assert said == ("The secrets file (.streamlit/secrets.toml) could not be read (at line 3, "
                    "column 9); every setting in it is ignored, so settings come from the "
                    "environment only.")


@pytest.mark.parametrize("url, shown", [
    ("https://user:pw@h.example/x", "https://***@h.example/x"),
    ("https://:pw@h.example", "https://***@h.example"),
    ("https://h.example/a@b", "https://h.example/a@b"),
    ("https://h.example", "https://h.example"),
])
def test_redact_url_hides_user_and_password_only(url, shown):
    """redact_url replaces the user-info part and nothing else (an @ in the path stays)."""
    from batchcore.config import redact_url

    assert redact_url(url) == shown


def test_a_url_with_credentials_is_used_without_them():
    """The backend address keeps host, port and path; the user name and password are dropped."""
    from batchcore.config import check_base_url

    url, problems = check_base_url("https://u:p@h.example:8443/api/")
    assert url == "https://h.example:8443/api" and len(problems) == 1
