"""Live updates are pushed, in real Chromium: results arrive with no timer ticking, the event
stream refuses what it must, and a broken stream recovers by itself.

The page's only timer while paid work is in flight is the 15 s safety tick
(``studio.live.SAFETY_TICK``), so results that arrive well within it came by the push.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from studio.live import SAFETY_TICK
from tests.app.conftest import EXAMPLE
from tests.e2e.conftest import confirm_batch, idle, paste_batch, start_app

pytestmark = pytest.mark.e2e

#: results must arrive well within the safety tick to prove the push
PUSHED_WITHIN = SAFETY_TICK - 5


@pytest.fixture
def slow_app(tmp_path):
    """The app in mock mode, each emulated image taking 300 ms."""
    server, url = start_app(tmp_path, MOCK_LATENCY_MS="300")
    yield url
    server.stop()


def _confirm(page) -> float:
    """Parse, dry-run, Generate, Confirm; returns when Confirm was clicked."""
    confirm_batch(page, EXAMPLE)
    return time.monotonic()


def test_results_arrive_by_push_without_a_tick(slow_app, page):
    """Confirm → every thumbnail on screen well within the safety tick, through the stream."""
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/api/events/" in r.url else None)
    page.goto(slow_app)
    idle(page)
    clicked = _confirm(page)
    page.get_by_role("button", name="Approve SCENE-003 #1").wait_for(timeout=60_000)
    assert time.monotonic() - clicked < PUSHED_WITHIN
    assert streams, "the page never opened its event stream"
    idle(page)
    assert page.get_by_text("completed").first.is_visible()


def test_a_broken_stream_reconnects_and_still_delivers(slow_app, page):
    """The first event-stream connections fail; the page reconnects and results still arrive."""
    refused = {"n": 0}

    def flaky(route):
        if refused["n"] < 2:
            refused["n"] += 1
            route.abort()
        else:
            route.continue_()

    page.route("**/api/events/**", flaky)
    page.goto(slow_app)
    idle(page)
    clicked = _confirm(page)
    page.get_by_role("button", name="Approve SCENE-003 #1").wait_for(timeout=60_000)
    assert refused["n"] == 2
    assert time.monotonic() - clicked < PUSHED_WITHIN


def test_the_stream_refuses_a_forged_token_and_another_origin(slow_app, page):
    """A forged token or another site's page gets 403 with a sentence; no content leaks."""
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/api/events/" in r.url else None)
    page.goto(slow_app)
    idle(page)
    paste_batch(page, EXAMPLE)  # stores the workspace: the page now follows its stream
    page.wait_for_timeout(500)
    assert streams
    url = streams[-1]
    with httpx.stream("GET", url, timeout=10) as good:
        assert good.status_code == 200
        assert good.headers["content-type"].startswith("text/event-stream")
        first = next(good.iter_lines())
        assert first.startswith("retry:")
    forged = re.sub(r"t=(\d+)\.[^&]+", r"t=\1.AAAA", url)
    answer = httpx.get(forged, timeout=10)
    assert answer.status_code == 403 and "signature" in answer.json()["error"]
    foreign = httpx.get(url, headers={"Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403
    assert "SCENE-001" not in answer.text + foreign.text


def test_one_page_holds_one_stream_across_reruns_and_reloads(slow_app, page):
    """Reruns reuse the page's stream (a browser allows six connections per host: a stream
    per rerun once made a reload hang); a reload replaces it."""

    def streams() -> float:
        text = httpx.get(slow_app + "/metrics", timeout=10).text
        return float(re.search(r"^batchstudio_event_streams (\S+)$", text, re.M).group(1))

    page.goto(slow_app)
    idle(page)
    paste_batch(page, EXAMPLE)
    for _ in range(7):
        page.get_by_role("button", name="Dry-Run Images").click()
        idle(page)
    page.wait_for_timeout(500)
    assert streams() == 1
    page.reload(timeout=30_000)
    idle(page)
    page.wait_for_timeout(1000)
    assert streams() == 1
