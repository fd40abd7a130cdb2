"""A dismissed paid dialog stays dismissed, in real Chromium against a served emulator.

The app runs in live mode against ``python -m batchcore.emulator`` on loopback, so the
emulator's own ledger (``GET /_emulator/ledger``) is an independent witness of what was
billed. Each paid dialog ("Confirm paid image generation", "Generate video") is closed with
Escape, its ✕ and Cancel; clicks elsewhere, reruns, a finishing worker and a reload must not
bring it back, and nothing is billed until its Confirm button is clicked.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import httpx
import pytest
from playwright.sync_api import expect

from tests.app.conftest import EXAMPLE
from tests.conftest import fake_key
from tests.e2e.conftest import approved_count, idle, paste_batch, served_emulator, shot, start_app

pytestmark = pytest.mark.e2e

IMAGES_TITLE = "Confirm paid image generation"
VIDEO_TITLE = "Generate video"
SCENES = ("SCENE-001", "SCENE-002", "SCENE-003")


@pytest.fixture
def served(tmp_path):
    """A served emulator (plain http on loopback) and the app in live mode against it:
    (app URL, emulator base URL)."""
    key = fake_key("dialogs")
    with served_emulator(key, "--latency-ms", "100") as base:
        app, url = start_app(tmp_path, ORCHESTRATOR_URL=base, ORCHESTRATOR_API_KEY=key)
        try:
            yield url, base
        finally:
            app.stop()


def billed(base: str) -> Counter:
    """Units billed per kind ("images", "videos"), read from the emulator's own ledger."""
    charges = httpx.get(base + "/_emulator/ledger", timeout=10).json()["charges"]
    units: Counter = Counter()
    for charge in charges:
        units[charge["kind"]] += int(charge["count"])
    return units


def dialog(page):
    return page.get_by_role("dialog")


def open_dialog(page, button, title: str):
    """Click a paid step's button and wait for its dialog."""
    button.click()
    idle(page)
    box = dialog(page)
    box.wait_for(state="visible", timeout=30_000)
    assert box.count() == 1
    assert box.get_by_text(title, exact=True).is_visible()
    return box


def no_dialog(page, settle_ms: int = 0) -> None:
    """No dialog is on the page, now and (with ``settle_ms``) a moment later."""
    idle(page)
    if settle_ms:
        page.wait_for_timeout(settle_ms)
        idle(page)
    assert dialog(page).count() == 0, dialog(page).first.inner_text()


def close(page, box, how: str) -> None:
    """Close the open dialog with Escape, its ✕ or its Cancel button; it goes."""
    if how == "escape":
        page.keyboard.press("Escape")
    elif how == "x":
        box.get_by_role("button", name="Close").click()
    else:
        box.get_by_role("button", name="Cancel", exact=True).click()
    dialog(page).wait_for(state="detached", timeout=30_000)
    no_dialog(page)


def mode(page, which: str) -> None:
    page.locator("[data-testid=stRadio]").first.get_by_text(which, exact=True).click()
    idle(page)


def single_then_batch(page) -> None:
    """Click Single, then Batch (no dialog after either), and have the example parsed again."""
    mode(page, "Single")
    no_dialog(page)
    mode(page, "Batch")
    no_dialog(page)
    assert page.locator("textarea[aria-label='Batch']").input_value() == EXAMPLE


def click_elsewhere(page) -> None:
    """Single, then Batch, then Dry-Run Images (free): no dialog after any of them."""
    single_then_batch(page)
    page.get_by_role("button", name="Dry-Run Images").click()
    idle(page)
    page.get_by_text("Dry-run receipt: 3 rows, 6 images").wait_for(timeout=30_000)
    no_dialog(page, settle_ms=1000)


def reload(page) -> None:
    page.reload()
    idle(page)
    page.get_by_text("Live — real cost").first.wait_for(timeout=30_000)
    no_dialog(page, settle_ms=1000)


def parsed_and_priced(page) -> None:
    """Open the app, paste the brief's example, Parse, Dry-Run Images."""
    idle(page)
    assert page.get_by_text("Live — real cost").first.is_visible()
    paste_batch(page, EXAMPLE)
    page.get_by_role("button", name="Dry-Run Images").click()
    idle(page)
    page.get_by_text("Dry-run receipt: 3 rows, 6 images").wait_for(timeout=30_000)


def generate_button(page):
    return page.get_by_role("button", name="Generate Images", disabled=False)


def confirm_images_and_wait(page) -> bool:
    """Generate Images → Confirm; wait for the thumbnails, checking that no dialog comes
    back while the progress ticks. True if the progress was seen ticking."""
    box = open_dialog(page, generate_button(page), IMAGES_TITLE)
    box.get_by_role("button", name=re.compile(r"^Confirm — spend \$0\.012$")).click()
    dialog(page).wait_for(state="detached", timeout=30_000)
    approve = page.get_by_role("button", name="Approve SCENE-003 #1")
    ticking = False
    deadline = time.monotonic() + 90
    while not approve.is_visible():
        assert dialog(page).count() == 0, "a paid dialog came back while the images were made"
        ticking = ticking or page.get_by_text(re.compile(r"scenes done$")).count() > 0
        assert time.monotonic() < deadline, "the thumbnails never came"
        page.wait_for_timeout(200)
    no_dialog(page, settle_ms=3000)
    return ticking


def test_a_dismissed_image_confirmation_never_comes_back(served, page):
    """Escape, ✕, Cancel and a reload leave no image dialog and bill nothing; Confirm bills 6 images once."""
    url, base = served
    page.goto(url)
    parsed_and_priced(page)

    box = open_dialog(page, generate_button(page), IMAGES_TITLE)
    shot(page, "paid-dialogs-images-open")
    close(page, box, "escape")
    click_elsewhere(page)

    box = open_dialog(page, generate_button(page), IMAGES_TITLE)
    close(page, box, "x")
    click_elsewhere(page)

    box = open_dialog(page, generate_button(page), IMAGES_TITLE)
    close(page, box, "cancel")
    click_elsewhere(page)

    reload(page)
    assert billed(base)["images"] == 0
    shot(page, "paid-dialogs-images-dismissed-after-reload")

    ticking = confirm_images_and_wait(page)
    print("progress seen ticking:", ticking)
    assert billed(base) == Counter(images=6)
    shot(page, "paid-dialogs-images-made")


def test_a_dismissed_video_dialog_never_comes_back(served, page):
    """Escape, ✕, Cancel and a reload leave no video dialog and bill nothing; Confirm bills 3 clips once, then offers 0."""
    url, base = served
    page.goto(url)
    parsed_and_priced(page)
    confirm_images_and_wait(page)
    for scene in SCENES:
        page.get_by_role("button", name=f"Approve {scene} #1").click()
        idle(page)
    assert approved_count(page) == 3
    video_button = page.locator("[data-testid=stButton]").get_by_role(
        "button", name=re.compile(r"^Generate Video"))
    typed = page.locator("input[aria-label^='Type the number of clips']")

    box = open_dialog(page, video_button, VIDEO_TITLE)
    typed.fill("3")
    typed.press("Enter")
    idle(page)
    assert box.get_by_role("button", name="Confirm — spend $0.30").is_visible()
    shot(page, "paid-dialogs-video-open-typed")
    close(page, box, "escape")
    page.get_by_role("button", name="Approve SCENE-002 #2").click()  # another pick: still 3
    no_dialog(page, settle_ms=1000)

    box = open_dialog(page, video_button, VIDEO_TITLE)
    assert typed.input_value() == ""  # what was typed went with the dismissed dialog
    close(page, box, "x")
    single_then_batch(page)
    no_dialog(page, settle_ms=1000)

    box = open_dialog(page, video_button, VIDEO_TITLE)
    close(page, box, "cancel")
    no_dialog(page, settle_ms=1000)

    reload(page)
    assert billed(base) == Counter(images=6)

    box = open_dialog(page, video_button, VIDEO_TITLE)
    typed.fill("3")
    typed.press("Enter")
    idle(page)
    box.get_by_role("button", name="Confirm — spend $0.30").click()
    dialog(page).wait_for(state="detached", timeout=30_000)
    deadline = time.monotonic() + 120
    while page.locator("video").count() < 3:
        assert dialog(page).count() == 0, "a paid dialog came back while the clips were made"
        assert time.monotonic() < deadline, "the clips never came"
        page.wait_for_timeout(250)
    no_dialog(page, settle_ms=3000)
    assert page.locator("video").count() == 3
    assert billed(base) == Counter(images=6, videos=3)
    shot(page, "paid-dialogs-video-made")

    box = open_dialog(page, video_button, VIDEO_TITLE)
    # the grid is drawn on a canvas; its cells are also in an accessible table inside it
    cells = box.locator("[data-testid=stDataFrame] td[role=gridcell]")
    expect(cells.and_(page.locator("[aria-colindex='3']"))).to_have_text(
        ["clip made (veo3_fast)"] * 3, timeout=30_000)
    expect(cells.and_(page.locator("[aria-colindex='4']"))).to_have_text(["no"] * 3)
    assert box.get_by_text("Every approved scene already has a clip").is_visible()
    assert box.get_by_role("button", name=re.compile("^Confirm")).count() == 0
    shot(page, "paid-dialogs-video-all-made")
    close(page, box, "escape")

    page.set_viewport_size({"width": 390, "height": 844})
    idle(page)
    box = open_dialog(page, video_button, VIDEO_TITLE)
    shot(page, "paid-dialogs-video-all-made-phone")
    box.get_by_role("button", name="Close", exact=True).last.scroll_into_view_if_needed()
    shot(page, "paid-dialogs-video-all-made-phone-bottom")
    close(page, box, "escape")
    assert billed(base) == Counter(images=6, videos=3)
