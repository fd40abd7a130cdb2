"""The approval gallery: one Custom Component v2 draws every scene's pictures, which are the
controls (``studio/components/gallery.js`` and ``gallery.css``: plain files, no build, no
Node). It sends only intents; the page hands them to the services, which decide and save,
and the gallery is drawn again from the stored state.

What it shows comes from ``batchcore.domain.gallery.approval_view``; the pictures' addresses
from ``services.pictures`` (the app's own signed picture links, or a real backend's https
links, which the browser keeps between reruns).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from batchcore.domain.gallery import GalleryIntent, SceneShots, approval_view, read_intent
from batchcore.domain.workflow import Gate
from batchcore.service_layer import services
from batchcore.service_layer.services import Picture, Workspace

from .runtime import Runtime

__all__ = ["GALLERY_KEY", "draw", "pending_intent"]

#: where the component keeps its state (its last intent) in ``st.session_state``
GALLERY_KEY = "gallery"
_SEEN_KEY = "_gallery_seen"

_HERE = Path(__file__).parent / "components"
_GALLERY = st.components.v2.component(
    "batch_studio_gallery", js=(_HERE / "gallery.js").read_text(encoding="utf-8"),
    css=(_HERE / "gallery.css").read_text(encoding="utf-8"))


def pending_intent() -> GalleryIntent | None:
    """The gallery's newest intent, once (None when there is none, it was handled, or it is
    not of the gallery's shape)."""
    value = st.session_state.get(GALLERY_KEY)
    raw = value.get("intent") if isinstance(value, Mapping) else None
    intent = read_intent(raw)
    if intent is None or intent.n == st.session_state.get(_SEEN_KEY):
        return None
    st.session_state[_SEEN_KEY] = intent.n
    return intent


def _address(picture: Picture, *, download: bool = False) -> str:
    if picture.kind == "link":
        return picture.url + ("&download=1" if download else "")
    return picture.url if picture.kind == "url" else ""


def _state_text(scene: SceneShots) -> str:
    pick = scene.approved
    if pick is None:
        return "Not approved yet"
    newest = scene.takes[0][0].take if scene.takes and scene.takes[0] else pick.take
    return f"✓ #{pick.variant} approved" + ("" if pick.take == newest else
                                             f" (take {pick.take})")


def gallery_data(rt: Runtime, ws: Workspace, video: Gate, video_label: str) -> dict[str, Any]:
    """What the component draws (JSON): scenes, takes newest first, picture addresses, the
    summary and the video button."""
    view = approval_view(ws.state)
    wanted = [shot.urls for scene in view.scenes for take in scene.takes for shot in take]
    link = services.Linking(ws.id, ws.state.owner) if ws.id else None
    pics = services.pictures(rt, wanted, link=link) if link is not None else {}
    missing = Picture("missing", text="shown once the workspace is saved")
    scenes = []
    for scene in view.scenes:
        takes = []
        for take in scene.takes:
            shots = []
            for shot in take:
                pic = pics.get(shot.urls, missing)
                shots.append({"key": shot.key, "variant": shot.variant, "take": shot.take,
                              "approved": shot.approved, "label": shot.label,
                              "src": _address(pic), "full": _address(pic),
                              "download": _address(pic, download=True),
                              "note": "" if _address(pic) else
                              f"#{shot.variant}: {pic.text or 'not available'}"})
            takes.append(shots)
        scenes.append({"id": scene.scene_id, "prompt": scene.prompt, "takes": takes,
                       "approved": scene.approved is not None, "state": _state_text(scene)})
    return {"scenes": scenes, "summary": view.summary,
            "video": {"label": video_label, "enabled": bool(video), "reason": video.reason}}


def draw(rt: Runtime, ws: Workspace, video: Gate, video_label: str) -> None:
    """The gallery, from the workspace's state."""
    _GALLERY(key=GALLERY_KEY, data=gallery_data(rt, ws, video, video_label),
             on_intent_change=lambda: None)
