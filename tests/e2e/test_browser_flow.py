"""The brief's flow in real headless Chromium against the served app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app.conftest import EXAMPLE
from tests.conftest import fake_key
from tests.e2e.conftest import approved_count, Server, free_port, idle, paste_batch, shot, start_app

pytestmark = pytest.mark.e2e


def _batch(page, text: str = EXAMPLE) -> None:
    paste_batch(page, text)


def _generate(page) -> None:
    page.get_by_role("button", name="Dry-Run Images").click()
    idle(page)
    try:
        page.get_by_role("button", name="Generate Images").click(timeout=20_000)
    except Exception:
        shot(page, "generate-disabled")
        print("CAPTIONS", page.locator("[data-testid=stCaptionContainer]").all_inner_texts())
        print("ALERTS", page.locator("[data-testid=stAlert]").all_inner_texts())
        raise
    idle(page)
    page.get_by_role("button", name=re.compile(r"^Confirm — spend \$0\.012$")).click()
    page.get_by_role("button", name="Approve SCENE-003 #1").wait_for(timeout=60_000)
    idle(page)


def test_brief_example_from_paste_to_video(mock_app, page):
    """Paste, parse, dry-run, confirm, approve and make videos: every step visible and working."""
    page.goto(mock_app)
    idle(page)
    assert page.get_by_text("Mock mode — no real cost").is_visible()
    _batch(page)
    assert page.get_by_role("button", name="Generate Images").is_disabled()
    _generate(page)
    page.get_by_role("button", name="Approve SCENE-002 #3").click()
    idle(page)
    page.get_by_role("button", name="Approve SCENE-001 #1").click()
    idle(page)
    assert approved_count(page) == 2
    page.locator("[data-testid=stButton]").get_by_role("button", name=re.compile("^Generate Video")).click()
    idle(page)
    confirm = page.get_by_role("button", name=re.compile("^Confirm — spend"))
    confirm.click()  # enabled, so no click is lost: without the count it only says why
    idle(page)
    assert page.get_by_text("Type the exact number of clips (2) to confirm").is_visible()
    assert page.locator("video").count() == 0
    typed = page.locator("input[aria-label^='Type the number of clips']")
    typed.fill("2")
    typed.press("Enter")
    idle(page)
    assert confirm.is_enabled()
    confirm.click()
    page.locator("video").first.wait_for(timeout=60_000)
    idle(page)
    assert page.locator("video").count() == 2
    log = page.locator("[data-testid=stCode]").last.inner_text()
    assert "SCENE-002" in log and "completed" in log
    shot(page, "brief-example-done")


def test_refresh_restores_the_workspace(mock_app, page):
    """Reloading the page's address brings back rows, images, approvals and the log."""
    page.goto(mock_app)
    idle(page)
    _batch(page)
    _generate(page)
    page.get_by_role("button", name="Approve SCENE-002 #2").click()
    idle(page)
    address = page.url
    assert "?w=" in address
    page.goto(address)
    idle(page)
    assert approved_count(page) == 1
    assert page.locator("textarea[aria-label='Batch']").input_value().startswith("SCENE-001 |")
    assert page.get_by_role("button", name="Approve SCENE-003 #1").is_visible()


def test_dry_run_clicked_while_parse_still_runs_keeps_the_parse(mock_app, page):
    """Parse then Dry-Run at once on a cold server: the parse is kept and the dry-run is made."""
    page.goto(mock_app)
    idle(page)
    box = page.locator("textarea[aria-label='Batch']")
    box.fill(EXAMPLE)
    box.press("Control+Enter")
    idle(page)
    page.get_by_role("button", name="Parse").click()
    page.get_by_role("button", name="Dry-Run Images").click()  # cuts the Parse run short
    idle(page)
    page.get_by_text("Dry-run receipt:").wait_for(timeout=20_000)
    assert page.get_by_text("Parsed rows").count() == 1
    assert page.get_by_role("button", name="Generate Images").is_enabled()


def test_exports_are_built_when_clicked(mock_app, page):
    """The manifest and status-log downloads (built only on click) arrive whole in the browser."""
    page.goto(mock_app)
    idle(page)
    _batch(page)
    _generate(page)
    for button in ("Approve SCENE-001 #2", "Approve SCENE-003 #1"):
        page.get_by_role("button", name=button).click()
        idle(page)
    page.get_by_text("Export and import").click()
    idle(page)
    got = {}
    for label in ("Manifest (CSV)", "Manifest (JSON)", "Status log (text)"):
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name=label).click()
        got[label] = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert [line.split(",")[0] for line in got["Manifest (CSV)"].splitlines()[1:]] == [
        "SCENE-001", "SCENE-003"]  # one line per approved scene
    assert '"scene_id": "SCENE-003"' in got["Manifest (JSON)"]
    assert "SCENE-001" in got["Status log (text)"] and "completed" in got["Status log (text)"]


def test_live_mode_never_shows_the_key(tmp_path, page):
    """Against a served emulator with a key, the key appears nowhere in the page."""
    import sys

    key = fake_key("k")
    port = free_port()
    emulator = Server([sys.executable, "-m", "batchcore.emulator", "--port", str(port)],
                      {"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1"},
                      f"http://127.0.0.1:{port}/healthz")
    app, url = start_app(tmp_path, ORCHESTRATOR_API_KEY=key,
                         ORCHESTRATOR_URL=f"http://127.0.0.1:{port}")
    try:
        page.goto(url)
        idle(page)
        assert page.get_by_text("Live — real cost").is_visible()
        _batch(page)
        _generate(page)
        html = page.content()
        assert key not in html
        assert key[4:20] not in html
        shot(page, "live-mode-served-emulator")
    finally:
        app.stop()
        emulator.stop()
