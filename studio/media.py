"""Images and clips on the page, without ever blocking it.

A real backend's https signed URLs are handed to the browser (``st.image(url)``), which
loads them itself. What the browser cannot reach (mock mode's in-process emulator, the
orchestrator's own host) is given to it as a signed link to the app's own picture route
(``GET /api/pictures/…``, ``studio/server.py``): the page does not wait, the route waits
for the server-side fetch, and the browser keeps what it loaded (the link is the same on
every rerun). Only where no link can be made (a workspace not stored yet, a run with no
browser address such as AppTest's) are the bytes fetched off the script thread and briefly
awaited, with a placeholder and a small fragment that redraws the page when they are in.
The decisions are ``batchcore.adapters.assets.asset_source`` and ``services.pictures``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

import streamlit as st

from batchcore.adapters.imagecheck import preview
from batchcore.domain.plaintext import plain
from batchcore.domain.workflow import Reference
from batchcore.service_layer import services
from batchcore.service_layer.services import Picture

from .runtime import Runtime
from .state import THUMBS_KEY, ws

#: how long one page run waits, in all, for the images it shows (mock mode)
WAIT_S = 1.0


@st.cache_data(max_entries=200, show_spinner=False)
def _square(data: bytes) -> bytes:
    return preview(data, 96, square=True) or data


def _origin() -> str:
    """``scheme://host[:port]`` of the page in the browser ("" when there is no browser)."""
    try:
        parts = urlsplit(st.context.url or "")
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def can_link() -> bool:
    """Pictures can be given to this page as links to the app's picture route."""
    return bool(_origin())


def _linking(of: services.Linking | None = None) -> services.Linking | None:
    """How links to the picture route are signed (for ``of``, else the page's workspace):
    None when none can be given (the workspace is not stored, or the page has no address
    in a browser)."""
    if not _origin():
        return None
    if of is not None:
        return of if of.workspace_id else None
    workspace = ws()
    return services.Linking(workspace.id, workspace.state.owner) if workspace.id else None


def address(picture: Picture) -> str:
    """Where the browser loads ``picture`` from (a route link made absolute)."""
    return _origin() + picture.url if picture.kind == "link" else picture.url


def pictures(rt: Runtime, wanted: Sequence[Sequence[str]], *,
             of: services.Linking | None = None) -> dict[tuple[str, ...], Picture]:
    """What to show for each preference list of URLs (the one to show first), of the
    workspace ``of`` (else the page's own)."""
    return services.pictures(rt, wanted, wait=WAIT_S, link=_linking(of))


def draw(picture: Picture, *, width: int | Literal["stretch"], missing: str,
         square: bool = False, caption: str | None = None) -> None:
    """Draw one picture: the image, a placeholder while it loads, or why it is missing."""
    if picture.kind in ("url", "link"):
        st.image(address(picture), width=width, caption=caption)
    elif picture.kind == "data" and picture.data is not None:
        st.image(_square(picture.data) if square else picture.data, width=width,
                 caption=caption, output_format="PNG")
    elif picture.kind == "loading":
        st.caption("Loading the image…")
    else:
        st.caption(plain(f"{missing} {picture.text}".strip()))


def key_of(urls: Sequence[str]) -> tuple[str, ...]:
    """The key ``pictures`` uses for a preference list of URLs."""
    return tuple(u for u in urls if u)


def redraw_when_loaded(rt: Runtime, wanted: Sequence[Sequence[str]],
                       shown: dict[tuple[str, ...], Picture]) -> None:
    """While a picture ``shown`` as loading is still being fetched for the page (not a
    link: the route waits for those), check every second; redraw when done."""
    if not any(p.kind == "loading" for p in shown.values()) or services.pictures_settled(
            rt, wanted):
        return

    @st.fragment(run_every=1.0)
    def _waiting() -> None:
        if services.pictures_settled(rt, wanted):
            st.rerun(scope="app")

    _waiting()


def reference_chip(rt: Runtime, ref: Reference) -> None:
    """A square preview of a reference image (made when it was uploaded, or fetched)."""
    data = st.session_state.get(THUMBS_KEY, {}).get(ref.url)
    if data:
        st.image(_square(data), width=72)
        return
    wanted = [(ref.thumbnail_url, ref.url)]
    draw(pictures(rt, wanted)[tuple(u for u in wanted[0] if u)], width=72, missing="",
         square=True)


def video(rt: Runtime, url: str) -> None:
    """A clip: the browser plays a real backend's URL; mock clips are fetched off-thread."""
    picture = pictures(rt, [(url,)])[(url,)]
    if picture.kind in ("url", "link"):
        st.video(address(picture))
    elif picture.kind == "data" and picture.data is not None:
        st.video(picture.data)
    elif picture.kind == "loading":
        st.caption("Loading the clip…")
        redraw_when_loaded(rt, [(url,)], {(url,): picture})
    else:
        st.caption(plain(f"The clip could not be loaded. {picture.text}".strip()))


def release_uploads(file_ids: Sequence[str]) -> None:
    """Let Streamlit drop the bytes of these uploaded files (they have been sent).

    Streamlit keeps every file a ``file_uploader`` received in memory until the browser
    deletes it or the session ends; its own ``chat_input`` and ``audio_input`` remove theirs
    once read, the same way. Large freed buffers then go back to the system
    (``batchcore.adapters.heap``)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    remove = getattr(getattr(ctx, "uploaded_file_mgr", None), "remove_file", None)
    if ctx is None or remove is None:
        return
    for file_id in file_ids:
        remove(session_id=ctx.session_id, file_id=file_id)
