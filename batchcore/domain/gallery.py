"""What the image cards, the viewer, the video step and the History gallery show (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from batchcore.domain.outcomes import plan_videos, video_choices
from batchcore.domain.pricing import VIDEO_PRICES, format_money
from batchcore.domain.rows import BatchRow, format_batch
from batchcore.domain.spend import counted_amount
from batchcore.domain.workflow import (
    GeneratedImage,
    WorkflowState,
    all_submissions,
    take_of,
)

__all__ = ["ApprovalView", "GalleryCard", "SceneShots", "Shot", "approval_view", "card_urls",
           "find_picture", "GalleryIntent", "picture_key", "read_intent", "download_name", "gallery_cards", "gallery_urls",
           "reroll_text", "scene_takes", "video_button_label", "video_step_text"]


def card_urls(image: GeneratedImage) -> tuple[str, ...]:
    """Where a card's picture comes from, best first: the full image (sharp at card size),
    the 128 px thumbnail only when the full image cannot be had."""
    return tuple(u for u in (image.url, image.thumbnail_url) if u)


def gallery_urls(state: WorkflowState) -> list[tuple[str, ...]]:
    """What the approval gallery asks for: every image's ``card_urls``, scene by scene."""
    return [card_urls(image) for images in state.images.values() for image in images]


def download_name(image: GeneratedImage, data: bytes) -> str:
    """``SCENE-001_v2.png`` (the extension from the bytes: PNG, JPEG or WebP)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in image.scene_id)[:50] or "image"
    ext = "png"
    if data[:3] == b"\xff\xd8\xff":
        ext = "jpg"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        ext = "webp"
    return f"{safe}_v{image.variant}.{ext}"


def scene_takes(images: Sequence[GeneratedImage]) -> list[tuple[GeneratedImage, ...]]:
    """A scene's images grouped by the batch that made them, newest take first (images of
    one batch keep their variant order)."""
    groups: dict[str, list[GeneratedImage]] = {}
    for image in images:
        groups.setdefault(take_of(image), []).append(image)
    return [tuple(g) for g in reversed(groups.values())]


def reroll_text(state: WorkflowState, scene_id: str) -> str:
    """The one-row batch that makes ``scene_id`` again: its prompt and variants as last sent
    (from the newest dry-run receipt holding it), else from its images; "" if unknown."""
    for receipt in sorted(state.receipts.values(), key=lambda r: r.created_at, reverse=True):
        for row in receipt.rows:
            if row.scene_id == scene_id:
                return format_batch([row])
    images = state.images.get(scene_id, ())
    if images and images[0].prompt:
        variants = min(max(len(images), 1), 3)
        return format_batch([BatchRow(scene_id=scene_id, prompt=images[0].prompt,
                                      variants=variants)])
    return ""


#: the button's "from" price
_CHEAPEST = min(VIDEO_PRICES, key=lambda m: VIDEO_PRICES[m])


def video_button_label(state: WorkflowState) -> str:
    """``Generate Video — 3 clips, from $0.30`` (the cheapest model's price, before the
    dialog where the model is chosen), counting only the clips that would be sent by
    default: an approved image that already has a clip is not counted again."""
    plan = plan_videos(state, _CHEAPEST)
    n, have = plan.clips, len(plan.left_out)
    if n == 0 and have:
        return "Generate Video — every approved scene has a clip"
    label = f"Generate Video — {n} clip{'s' if n != 1 else ''}, from {format_money(plan.cost)}"
    return label + (f" ({have} made already)" if have else "")


def video_step_text(state: WorkflowState) -> str:
    """The sentence under the Video heading: what the new clips would cost with each model,
    and which approved scenes are left out because their image has a clip."""
    choices = video_choices(state)
    n = sum(c.by_default for c in choices)
    text = f"{len(choices)} approved scene{'s' if len(choices) != 1 else ''}"
    if n:
        prices = ", ".join(f"{format_money(price * n)} with {model} ({format_money(price)}/clip)"
                           for model, price in sorted(VIDEO_PRICES.items(), key=lambda kv: kv[1]))
        text += (f": {n} new 8-second clip{'s' if n != 1 else ''} — {prices}. "
                 "You choose and confirm in the next step.")
    else:
        text += "."
    had = [c.scene_id for c in choices if not c.by_default]
    if had:
        text += (f" Left out because they have a clip: {', '.join(had)}. A made clip can be "
                 "made again in the next step, and is billed again.")
    return text


@dataclass(frozen=True)
class GalleryCard:
    """One workspace on the History page."""

    workspace_id: str
    name: str
    updated_at: datetime
    images: int
    approved: int
    batches: int
    spent: Decimal
    mock: bool
    #: up to four pictures: the approved ones first, then the first image of each scene
    pictures: tuple[GeneratedImage, ...]
    problem: str = ""

    @property
    def spent_text(self) -> str:
        money = format_money(self.spent)
        return f"{money} mock (emulator, not real money)" if self.mock else money


def _pictures(state: WorkflowState, limit: int = 4) -> tuple[GeneratedImage, ...]:
    picked = [a.image for a in state.approvals.values()]
    for images in state.images.values():
        if images and not any(p.scene_id == images[0].scene_id for p in picked):
            picked.append(images[0])
    return tuple(picked[:limit])


def gallery_cards(states: Mapping[str, WorkflowState], names: Mapping[str, str],
                  updated: Mapping[str, datetime]) -> list[GalleryCard]:
    """A card per workspace, most recently updated first."""
    cards = []
    for wid, state in states.items():
        subs = all_submissions(state)
        cards.append(GalleryCard(
            workspace_id=wid, name=names.get(wid, wid), updated_at=updated[wid],
            images=sum(len(v) for v in state.images.values()), approved=len(state.approvals),
            batches=len(subs), spent=sum((counted_amount(s) for s in subs), Decimal(0)),
            mock=bool(subs) and all(s.deployment == "mock" for s in subs),
            pictures=_pictures(state)))
    cards.sort(key=lambda c: c.updated_at, reverse=True)
    return cards


# --- the approval gallery (issue 19): what the component draws, and the intents it sends ----


def picture_key(image: GeneratedImage) -> str:
    """The id a picture has in the gallery's intents (a hash of its address)."""
    return hashlib.sha256((image.url or image.job_id).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Shot:
    """One picture of a scene as the gallery shows it."""

    key: str
    scene_id: str
    variant: int
    #: 1 for the scene's first take; the newest take has the highest number
    take: int
    approved: bool
    #: where it comes from, best first (``card_urls``)
    urls: tuple[str, ...]
    newest: bool = True

    @property
    def label(self) -> str:
        """The control's accessible name: ``Approve SCENE-001 #2`` (in an earlier take:
        ``Approve SCENE-001 #2, take 1``)."""
        name = f"Approve {self.scene_id} #{self.variant}"
        return name if self.newest else f"{name}, take {self.take}"


@dataclass(frozen=True)
class SceneShots:
    scene_id: str
    prompt: str
    #: newest take first
    takes: tuple[tuple[Shot, ...], ...]

    @property
    def approved(self) -> Shot | None:
        return next((s for take in self.takes for s in take if s.approved), None)


@dataclass(frozen=True)
class ApprovalView:
    scenes: tuple[SceneShots, ...]

    @property
    def approved(self) -> int:
        return sum(1 for s in self.scenes if s.approved is not None)

    @property
    def summary(self) -> str:
        """``2 of 3 scenes approved``."""
        n = len(self.scenes)
        return f"{self.approved} of {n} scene{'s' if n != 1 else ''} approved"


def approval_view(state: WorkflowState) -> ApprovalView:
    """Every scene's takes, newest first, with the approved picture marked wherever it is."""
    scenes = []
    for scene_id, images in state.images.items():
        approval = state.approvals.get(scene_id)
        takes = scene_takes(images)
        shots = tuple(
            tuple(Shot(key=picture_key(image), scene_id=scene_id, variant=image.variant,
                       take=len(takes) - n, approved=approval is not None
                       and approval.image == image, urls=card_urls(image), newest=n == 0)
                  for image in take)
            for n, take in enumerate(takes))
        prompt = takes[0][0].prompt if takes and takes[0] else ""
        scenes.append(SceneShots(scene_id, prompt, shots))
    return ApprovalView(tuple(scenes))


def find_picture(state: WorkflowState, scene_id: str, key: str) -> GeneratedImage | None:
    """The scene's picture with this gallery key (any take), or None."""
    return next((i for i in state.images.get(scene_id, ()) if picture_key(i) == key), None)


@dataclass(frozen=True)
class GalleryIntent:
    """What a person asked of the gallery: approve or withdraw a picture, re-roll a scene,
    or open the video step. ``n`` tells one ask from the next."""

    kind: str
    scene_id: str
    key: str
    n: str


_INTENTS = ("approve", "unapprove", "reroll", "video")


def read_intent(value: object) -> GalleryIntent | None:
    """The gallery's intent from the browser, or None for anything not of its exact shape
    (it comes from the page and is not trusted)."""
    if not isinstance(value, Mapping):
        return None
    kind, scene, key, n = (value.get(k) for k in ("kind", "scene", "key", "n"))
    if kind not in _INTENTS or not all(isinstance(v, str) for v in (scene, key, n)):
        return None
    assert isinstance(scene, str) and isinstance(key, str) and isinstance(n, str)
    if not n or len(n) > 64 or len(scene) > 200:
        return None
    if kind in ("approve", "unapprove") and not (
            len(key) == 32 and all(c in "0123456789abcdef" for c in key) and scene):
        return None
    if kind == "reroll" and not scene:
        return None
    return GalleryIntent(str(kind), scene, key, n)
