"""The sign-in screen through AppTest: with [auth] in the secrets nothing of the studio or
History is drawn (and no workspace made) until someone signs in; a half-written [auth]
keeps the app closed; without [auth] the page is as before. The signed-in path itself runs
against a real OIDC provider in tests/e2e/test_sign_in.py (st.user is never patched)."""

from __future__ import annotations

import secrets

from studio.state import WORKSPACE_KEY
from tests.app.conftest import make_app


def _auth(**drop: bool) -> dict[str, str]:
    section = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback",
               "cookie_secret": secrets.token_urlsafe(32), "client_id": "batch-studio",
               "client_secret": secrets.token_urlsafe(16),
               "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
    return {k: v for k, v in section.items() if k not in drop}


def _signed_out(tmp_path, **secrets_: object):
    at = make_app(tmp_path, **secrets_)
    at.secrets["auth"] = _auth()
    return at


def test_with_sign_in_configured_the_studio_waits_behind_the_sign_in_screen(tmp_path):
    """A signed-out visitor sees the sign-in title and Log in, no studio and no workspace."""
    at = _signed_out(tmp_path).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in to Batch Studio"]
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.text_area and not at.get("file_uploader")
    assert WORKSPACE_KEY not in at.session_state
    assert "w" not in at.query_params


def test_history_reached_directly_lists_nothing_while_signed_out(tmp_path):
    """History run on its own (AppTest runs the page file alone) asks the owner first: a
    signed-out visitor gets the sign-in screen, no spend and no workspace list."""
    at = _signed_out(tmp_path).run()
    at.switch_page("pages/history.py").run()
    assert not at.exception
    assert "Sign in to Batch Studio" in [t.value for t in at.title]
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.dataframe and not at.metric


def test_a_half_written_auth_section_keeps_the_app_closed(tmp_path):
    """[auth] without cookie_secret: an error naming the key, no Log in, no studio."""
    at = make_app(tmp_path)
    at.secrets["auth"] = _auth(cookie_secret=True)
    at.run()
    assert not at.exception
    assert any("cookie_secret" in e.value and "stays closed" in e.value for e in at.error)
    assert not at.button and not at.text_area
    assert WORKSPACE_KEY not in at.session_state


def test_without_sign_in_the_page_is_open_with_no_sign_in_controls(tmp_path):
    """No [auth]: the studio is drawn at once, with no Signed in line and no Log out."""
    at = make_app(tmp_path).run()
    assert not at.exception
    assert "Batch Studio" in [t.value for t in at.title]
    assert not any(t.value.startswith("Signed in as") for t in at.sidebar.text)
    assert "Log out" not in [b.label for b in at.button]


def test_an_allow_list_without_sign_in_is_said_in_the_sidebar(tmp_path):
    """SPEND_ALLOWLIST but no [auth]: the sidebar says nobody can spend and how to fix it."""
    at = make_app(tmp_path, SPEND_ALLOWLIST="alice@example.com").run()
    assert not at.exception
    assert any("nobody can spend" in w.value for w in at.sidebar.warning)
