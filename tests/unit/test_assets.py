"""Images without blocking the page: who loads each URL, and the off-thread loader."""

from __future__ import annotations

import threading
import time

import pytest

from batchcore.adapters.assets import AssetLoader, asset_source

BACKEND = "https://orchestrator-582559442661.us-central1.run.app"
SIGNED = "https://storage.googleapis.com/b/img.png?X-Goog-Signature=ab%20cd"


@pytest.mark.parametrize("url, source", [
    (SIGNED, "browser"),
    ("https://placeholder.com/512", "browser"),
    (BACKEND + "/assets/thumb.png", "server"),  # the orchestrator's own host may want the key
    ("/assets/thumb.png", "server"),
    ("http://storage.example/img.png", "none"),
    ("javascript:alert(1)", "none"),
    ("data:image/png;base64,AAAA", "none"),
    ("https://[::1/x", "none"),
    ("https://x.example/a b.png", "none"),
    ("https://x.example/a\u200b.png", "none"),
    ("", "none"),
    ("assets/relative-without-slash.png", "none"),
])
def test_a_real_backend_hands_https_urls_to_the_browser(url, source):
    """With a real backend: https elsewhere → browser; the orchestrator's own host → server; the rest → none."""
    assert asset_source(url, mock=False, backend_url=BACKEND) == source


@pytest.mark.parametrize("url", [SIGNED, "https://emulator.local/assets/x.png", "/assets/x.png",
                                 "http://127.0.0.1:8787/assets/x.png"])
def test_mock_mode_fetches_everything_on_the_server(url):
    """In mock mode the browser cannot reach the in-process emulator: every URL is fetched here."""
    assert asset_source(url, mock=True, backend_url="https://emulator.local") == "server"


def test_mock_mode_still_refuses_unreadable_addresses():
    """Even in mock mode a URL with spaces or nothing at all is not fetched."""
    for url in ("", "  ", "https://x/a b"):
        assert asset_source(url, mock=True, backend_url="https://emulator.local") == "none"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_views_fetch_in_parallel_and_wait_at_most_the_budget():
    """Ten slow fetches run side by side: views() returns within its wait, showing what is ready."""
    started = threading.Barrier(4, timeout=5)
    release = threading.Event()

    def fetch(url: str) -> bytes:
        if url.startswith("slow"):
            started.wait()
            release.wait(5)
        return url.encode()

    loader = AssetLoader(fetch, workers=4)
    t0 = time.monotonic()
    views = loader.views(["fast"] + [f"slow{i}" for i in range(4)], wait=0.3)
    assert time.monotonic() - t0 < 2.0
    assert views["fast"].state == "ready" and views["fast"].data == b"fast"
    assert all(views[f"slow{i}"].state == "loading" for i in range(4))
    assert not loader.settled([f"slow{i}" for i in range(4)])
    release.set()
    assert loader.view("slow0", wait=5).data == b"slow0"
    loader.close()


def test_a_failed_fetch_is_tried_again_later_not_cached_forever():
    """A failure is kept with its reason for a while (15 s, then 30 s …), then fetched again."""
    clock = Clock()
    answers = iter([OSError("connection reset"), OSError("still down"), b"png"])

    def fetch(url: str) -> bytes:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    loader = AssetLoader(fetch, clock=clock)
    first = loader.view("u", wait=5)
    assert first.state == "failed" and first.reason == "connection reset"
    assert first.retry_in == 15.0
    clock.now += 10
    assert loader.view("u", wait=1).reason == "connection reset"  # not retried yet
    clock.now += 6
    second = loader.view("u", wait=5)
    assert second.state == "failed" and second.reason == "still down" and second.retry_in == 30.0
    clock.now += 31
    assert loader.view("u", wait=5).data == b"png"
    loader.close()


def test_an_empty_answer_is_a_failure():
    """A fetch that returns no bytes is a failure with a reason, not an empty image."""
    loader = AssetLoader(lambda url: b"")
    view = loader.view("u", wait=5)
    assert view.state == "failed" and view.reason == "it is empty"
    loader.close()


def test_the_cache_is_bounded_by_entries_and_bytes():
    """Beyond max_entries or max_bytes the least recently used results are dropped and fetched again when asked."""
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return b"x" * 100

    loader = AssetLoader(fetch, max_entries=3, max_bytes=250)
    for url in ("a", "b", "c"):
        assert loader.view(url, wait=5).state == "ready"
    assert loader.view("a", wait=5).state == "ready"  # at most 2 kept by bytes: "a" again
    assert calls.count("a") == 2
    loader.close()
