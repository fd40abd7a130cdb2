"""Image and video bytes for the page.

The browser may not reach where an image lives (mock mode's in-process emulator has no
port; the real server without a generation key returns placeholder URLs that never load),
so the page fetches bytes on the server side, through the client, and shows those — or a
plain note when they cannot be had.
"""

from __future__ import annotations

import streamlit as st

from batchcore.adapters.imagecheck import preview
from batchcore.domain.workflow import Reference
from batchcore.service_layer import services

from .runtime import Runtime
from .state import THUMBS_KEY


@st.cache_data(max_entries=500, show_spinner=False)
def _fetch(_rt: Runtime, url: str) -> bytes | None:
    return services.fetch_asset(_rt, url)


@st.cache_data(max_entries=200, show_spinner=False)
def _square(data: bytes) -> bytes:
    return preview(data, 96, square=True) or data


def reference_thumbnail(rt: Runtime, ref: Reference) -> bytes | None:
    """A square preview of a reference image (so chips of any shape line up), or None."""
    data = st.session_state.get(THUMBS_KEY, {}).get(ref.url) or _fetch(
        rt, ref.thumbnail_url or ref.url)
    return _square(data) if data else None


def image_bytes(rt: Runtime, *urls: str) -> bytes | None:
    """The first of ``urls`` that loads (thumbnail first, then the full image)."""
    for url in urls:
        if url:
            data = _fetch(rt, url)
            if data is not None:
                return data
    return None


def video_bytes(rt: Runtime, url: str) -> bytes | None:
    return _fetch(rt, url) if url else None
