"""The app's picture route (GET /api/pictures/…): signed links for a workspace's own objects,
validators, ranges, and every refusal, through Starlette's test client on the page's runtime
(mock mode: the emulator's pictures are what only the server can fetch)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from batchcore.domain import outcomes
from batchcore.domain.tokens import TOKEN_LIFETIME
from batchcore.domain.workflow import in_flight
from batchcore.service_layer import services
from tests.integration.test_server import _client, _generated, env  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("env")


def _settled(rt, ws):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = rt.store.load(ws.id)
        if not in_flight(now.state):
            return services.Workspace(ws.id, now.state, now.version, ws.owner)
        time.sleep(0.02)
    raise AssertionError("the paid work never settled")


def _link(rt, ws, url, **kw):
    return services.picture_link(rt, services.Linking(ws.id, ws.state.owner), url, **kw)


def _first_image(ws):
    return next(iter(ws.state.images.values()))[0]


def test_a_link_serves_the_workspaces_picture_with_validators():
    """200 with the emulator's bytes, its type from the bytes, a strong ETag, private immutable
    caching until the link expires, and headers that keep it from being sniffed or embedded."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        image = _first_image(ws)
        answer = client.get(_link(rt, ws, image.url))
        assert answer.status_code == 200, answer.text
        assert answer.content == services.download_asset(rt, image.url)
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["etag"].startswith('"') and len(answer.headers["etag"]) == 34
        cache = answer.headers["cache-control"]
        assert cache.startswith("private, max-age=") and cache.endswith(", immutable")
        assert 11 * 3600 <= int(cache.split("=")[1].split(",")[0]) <= TOKEN_LIFETIME
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cross-origin-resource-policy"] == "same-origin"


def test_the_same_picture_gets_the_same_link_on_every_rerun_within_the_hour():
    """Links are signed as of the hour: the browser's cached copy is used on every rerun."""
    from studio.runtime import runtime

    with _client():
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        url = _first_image(ws).url
        hour = 1_800_000_000 - 1_800_000_000 % 3600
        assert _link(rt, ws, url, now=hour + 5) == _link(rt, ws, url, now=hour + 3500)
        assert _link(rt, ws, url, now=hour + 5) != _link(rt, ws, url, now=hour + 3605)


def test_revalidation_with_the_etag_is_304_without_the_bytes():
    """If-None-Match with the picture's ETag (or *) answers 304 and an empty body."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        link = _link(rt, ws, _first_image(ws).url)
        etag = client.get(link).headers["etag"]
        for asked in (etag, f'W/{etag}', f'"other", {etag}', "*"):
            again = client.get(link, headers={"If-None-Match": asked})
            assert again.status_code == 304 and again.content == b"", asked
            assert again.headers["etag"] == etag
        assert client.get(link, headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_clip_is_served_in_ranges_as_a_video_player_asks():
    """Range: 206 with Content-Range for one range, the last N bytes, an open end; 416 past the
    end; a HEAD says the size and that ranges are accepted."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        for scene in list(ws.state.images):
            ws = services.approve_image(rt, ws, scene, 1).ws
        plan = outcomes.plan_videos(ws.state, "veo3_fast", "16:9", 720)
        ws = _settled(rt, services.confirm_videos(rt, ws, plan, str(plan.clips)).ws)
        clip = next(c for c in ws.state.videos.values() if c.url)
        whole = services.download_asset(rt, clip.url)
        link = _link(rt, ws, clip.url)
        head = client.head(link)
        assert head.status_code == 200 and head.headers["accept-ranges"] == "bytes"
        assert int(head.headers["content-length"]) == len(whole)
        part = client.get(link, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == whole[:100]
        assert part.headers["content-range"] == f"bytes 0-99/{len(whole)}"
        tail = client.get(link, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == whole[-10:]
        rest = client.get(link, headers={"Range": "bytes=50-"})
        assert rest.status_code == 206 and rest.content == whole[50:]
        past = client.get(link, headers={"Range": f"bytes={len(whole)}-"})
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(whole)}"


def test_download_names_the_file_from_the_scene_and_variant():
    """&download=1 adds an attachment disposition named like the viewer's download."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        image = _first_image(ws)
        answer = client.get(_link(rt, ws, image.url) + "&download=1")
        expected = f'attachment; filename="{image.scene_id}_v{image.variant}.png"'
        assert answer.headers["content-disposition"] == expected


def test_forged_altered_replayed_and_expired_links_are_refused_with_a_sentence():
    """403 for a made-up token, a changed signature or expiry, a link for one picture used
    for another or in another workspace, a link signed for another owner, an expired one."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        other = _settled(rt, _generated(rt))
        first, second = list(ws.state.images.values())[0][:2]
        link = _link(rt, ws, first.url)
        path, token = link.split("?t=")
        expires, mac = token.split(".")
        other_path = _link(rt, ws, second.url).split("?t=")[0]
        other_ws_path = path.replace(ws.id, other.id)
        refused = {
            "made up": f"{path}?t=9999999999.AAAA",
            "no token": path,
            "altered signature": f"{path}?t={expires}.{mac[:-2]}xx",
            "moved expiry": f"{path}?t={int(expires) + 3600}.{mac}",
            "another picture": f"{other_path}?t={token}",
            "another workspace": f"{other_ws_path}?t={token}",
            "another owner": services.picture_link(
                rt, services.Linking(ws.id, "mallory@example.com"), first.url),
        }
        for why, url in refused.items():
            answer = client.get(url)
            assert answer.status_code == 403, why
            assert answer.json()["error"].endswith("."), why
            assert answer.headers["cache-control"] == "no-store"
        stale = services.serve_picture(rt, ws.id, path.rsplit("/", 1)[1], token,
                                       now=time.time() + TOKEN_LIFETIME + 1)
        assert stale.status == 403 and "expired" in stale.text


def test_objects_the_workspace_does_not_hold_are_404_and_never_a_path():
    """A validly signed link to an address the workspace does not hold, a malformed object id,
    or a path-like workspace id: 404, and nothing is fetched."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        foreign = _link(rt, ws, "mock://elsewhere/secret.png")
        answer = client.get(foreign)
        assert answer.status_code == 404 and "no such picture" in answer.json()["error"]
        token = parse_qs(urlsplit(foreign).query)["t"][0]
        for path in (f"/api/pictures/{ws.id}/..%2F..%2Fetc%2Fpasswd?t={token}",
                     f"/api/pictures/{ws.id}/ZZZZ?t={token}",
                     f"/api/pictures/..%2F{ws.id}/{'0' * 32}?t={token}"):
            assert client.get(path).status_code in (403, 404), path


def test_another_sites_page_cannot_load_or_embed_a_picture():
    """A request another site's page makes (Sec-Fetch-Site or Origin of another host): 403."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        link = _link(rt, ws, _first_image(ws).url)
        assert client.get(link, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        assert client.get(link, headers={"Origin": "https://evil.example"}).status_code == 403
        assert client.get(link, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_the_page_gets_links_at_once_and_the_route_waits_for_the_fetch():
    """With a stored workspace the page is given route links without waiting (the fetch is
    started for the route); without one it gets the bytes as before."""
    from studio.runtime import runtime

    with _client() as client:
        rt = runtime()
        ws = _settled(rt, _generated(rt))
        wanted = [(i.url, i.thumbnail_url) for imgs in ws.state.images.values() for i in imgs]
        started = time.monotonic()
        shown = services.pictures(rt, wanted, wait=5.0,
                                  link=services.Linking(ws.id, ws.state.owner))
        assert time.monotonic() - started < 0.5
        assert {p.kind for p in shown.values()} == {"link"}
        for picture in shown.values():
            assert client.get(picture.url).status_code == 200
        assert {p.kind for p in services.pictures(rt, wanted, wait=5.0).values()} == {"data"}
