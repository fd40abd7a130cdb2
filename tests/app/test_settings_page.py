"""Hostile settings through the page: the sidebar says each one, shows no secret, and the page works.

Every case of tests/data/hostile/settings.jsonl is given to the page as its secrets (typed as
TOML types them). The sidebar must show every expected sentence and the mode; no password
from a URL, no key, anywhere on the page; no traceback; no markup; and the page keeps
working (Parse; and in mock mode a dry-run). A broken secrets.toml is said in the sidebar, and
the API key check at start says "accepted" or "refused" there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit
from streamlit import config as st_config
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

from studio.runtime import latest_runtime
from tests.app.conftest import ROOT, dry_run, emulator, enter_batch, make_app
from tests.app.hostile_page import assert_sound, markdown_strings, visible
from tests.conftest import fake_key
from tests.unit.test_settings_corpus import build

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile" / "settings.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def sidebar_text(at: AppTest) -> str:
    parts = []
    for el in at.sidebar:
        for attr in ("value", "body", "label"):
            value = getattr(el, attr, None)
            if isinstance(value, str):
                parts.append(value)
    return visible(at) + "\n" + "\n".join(parts)


@pytest.mark.parametrize("case", [c for c in CASES if "page_skip" not in c],
                         ids=[c["id"] for c in CASES if "page_skip" not in c])
def test_hostile_setting_through_the_page(case, tmp_path):
    """A hostile setting: its sentence in the sidebar, the right mode, no secret shown, the page works."""
    at = make_app(tmp_path)
    for name, value in build(case["secrets"]).items():
        at.secrets[name] = value
    at.run()
    expect = case["expect"]
    assert_sound(at, *(str(v) for v in case["secrets"].values()))
    shown = visible(at)
    for fragment in expect["has"]:
        assert fragment in shown, (fragment, shown[-2500:])
    assert ("Mode: Mock — no real cost" if expect["mock"] else "Mode: Live — real cost") in shown
    if "backend" in expect:
        assert f"Backend: {expect['backend']}" in shown
    raw = "\n".join(r for _, r in markdown_strings(at)) + shown
    for secret in [*expect.get("never", ()), fake_key("s")]:
        assert secret not in raw, secret
    enter_batch(at, "S1 | a quiet harbour | 1")
    assert not at.exception
    if expect["mock"]:
        dry_run(at)
        assert "Dry-run receipt" in visible(at)
        assert emulator().ledger.charges == []


def test_a_broken_secrets_file_is_said_in_the_sidebar(tmp_path, monkeypatch):
    """A secrets.toml that does not parse is said (not silently treated as absent); mock mode works."""
    broken = tmp_path / "secrets.toml"
    broken.write_text(f'ORCHESTRATOR_API_KEY = "{fake_key("b")}"\nDAILY_SPEND_CAP = = 3\n')
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/workspaces.sqlite3")
    monkeypatch.setenv("MOCK_LATENCY_MS", "0")
    old = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(broken)])
    monkeypatch.setattr(streamlit, "secrets", Secrets())
    try:
        streamlit.cache_resource.clear()
        at = AppTest.from_file(str(ROOT / "app_page.py"), default_timeout=30).run()
        assert not at.exception
        shown = visible(at)
        assert "The secrets file (.streamlit/secrets.toml) could not be read (at line 2, " \
               "column 19); every setting in it is ignored" in shown, shown[-2000:]
        assert "Mode: Mock — no real cost" in shown
        assert fake_key("b") not in shown
        enter_batch(at, "S1 | a quiet harbour | 1")
        dry_run(at)
        assert "Dry-run receipt" in visible(at)
    finally:
        st_config.set_option("secrets.files", old)


def test_the_sidebar_says_the_key_was_accepted(tmp_path):
    """At start one cheap authenticated call checks the key; the sidebar says it was accepted."""
    at = make_app(tmp_path).run()
    assert "Key accepted by the built-in emulator." in visible(at)
    assert not [b for b in at.button if b.key == "check_key"]


def test_a_refused_key_is_said_at_start_and_paid_steps_stay_off(tmp_path):
    """A key the backend refuses is said in the sidebar with the server's words; Generate stays off."""
    at = make_app(tmp_path).run()
    emulator().config.api_keys = frozenset({fake_key("other")})
    at.run()
    assert "Key accepted" in visible(at)  # checked once per process, until asked again
    rt = latest_runtime()
    assert rt is not None
    rt.backend_check = None  # as after a restart of the app
    at.run()
    shown = visible(at)
    assert "Key refused by the built-in emulator: Invalid API Key — The provided API key is " \
           "not valid. Check ORCHESTRATOR_API_KEY" in shown
    enter_batch(at, "S1 | a quiet harbour | 1")
    dry_run(at)
    assert at.button(key="generate").disabled
    assert "Invalid API Key" in visible(at)
    emulator().config.api_keys = frozenset()
    at.button(key="check_key").click().run()
    assert "Key accepted by the built-in emulator." in visible(at)
    assert emulator().ledger.charges == []
