"""The approval gallery in real Chromium, at 1400 px and 390 px: the pictures are the
controls (a checkmark over the pick, the others dimmed), a second click withdraws, keys act on
the scene on screen, the viewer, earlier takes, and hostile prompts stay text."""

from __future__ import annotations


import pytest

from tests.e2e.conftest import approved_count, confirm_batch, idle, shot

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=window.__pwned=1> **bold** [l](javascript:alert(1))"
BATCH = ("SCENE-001 | Modern kitchen with morning light | 2\n"
         f"SCENE-002 | {HOSTILE} | 3\n"
         "SCENE-003 | Home office with plants | 1\n")
SIZES = {"desktop": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=sorted(SIZES))
def screen(browser, request):
    context = browser.new_context(viewport=SIZES[request.param],
                                  has_touch=request.param == "phone")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.size_name = request.param
    yield page
    context.close()


def _generate(page, text: str = BATCH) -> None:
    confirm_batch(page, text)
    page.get_by_role("button", name="Approve SCENE-003 #1").wait_for(timeout=60_000)
    idle(page)


def _summary(page) -> str:
    return page.locator(".gallery .summary").inner_text()


def test_click_a_picture_to_approve_and_again_to_withdraw(mock_app, screen):
    """Click (or tap) a picture: a checkmark over it at once, its scene's others dimmed, and
    after the rerun the pick is stored; a second click withdraws it. Prompts stay text."""
    page = screen
    page.goto(mock_app)
    idle(page)
    _generate(page)
    assert _summary(page) == "0 of 3 scenes approved"
    pick = page.get_by_role("button", name="Approve SCENE-002 #2", exact=True)
    pick.scroll_into_view_if_needed()
    painted = pick.evaluate("""b => new Promise(done => {
        const t0 = performance.now();
        b.click();
        requestAnimationFrame(() => done({
            ms: performance.now() - t0,
            check: getComputedStyle(b.querySelector('.check')).display,
            pressed: b.getAttribute('aria-pressed')}));
    })""")
    assert painted["pressed"] == "true" and painted["check"] == "block"
    assert painted["ms"] < 100, painted
    idle(page)
    pick = page.get_by_role("button", name="Approve SCENE-002 #2", exact=True)
    assert pick.get_attribute("aria-pressed") == "true"
    other = page.get_by_role("button", name="Approve SCENE-002 #1", exact=True)
    assert float(other.locator("img").evaluate("i => getComputedStyle(i).opacity")) < 0.6
    assert _summary(page) == "1 of 3 scenes approved"
    assert page.evaluate("window.__pwned") is None
    assert HOSTILE in page.locator("section.scene[aria-label='SCENE-002'] .prompt").inner_text()
    if page.size_name == "phone":  # a scene's variants side by side, swiped, not one per screen
        boxes = [page.get_by_role("button", name=f"Approve SCENE-002 #{n}", exact=True)
                 .bounding_box() for n in (1, 2)]
        assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[0]["width"] < 200
        assert not page.locator(".gallery .hint").first.is_visible()  # no key hints on touch
    shot(page, f"gallery-approved-{page.size_name}")
    if page.size_name == "phone":
        pick.tap()  # a finger withdraws it as a click does
    else:
        pick.click()
    idle(page)
    assert page.get_by_role("button", name="Approve SCENE-002 #2", exact=True) \
        .get_attribute("aria-pressed") == "false"
    assert _summary(page) == "0 of 3 scenes approved"
    assert "unapproved" in page.locator("[data-testid=stCode]").last.inner_text()


def test_keys_act_on_the_scene_on_screen_and_the_viewer(mock_app, page):
    """J moves to the next scene (scrolled into view, ringed), 1–3 approve there, V opens the
    viewer of that scene at natural size, its keys approve, Esc closes it."""
    page.goto(mock_app)
    idle(page)
    _generate(page)
    page.get_by_role("button", name="Approve SCENE-001 #1", exact=True).focus()
    page.keyboard.press("j")
    assert page.locator("section.scene.focused").get_attribute("aria-label") == "SCENE-002"
    page.keyboard.press("3")
    idle(page)
    assert page.get_by_role("button", name="Approve SCENE-002 #3", exact=True) \
        .get_attribute("aria-pressed") == "true"
    page.keyboard.press("v")
    viewer = page.locator(".viewer[role=dialog]")
    assert viewer.get_attribute("aria-label") == "Full size: SCENE-002"
    assert viewer.locator("figure").count() == 3
    viewer.locator("img").last.wait_for()
    page.wait_for_timeout(300)
    sizes = viewer.locator("img").evaluate_all(
        "imgs => imgs.map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
    assert all(natural == 512 and 0 < shown <= 1024 for natural, shown in sizes), sizes
    shot(page, "gallery-viewer-desktop")
    page.keyboard.press("1")
    idle(page)
    assert page.get_by_role("button", name="Approve SCENE-002 #1", exact=True) \
        .get_attribute("aria-pressed") == "true"
    assert page.locator(".viewer[role=dialog]").is_visible()  # still open after the rerun
    page.keyboard.press("Escape")
    assert not page.locator(".viewer[role=dialog]").is_visible()
    assert approved_count(page) == 1


def test_earlier_takes_stay_marked_and_can_be_approved(mock_app, page):
    """A scene made again shows the new take first and the earlier one as a strip in the same
    card; the pick stays marked in the strip, and a picture there can be approved."""
    page.goto(mock_app)
    idle(page)
    _generate(page)
    page.get_by_role("button", name="Approve SCENE-003 #1", exact=True).click()
    idle(page)
    page.locator("section.scene[aria-label='SCENE-003']").get_by_role(
        "button", name="Re-roll").click()
    idle(page)
    assert page.locator("textarea[aria-label='Batch']").input_value() == \
        "SCENE-003 | Home office with plants | 1"
    confirm_batch(page)
    page.get_by_role("button", name="Approve SCENE-003 #1, take 1").wait_for(timeout=60_000)
    idle(page)
    earlier = page.get_by_role("button", name="Approve SCENE-003 #1, take 1")
    assert earlier.get_attribute("aria-pressed") == "true"
    newest = page.get_by_role("button", name="Approve SCENE-003 #1", exact=True)
    assert newest.get_attribute("aria-pressed") == "false"
    newest.click()
    idle(page)
    assert page.get_by_role("button", name="Approve SCENE-003 #1, take 1") \
        .get_attribute("aria-pressed") == "false"
    page.get_by_role("button", name="Approve SCENE-003 #1, take 1").click()
    idle(page)
    assert page.get_by_role("button", name="Approve SCENE-003 #1, take 1") \
        .get_attribute("aria-pressed") == "true"
    assert "(take 1)" in page.locator("section.scene[aria-label='SCENE-003'] .state").inner_text()
    shot(page, "gallery-takes-desktop")
