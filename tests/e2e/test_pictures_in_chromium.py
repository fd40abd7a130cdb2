"""The gallery's pictures come from the app's own picture route, in real Chromium: every
card loads through a signed link, a rerun loads none of them again, and the links refuse
what they must from the browser's side too."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.app.conftest import EXAMPLE
from tests.e2e.conftest import confirm_batch, idle

pytestmark = pytest.mark.e2e

def _cards(page) -> list[tuple[str, bool]]:
    """The gallery's pictures (newest takes): address and whether it has loaded."""
    return [tuple(x) for x in page.locator(".row button.shot img").evaluate_all(
        "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth > 0])")]


def _wait_loaded(page, n: int = 6) -> list[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cards = _cards(page)
        if len(cards) >= n and all(ok for _, ok in cards):
            return [src for src, _ in cards]
        page.wait_for_timeout(100)
    raise AssertionError(f"the gallery's pictures never loaded: {_cards(page)}")


def _generate(page) -> None:
    confirm_batch(page, EXAMPLE)
    page.get_by_role("button", name="Approve SCENE-003 #1").wait_for(timeout=60_000)
    idle(page)
    _wait_loaded(page)


def test_cards_load_through_signed_links_and_a_rerun_loads_none_again(mock_app, page):
    """All six cards are route links that load (200, image/png, immutable); approving a
    picture (a full rerun) and reloading the page's runs send no picture from the server."""
    served: list[tuple[str, int]] = []
    page.on("response", lambda r: served.append((r.url, r.status))
            if "/api/pictures/" in r.url and not r.request.is_navigation_request() else None)
    page.goto(mock_app)
    idle(page)
    _generate(page)
    sources = _wait_loaded(page)
    assert len(sources) == 6 and all("/api/pictures/" in s and "?t=" in s for s in sources)
    first = [s for s in served if s[1] == 200]
    assert len({u for u, _ in first}) == 6
    head = httpx.get(sources[0])
    assert head.headers["content-type"] == "image/png"
    assert head.headers["cache-control"].endswith("immutable")

    before = len([s for s in served if s[1] == 200])
    page.get_by_role("button", name="Approve SCENE-001 #1").click()
    idle(page)
    page.keyboard.press("r")  # Streamlit's own rerun
    idle(page)
    again = _wait_loaded(page)
    assert again == sources  # the same links on every rerun
    assert len([s for s in served if s[1] == 200]) == before, served


def test_a_link_is_refused_once_altered_or_from_another_site(mock_app, page):
    """The browser's own link works; altered, its signature is refused with a sentence; as an
    image on another site's page it is refused."""
    page.goto(mock_app)
    idle(page)
    _generate(page)
    src = _wait_loaded(page)[0]
    assert httpx.get(src).status_code == 200
    altered = httpx.get(src[:-3] + "abc")
    assert altered.status_code == 403 and altered.json()["error"].endswith(".")
    elsewhere = httpx.get(src, headers={"Sec-Fetch-Site": "cross-site",
                                        "Sec-Fetch-Dest": "image"})
    assert elsewhere.status_code == 403


def test_history_shows_every_workspaces_pictures_by_links_signed_for_it(mock_app, page):
    """History's cards show pictures of other workspaces than the open one: each loads."""
    page.goto(mock_app)
    idle(page)
    _generate(page)
    page.get_by_role("button", name="New workspace").first.click()
    idle(page)
    page.get_by_role("link", name="History").first.click()
    idle(page)
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('[data-testid=stMain] img')];"
        " return imgs.length >= 3 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        timeout=30_000)
    sources = page.evaluate("[...document.querySelectorAll('[data-testid=stMain] img')]"
                            ".map(i => i.src)")
    assert all("/api/pictures/" in s for s in sources)
