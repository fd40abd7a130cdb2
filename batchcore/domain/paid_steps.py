"""Which paid confirmation may be on screen: only the one the person just asked for.

A paid dialog ("Confirm paid image generation", "Generate video") opens on a click of its
button, which makes an :class:`Ask`. The ask is the only thing that keeps the dialog open
across the page's reruns, and it ends for good when the dialog closes in any way — Confirm,
Cancel, Esc, ✕ or a click outside it — and as soon as it no longer stands (:func:`standing`):
the batch changed, the work was sent, the gate closed. A rerun, a fragment tick, a worker's
wake-up or a reload therefore never opens a paid dialog by itself, and an ask that lapsed is
never revived when the page comes back to the same batch. Pure: the page keeps the ask in
its session and draws what this says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Ask", "PaidStep", "ask_images", "ask_videos", "standing"]

PaidStep = Literal["images", "videos"]


@dataclass(frozen=True)
class Ask:
    """A click on a paid step's button: which step, and for images the batch hash the
    person saw priced (the dialog confirms exactly that batch or nothing)."""

    step: PaidStep
    batch_hash: str = ""


def ask_images(batch_hash: str) -> Ask:
    return Ask("images", batch_hash)


def ask_videos() -> Ask:
    return Ask("videos")


def standing(ask: Ask | None, *, allowed: bool, batch_hash: str = "") -> Ask | None:
    """The ask if its dialog may stay open now, else None (and the page forgets it).

    ``allowed`` is the step's gate as it is now: Generate Images (a receipt for this batch,
    nothing in flight, under the cap) or Generate Video (nothing in flight, the backend makes
    videos). Images also need the batch hash the person saw priced: any edit ends the ask,
    and undoing the edit does not revive it."""
    if ask is None or not allowed:
        return None
    if ask.step == "images" and ask.batch_hash != batch_hash:
        return None
    return ask
