"""Pictures never block the page: the gallery gets links at once, the picture route waits for
the fetch off the page, says why one failed, and fetches it again later."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

from batchcore.adapters.assets import AssetLoader
from batchcore.service_layer import services
from studio.runtime import latest_runtime
from tests.app.conftest import confirm_generate, dry_run, enter_batch, pictures


def _loader(fetch, clock=time.monotonic) -> AssetLoader:
    """Give the page's runtime a loader with this fetch (and clock)."""
    rt = latest_runtime()
    assert rt is not None
    rt.asset_loader = AssetLoader(fetch, workers=2, clock=clock)
    return rt.asset_loader


def _ask_route(rt, src: str) -> services.PictureReply:
    """What the picture route answers for one of the gallery's addresses."""
    parts = urlsplit(src)
    _, _, _, workspace, oid = parts.path.split("/")
    return services.serve_picture(rt, workspace, oid, parse_qs(parts.query)["t"][0])


def test_an_image_host_that_hangs_does_not_hold_the_page(app):
    """With every image fetch hanging, a page run still ends at once with the gallery's six
    links; the route says 'still being fetched' meanwhile and serves them once they load."""
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
    assert not app.exception
    sources = [p.src for p in pictures(app)]
    assert len(sources) == 6 and all(s.startswith("/api/pictures/") for s in sources)
    waiting = _ask_route(rt, sources[0])
    assert waiting.status == 504 and "still being fetched" in waiting.text
    release.set()
    for _ in range(100):
        if all(_ask_route(rt, s).status == 200 for s in sources):
            break
        time.sleep(0.05)
    assert all(_ask_route(rt, s).status == 200 for s in sources)


def test_a_failed_image_says_so_and_is_fetched_again_later(app):
    """A picture that cannot be fetched: the route says why (502); it is not cached as failed
    forever, and after the wait it is fetched and served."""
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
    src = pictures(app)[0].src
    for _ in range(50):
        reply = _ask_route(rt, src)
        if reply.status != 504:
            break
        time.sleep(0.05)
    assert reply.status == 502 and "the image host is unreachable" in reply.text
    down["on"] = False
    later[0] += 16  # the first wait (15 s) is over
    for _ in range(50):
        reply = _ask_route(rt, src)
        if reply.status == 200:
            break
        time.sleep(0.05)
    assert reply.status == 200 and reply.body[:4] == b"\x89PNG"
