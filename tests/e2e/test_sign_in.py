"""Sign-in end to end: Streamlit's st.login against an OIDC provider on loopback
(oidc-provider-mock), in real headless Chromium. No patched st.user: the browser goes
through the provider's authorize form and Streamlit's own callback and cookie."""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import sys

import pytest

from tests.e2e.conftest import ROOT, Server, free_port, idle, shot
from tests.e2e.test_browser_flow import _batch, _generate

pytestmark = pytest.mark.e2e


def _provider_installed() -> bool:
    return importlib.util.find_spec("oidc_provider_mock") is not None


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORCHESTRATOR_API_KEY", "API_KEY", "BATCH_USE_MOCK", "DATABASE_URL",
                        "SPEND_ALLOWLIST")}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "PYTHONWARNINGS": "ignore"})
    env.update(extra)
    return env


@pytest.fixture
def signed_app(tmp_path):
    """The app with [auth] pointing at a loopback OIDC provider; alice alone may spend."""
    if not _provider_installed():
        pytest.skip("oidc-provider-mock is not installed (pip install oidc-provider-mock)")
    oidc_port, app_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{oidc_port}"
    provider = Server([sys.executable, "-m", "oidc_provider_mock", "--port", str(oidc_port),
                      "--host", "127.0.0.1"], _env(), f"{issuer}/.well-known/openid-configuration",
                     tmp_path)
    # Streamlit reads .streamlit/ from its working directory: a throwaway one, with
    # secrets made for this run only (nothing secret is in the repository).
    home = tmp_path / "site"
    (home / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", home / ".streamlit" / "config.toml")
    (home / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "batch-studio-e2e"\n'
        f'client_secret = "{secrets.token_urlsafe(24)}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n',
        encoding="utf-8")
    url = f"http://127.0.0.1:{app_port}"
    try:
        app = Server([sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
                     "--server.headless", "true", "--server.port", str(app_port),
                     "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
                     "--browser.gatherUsageStats", "false"],
                    _env(DATABASE_URL=f"sqlite:///{tmp_path}/ws.sqlite3", MOCK_LATENCY_MS="100",
                         SPEND_ALLOWLIST="alice@example.com", PYTHONPATH=str(ROOT)),
                    f"{url}/_stcore/health", home)
    except BaseException:
        provider.stop()
        raise
    yield url
    app.stop()
    provider.stop()


def _log_in(page, url: str, who: str) -> None:
    page.goto(url)
    idle(page)
    assert page.get_by_role("heading", name="Sign in to Batch Studio").is_visible()
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("input[name=sub]", timeout=30_000)  # the provider's form
    page.fill("input[name=sub]", who)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"^" + re.escape(url)), timeout=30_000)
    page.get_by_text(f"Signed in as {who}").wait_for(timeout=60_000)
    idle(page)


def _log_out(page, url: str) -> None:
    page.get_by_role("button", name="Log out").click()
    end = page.get_by_role("button", name="End session")  # the provider's end-session form
    end.wait_for(timeout=30_000)
    end.click()
    page.get_by_role("heading", name="Sign in to Batch Studio").wait_for(timeout=60_000)
    idle(page)


def _history(page, url: str) -> str:
    page.get_by_role("link", name="History").click()
    page.get_by_role("heading", name="Batches").wait_for(timeout=60_000)
    idle(page)
    return page.locator("[data-testid=stMain]").inner_text()


def _cells(page) -> list[str]:
    """The text of every cell of the page's tables (the grid's accessible copy)."""
    return page.locator("[data-testid=stDataFrame] td").all_text_contents()


def test_sign_in_owns_workspaces_and_history(signed_app, page):
    """Alice signs in, generates and sees her batch in History; Bob, signed in after her,
    sees none of it, cannot open her link, and may dry-run but not spend."""
    url = signed_app
    page.goto(url)
    idle(page)
    assert page.get_by_role("button", name="Log in").is_visible()
    assert page.locator("textarea").count() == 0  # nothing of the studio before sign-in
    assert "?w=" not in page.url  # and no workspace made for an anonymous visitor
    shot(page, "sign-in-screen")

    _log_in(page, url, "alice@example.com")
    _batch(page)
    _generate(page)
    alice_link = page.url
    alice_ws = re.search(r"[?&]w=([^&]+)", alice_link).group(1)
    seen = _history(page, url)
    assert "No paid batch yet." not in seen
    assert "No workspace yet." not in seen
    assert "$0.012" in seen  # today's mock spend: her six images
    assert page.locator(f"a[href*='w={alice_ws}']").count() >= 1  # her workspace's card links it
    shot(page, "sign-in-alice-history")

    _log_out(page, url)
    _log_in(page, url, "bob@example.com")
    assert f"w={alice_ws}" not in page.url  # bob starts in a workspace of his own
    assert page.get_by_text("Signed in as alice@example.com").count() == 0
    assert page.get_by_text("not on SPEND_ALLOWLIST").is_visible()
    seen = _history(page, url)
    assert "No paid batch yet." in seen
    assert "$0.012" not in seen  # none of alice's spend
    assert page.locator(f"a[href*='{alice_ws}']").count() == 0
    assert not any(alice_ws in c for c in _cells(page))

    page.goto(alice_link)
    idle(page)
    page.get_by_text("That workspace belongs to another account").wait_for(timeout=30_000)
    assert f"w={alice_ws}" not in page.url
    assert page.locator("textarea[aria-label='Batch']").input_value() == ""  # none of hers

    _batch(page)
    page.get_by_role("button", name="Dry-Run Images").click()
    idle(page)
    page.get_by_text(re.compile(r"^Dry-run receipt")).wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Generate Images").is_disabled()
    assert page.get_by_text(re.compile(r"may look and dry-run, but not spend")).first.is_visible()
    shot(page, "sign-in-bob-refused")
