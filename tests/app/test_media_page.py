"""Thumbnails never block the page: fetched off the script thread, placeholders, retried later."""

from __future__ import annotations

import threading
import time

from batchcore.adapters.assets import AssetLoader
from studio.runtime import latest_runtime
from tests.app.conftest import confirm_generate, dry_run, enter_batch
from tests.app.hostile_page import visible


def _loader(fetch, clock=time.monotonic) -> AssetLoader:
    """Give the page's runtime a loader with this fetch (and clock)."""
    rt = latest_runtime()
    assert rt is not None
    rt.asset_loader = AssetLoader(fetch, workers=2, clock=clock)
    return rt.asset_loader


def test_an_image_host_that_hangs_does_not_hold_the_page(app):
    """With every image fetch hanging, a page run still ends within about a second, with placeholders; the images appear once they load."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    rt = latest_runtime()
    assert rt is not None
    real = rt.client.fetch_asset
    release = threading.Event()

    def hanging(url: str) -> bytes:
        release.wait(20)
        return real(url)

    _loader(hanging)
    started = time.monotonic()
    app.run()
    assert time.monotonic() - started < 5
    assert visible(app).count("Loading the image…") == 6
    assert not app.exception
    release.set()
    for _ in range(100):
        app.run()
        if "Loading the image…" not in visible(app):
            break
        time.sleep(0.05)
    assert "Loading the image…" not in visible(app)
    assert len(app.get("image")) >= 6


def test_a_failed_image_says_so_and_is_fetched_again_later(app):
    """A thumbnail that cannot be fetched says why and when it is tried again; it is not cached as failed forever."""
    enter_batch(app, "S1 | a quiet harbour | 1")
    dry_run(app)
    confirm_generate(app)
    rt = latest_runtime()
    assert rt is not None
    real = rt.client.fetch_asset
    down = {"on": True}

    def flaky(url: str) -> bytes:
        if down["on"]:
            raise OSError("the image host is unreachable")
        return real(url)

    later = [0.0]
    _loader(flaky, clock=lambda: time.monotonic() + later[0])
    app.run()
    for _ in range(50):
        app.run()
        if "could not be loaded" in visible(app):
            break
        time.sleep(0.05)
    shown = visible(app)
    assert "#1: the image could not be loaded. the image host is unreachable" in shown
    assert "It is tried again in" in shown
    down["on"] = False
    later[0] += 16  # the first wait (15 s) is over
    for _ in range(50):
        app.run()
        if "could not be loaded" not in visible(app) and "Loading" not in visible(app):
            break
        time.sleep(0.05)
    assert "could not be loaded" not in visible(app)
