"""Pictures and clips for the page, and the app's picture route.

* :func:`pictures` — what the page shows for each image: a real backend's https signed URL
  (the browser loads it itself), a **link** to the app's own picture route (what only the
  server can fetch: mock mode's in-process emulator, the orchestrator's own host), the bytes
  (when no link can be made: a workspace not stored yet, or a page with no address, such as
  AppTest), a placeholder while those bytes load, or why it is missing.
* :func:`serve_picture` — everything ``GET /api/pictures/<workspace>/<object>?t=<token>``
  decides (``studio/server.py`` only turns the answer into a response): the token, the
  object among the workspace's own, the fetch, validators and ranges. The rules are pure,
  in ``batchcore.domain.picture_links``.

The page never waits for a linked picture: the browser asks the route, which waits for the
server-side fetch (started as soon as the results were saved) and answers with bytes the
browser then keeps (``immutable``, same link on every rerun).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from batchcore.adapters.assets import AssetLoader, AssetView, asset_source
from batchcore.adapters.store import is_valid_workspace_id
from batchcore.bootstrap import Runtime
from batchcore.domain import tokens
from batchcore.domain.gallery import gallery_urls
from batchcore.domain.picture_links import (
    ByteRange,
    PictureObject,
    byte_range,
    etag_of,
    is_object_id,
    matches_etag,
    media_type,
    object_id,
    workspace_objects,
)
from batchcore.domain.workflow import WorkflowState
from batchcore.errors import StoreError

__all__ = ["ASSET_TIMEOUT_S", "Picture", "PictureReply", "picture_link", "pictures",
           "pictures_settled", "prefetch", "serve_picture"]


@dataclass(frozen=True)
class Picture:
    """How the page shows one image or clip: ``url`` (the browser loads it: a real
    backend's signed URL, or ``link``, a path on the app's own picture route), ``data``
    (fetched here), ``loading`` (a placeholder; it is being fetched), or ``missing``
    (``text`` says why)."""

    kind: Literal["url", "link", "data", "loading", "missing"]
    url: str = ""
    data: bytes | None = None
    text: str = ""


#: one short try per server-side fetch; a failed one is tried again later, not now
ASSET_TIMEOUT_S = 5.0


def _loader(rt: Runtime) -> AssetLoader:
    with rt.lock:
        if rt.asset_loader is None:
            client = rt.client
            rt.asset_loader = AssetLoader(
                lambda url: client.fetch_asset(url, attempts=1, timeout=ASSET_TIMEOUT_S))
        loader: AssetLoader = rt.asset_loader
        return loader


def _source(rt: Runtime, url: str) -> str:
    return asset_source(url, mock=rt.settings.use_mock, backend_url=rt.client.base_url)


@dataclass(frozen=True)
class Linking:
    """Links to the picture route may be given for this stored workspace (its id and the
    owner its state names)."""

    workspace_id: str
    owner: str = ""


def picture_link(rt: Runtime, link: Linking, url: str, now: float | None = None) -> str:
    """The route's path for ``url`` in this workspace, signed (as of the hour, so it is the
    same on every rerun; good for 11 to 12 hours)."""
    moment = time.time() if now is None else now
    oid = object_id(url)
    token = tokens.sign(rt.signing_key, "picture", link.workspace_id, oid, link.owner,
                        now=moment - moment % 3600)
    return f"/api/pictures/{link.workspace_id}/{oid}?t={token}"


def pictures(rt: Runtime, wanted: Sequence[Sequence[str]], wait: float = 0.0,
             link: Linking | None = None) -> dict[tuple[str, ...], Picture]:
    """For each preference list of URLs (the one to show first), what to show.

    A real backend's https URLs go to the browser as they are. What the browser cannot load
    (mock mode, the orchestrator's own host) is fetched off the page's thread, all at once;
    with ``link`` the page gets a link to the picture route at once (never waiting),
    without it the bytes, waiting at most ``wait`` seconds in all. Anything else is
    ``missing`` with the reason.
    """
    keys = [tuple(u for u in urls if u) for urls in wanted]
    served = [k[0] for k in keys if k and _source(rt, k[0]) == "server"]
    if link is not None:
        _loader(rt).request(served)  # the route finds them loaded, or loading
        return {key: _linked(rt, key, link) for key in keys}
    views = _loader(rt).views(served, wait)
    return {key: _picture(rt, key, views) for key in keys}


def _linked(rt: Runtime, key: tuple[str, ...], link: Linking) -> Picture:
    for url in key:
        source = _source(rt, url)
        if source == "browser":
            return Picture("url", url=url)
        if source == "server":
            return Picture("link", url=picture_link(rt, link, url))
    return Picture("missing", text="its address cannot be shown here" if key
                   else "there is no address for it")


def _picture(rt: Runtime, key: tuple[str, ...], views: dict[str, AssetView]) -> Picture:
    reason = "there is no address for it"
    for url in key:
        source = _source(rt, url)
        if source == "browser":
            return Picture("url", url=url)
        if source == "none":
            reason = "its address cannot be shown here"
            continue
        view = views.get(url) or _loader(rt).view(url)
        if view.state == "ready":
            return Picture("data", url=url, data=view.data)
        if view.state == "loading":
            return Picture("loading", url=url)
        reason = (f"{view.reason} It is tried again in {view.retry_in:.0f} s."
                  if view.retry_in else view.reason)
    return Picture("missing", text=reason)


def prefetch(rt: Runtime, state: WorkflowState) -> None:
    """Start fetching what the gallery will ask for (each image's first URL, as
    ``pictures``), so the page that is woken, or the picture route, finds it ready."""
    firsts = [urls[0] for urls in gallery_urls(state) if urls]
    _loader(rt).request(u for u in firsts if _source(rt, u) == "server")


def pictures_settled(rt: Runtime, wanted: Sequence[Sequence[str]]) -> bool:
    """No server-side fetch of these pictures is still running (the page can redraw)."""
    firsts = [urls[0] for urls in wanted if urls and urls[0]]
    return _loader(rt).settled(u for u in firsts if _source(rt, u) == "server")


# --- the picture route ---------------------------------------------------------------------


@dataclass(frozen=True)
class PictureReply:
    """What the route answers: a status, headers, and the body (bytes, or a sentence for a
    refusal)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""


#: how long the route waits for a server-side fetch before saying it is still loading
ROUTE_WAIT_S = ASSET_TIMEOUT_S + 1.0
#: workspaces whose objects are kept by stored version (the route is asked once per picture)
_KEPT_WORKSPACES = 64
_SAFE = {"X-Content-Type-Options": "nosniff",
         "Cross-Origin-Resource-Policy": "same-origin",
         "Content-Security-Policy": "default-src 'none'; sandbox"}


def _refused(status: int, text: str) -> PictureReply:
    return PictureReply(status, headers={"Cache-Control": "no-store", **_SAFE}, text=text)


def _objects(rt: Runtime, workspace_id: str) -> tuple[str, dict[str, PictureObject]] | None:
    """The workspace's owner and objects, kept per stored version (None: no such workspace)."""
    if rt.store is None:
        return None
    version = rt.store.version(workspace_id)
    if version is None:
        return None
    with rt.lock:
        kept = rt.views.setdefault("picture_objects", (None, OrderedDict()))[1]
        hit = kept.get(workspace_id)
        if hit is not None and hit[0] == version:
            kept.move_to_end(workspace_id)
            return hit[1], hit[2]
    loaded = rt.store.load(workspace_id)
    if loaded.problem:
        return None
    owner, objects = loaded.state.owner, workspace_objects(loaded.state)
    with rt.lock:
        kept[workspace_id] = (loaded.version, owner, objects)
        kept.move_to_end(workspace_id)
        while len(kept) > _KEPT_WORKSPACES:
            kept.popitem(last=False)
    return owner, objects


def serve_picture(rt: Runtime, workspace_id: str, oid: str, token: str, *,
                  if_none_match: str = "", range_header: str = "", download: bool = False,
                  wait: float = 0.0, now: float | None = None) -> PictureReply:
    """The route's answer for one request (blocking: the server runs it off its loop).

    403 for a token not signed for exactly this object, workspace and owner, or expired
    (one sentence, the same whether or not the object exists); 404 when the workspace does
    not hold the object; 502/504 when it cannot be fetched now; 304 when the browser has it;
    206 for one byte range of it; else 200 with the bytes. A fetch in progress is awaited
    at most ``wait`` seconds, then answered 504 (the route asks again until its deadline).
    """
    moment = time.time() if now is None else now
    if not is_valid_workspace_id(workspace_id) or not is_object_id(oid):
        return _refused(404, "There is no such picture.")
    try:
        found = _objects(rt, workspace_id)
    except StoreError:
        return _refused(503, "The workspace cannot be read right now; try again in a moment.")
    owner, objects = found if found is not None else ("", {})
    why = tokens.check(rt.signing_key, token, "picture", workspace_id, oid, owner, now=moment)
    if why:
        return _refused(403, why)
    obj = objects.get(oid)
    if obj is None or _source(rt, obj.url) != "server":
        return _refused(404, "There is no such picture in this workspace.")
    view = _loader(rt).view(obj.url, wait=wait)
    if view.state == "loading":
        return _refused(504, "The picture is still being fetched; try again in a moment.")
    if view.state == "failed" or not view.data:
        return _refused(502, f"The picture could not be fetched: {view.reason}"[:300])
    data = view.data
    expires = int(token.partition(".")[0])
    headers = {"ETag": etag_of(data), "Accept-Ranges": "bytes",
               "Cache-Control": f"private, max-age={max(0, int(expires - moment))}, immutable",
               **_SAFE}
    if matches_etag(if_none_match, headers["ETag"]):
        return PictureReply(304, headers=headers)
    kind = media_type(data)
    headers["Content-Type"] = kind
    if download:
        ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp",
               "image/gif": "gif", "video/mp4": "mp4", "video/webm": "webm"}.get(kind, "bin")
        name = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_"
                       for c in obj.name)
        headers["Content-Disposition"] = f'attachment; filename="{name}.{ext}"'
    part = byte_range(range_header, len(data))
    if part == "unsatisfiable":
        return PictureReply(416, headers={**headers, "Content-Range": f"bytes */{len(data)}"})
    if isinstance(part, ByteRange):
        return PictureReply(206, data[part.start:part.end + 1],
                            {**headers, "Content-Range": part.content_range})
    return PictureReply(200, data, headers)
