"""Issue 12 in real Chromium, at desktop and 390 px phone width: the workspace follows
navigation and Back/Forward, no first click is lost, the full-size viewer, keyboard approval
and a re-roll with its own dry-run."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.app.conftest import EXAMPLE
from tests.e2e.conftest import approved_count, idle as _script_idle
from tests.e2e.conftest import shot, start_app

pytestmark = pytest.mark.e2e

def idle(page) -> None:
    """Give the click's rerun a moment to start, then wait until the script is idle."""
    page.wait_for_timeout(700)
    _script_idle(page)


SIZES = {"desktop": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server, url = start_app(tmp_path_factory.mktemp("studio"))
    yield url
    server.stop()


@pytest.fixture(params=list(SIZES))
def screen(request, browser):
    context = browser.new_context(viewport=SIZES[request.param])
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.size_name = request.param  # type: ignore[attr-defined]
    yield pg
    context.close()


def _sidebar(page) -> None:
    """On a phone the sidebar starts folded away: open it."""
    expand = page.locator("[data-testid=stExpandSidebarButton]")
    if expand.count() and expand.is_visible():
        expand.click()
        page.wait_for_timeout(400)


def _link(page, name: str) -> None:
    _sidebar(page)
    page.locator("[data-testid=stSidebar]").get_by_role("link", name=name, exact=True).click()
    idle(page)


def _back(page) -> None:
    page.go_back()
    idle(page)


def _forward(page) -> None:
    page.go_forward()
    idle(page)


def _settled(page, check, tries: int = 20) -> bool:
    """True once ``check()`` holds (the page may still be drawing its last run)."""
    for _ in range(tries):
        if check():
            return True
        page.wait_for_timeout(250)
    return check()


def _w(page) -> str:
    match = re.search(r"[?&]w=([^&]+)", page.url)
    return match.group(1) if match else ""


def _batch(page, text: str = EXAMPLE) -> None:
    page.locator("textarea[aria-label='Batch']").fill(text)
    page.get_by_role("button", name="Parse").click()  # one click, straight after typing
    idle(page)


def _generate(page, cost: str = "0.012", last: str = "Approve SCENE-003 #1") -> None:
    page.get_by_role("button", name="Dry-Run Images").click()
    idle(page)
    page.get_by_role("button", name="Generate Images").click()
    idle(page)
    page.get_by_role("button", name=re.compile(rf"^Confirm — spend \${re.escape(cost)}$")).click()
    page.get_by_role("button", name=last).wait_for(timeout=60_000)
    idle(page)


def test_the_workspace_follows_pages_and_back_forward(served, screen):
    """Studio → History → Studio keeps ?w= and the text; Back/Forward land on the right one."""
    page = screen
    page.goto(served)
    idle(page)
    assert _w(page) == ""
    _batch(page)
    wid = _w(page)
    assert wid
    _link(page, "History")
    assert "/history" in page.url and _w(page) == wid
    _link(page, "Studio")
    assert _w(page) == wid
    assert page.locator("textarea[aria-label='Batch']").input_value().startswith("SCENE-001 |")
    _back(page)
    assert "/history" in page.url
    _back(page)
    assert _w(page) == wid and "/history" not in page.url
    assert page.locator("textarea[aria-label='Batch']").input_value().startswith("SCENE-001 |")
    _sidebar(page)
    page.get_by_role("button", name="New workspace").click()
    idle(page)
    assert _w(page) == ""
    assert page.locator("textarea[aria-label='Batch']").input_value() == ""
    _back(page)
    assert _w(page) == wid
    assert page.locator("textarea[aria-label='Batch']").input_value().startswith("SCENE-001 |")
    _forward(page)
    assert _w(page) == "" and page.locator("textarea[aria-label='Batch']").input_value() == ""
    shot(page, f"studio-nav-{page.size_name}")


def test_typing_then_one_click_is_never_lost(served, screen):
    """Type a prompt and click Dry-Run Images once: the receipt comes; the same for Confirm."""
    page = screen
    page.goto(served)
    idle(page)
    page.get_by_text("Single", exact=True).click()
    idle(page)
    page.locator("textarea[aria-label='Prompt']").fill("A quiet harbour at dawn")
    page.get_by_role("button", name="Dry-Run Images").click()  # the only click
    idle(page)
    page.get_by_text("Dry-run receipt: 1 row, 1 image, $0.002").wait_for(timeout=15_000)
    page.get_by_role("button", name="Generate Images").click()
    idle(page)
    page.get_by_role("button", name=re.compile(r"^Confirm — spend \$0\.002$")).click()
    approve = page.get_by_role("button", name=re.compile(r"^Approve SCENE-001 #1"))
    approve.wait_for(timeout=60_000)
    idle(page)
    approve.click()
    idle(page)
    page.locator("[data-testid=stButton]").get_by_role(
        "button", name=re.compile("^Generate Video — 1 clip, from")).click()
    idle(page)
    page.locator("input[aria-label^='Type the number of clips']").fill("1")
    page.get_by_role("button", name=re.compile("^Confirm — spend")).click()  # the only click
    page.locator("video").first.wait_for(timeout=60_000)
    idle(page)
    assert page.locator("video").count() == 1
    shot(page, f"studio-first-click-{page.size_name}")


def test_viewer_keyboard_approval_and_reroll(served, screen):
    """Sharp cards, J/2 approves, V opens the full-size viewer with downloads, and a re-roll
    of one scene needs its own dry-run and confirmation while other approvals stay."""
    page = screen
    page.goto(served)
    idle(page)
    _batch(page)
    _generate(page)
    cards = page.locator("button.shot img")
    cards.last.wait_for()
    page.wait_for_timeout(500)
    widths = cards.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 6 and min(widths) > 128
    page.get_by_role("button", name=re.compile(r"^Approve SCENE-001 #1")).click()
    idle(page)
    page.mouse.click(200, 5)
    page.keyboard.press("j")
    idle(page)
    page.keyboard.press("2")
    idle(page)
    assert approved_count(page) == 2
    page.keyboard.press("v")
    idle(page)
    dialog = page.locator("[role=dialog]")
    downloads = dialog.get_by_role("link", name=re.compile("Download"))
    assert downloads.count() == 3  # links to the picture route, each naming its file
    named = httpx.get(downloads.first.evaluate("a => a.href")).headers["content-disposition"]
    assert named == 'attachment; filename="SCENE-002_v1.png"'
    page.wait_for_timeout(500)
    full = dialog.locator("img").evaluate_all("imgs => imgs.map(i => [i.naturalWidth, "
                                              "i.getBoundingClientRect().width])")
    assert [w for w, _ in full] == [512, 512, 512]
    assert all(0 < shown <= 2 * 512 for _, shown in full)  # never upscaled past 2×
    shot(page, f"studio-viewer-{page.size_name}")
    page.keyboard.press("Escape")
    idle(page)
    page.get_by_role("button", name="Re-roll").nth(2).click()
    idle(page)
    assert page.locator("textarea[aria-label='Batch']").input_value() == \
        "SCENE-003 | Home office with plants | 1"
    assert page.get_by_role("button", name="Generate Images").is_disabled()
    page.get_by_role("button", name="Dry-Run Images").click()
    idle(page)
    page.get_by_text("Dry-run receipt: 1 row, 1 image, $0.002").wait_for(timeout=15_000)
    page.get_by_role("button", name="Generate Images").click()
    idle(page)
    page.get_by_role("button", name=re.compile(r"^Confirm — spend \$0\.002$")).click()
    page.get_by_text("Images ready: 1 generated.").wait_for(timeout=60_000)  # the toast
    page.wait_for_timeout(1500)
    idle(page)
    assert _settled(page, lambda: approved_count(page) == 2)  # both stay
    assert page.get_by_role("button", name=re.compile(r"^Approve SCENE-002 #2")).count() == 1
    shot(page, f"studio-reroll-{page.size_name}")
