"""Live updates pushed to the page: a Custom Component v2 that follows the workspace's event
stream (``studio/server.py``, ``GET /api/events/<id>``) and reruns the fragment it sits in
only when the stored workspace changed. Its JavaScript is a plain file in the repo
(``studio/components/live.js``): no build step, no Node.

It replaces the timer that ticked twice a second while paid work was in flight and the
private Streamlit internals a worker used to wake a page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from batchcore.service_layer import services
from batchcore.service_layer.services import Workspace

from .runtime import Runtime

__all__ = ["SAFETY_TICK", "follow"]

#: the last resort while paid work is in flight and the stream is broken: a slow timer
SAFETY_TICK = 15.0

_JS = (Path(__file__).parent / "components" / "live.js").read_text(encoding="utf-8")
_LIVE = st.components.v2.component("batch_studio_live", js=_JS)


def follow(rt: Runtime, ws: Workspace) -> None:
    """Rerun the calling fragment when ``ws`` changes on the server (nothing for a workspace
    not stored yet: nothing can change it in the background)."""
    token = services.event_token(rt, ws)
    if not token:
        return
    _LIVE(key="batch_live", data={"url": f"/api/events/{ws.id}?t={token}",
                                  "seen": str(ws.version)},
          on_changed_change=lambda: None)
