"""What the app's picture route may serve, and how (pure).

A page shows a workspace's pictures (generated images and their thumbnails, references,
clips) through ``GET /api/pictures/<workspace id>/<object id>?t=<token>``:

* **object id**: a hash of the object's source address, which names one stored object for
  good (the orchestrator writes each generated file once). The route only serves ids it
  finds among the addresses the workspace's own state holds (:func:`workspace_objects`):
  nothing from the URL is ever used as a path or an address.
* **token**: ``tokens.sign`` over the object, the workspace and its owner, good for
  ``tokens.TOKEN_LIFETIME``; signed as of the hour, so a page's link to a picture stays the
  same between its reruns and the browser keeps using its copy.
* **validators**: a strong ``ETag`` from the bytes, ``Cache-Control: private, max-age=…,
  immutable``; ``Range`` (one range) for clips.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .gallery import download_name
from .workflow import WorkflowState

__all__ = ["ByteRange", "PictureObject", "byte_range", "etag_of", "matches_etag", "media_type",
           "object_id", "workspace_objects"]

_OBJECT_ID = re.compile(r"[0-9a-f]{32}")


def object_id(url: str) -> str:
    """The id a link uses for the object at ``url`` (32 hex digits)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def is_object_id(text: str) -> bool:
    return bool(_OBJECT_ID.fullmatch(text or ""))


@dataclass(frozen=True)
class PictureObject:
    """One object a workspace may show: its source address and the name a download gets
    (without the extension, which comes from the bytes)."""

    url: str
    name: str


def _stem(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:60] or "picture"


def workspace_objects(state: WorkflowState) -> dict[str, PictureObject]:
    """Every object the workspace's state holds, by object id."""
    found: dict[str, PictureObject] = {}

    def add(url: str, name: str) -> None:
        if url and isinstance(url, str):
            found.setdefault(object_id(url), PictureObject(url, name))

    for images in state.images.values():
        for image in images:
            stem = download_name(image, b"").rsplit(".", 1)[0]
            add(image.url, stem)
            add(image.thumbnail_url, f"{stem}_thumbnail")
    for n, ref in enumerate(state.references, start=1):
        stem = _stem(ref.name.rsplit(".", 1)[0]) if ref.name else f"reference_{n}"
        add(ref.url, stem)
        add(ref.thumbnail_url, f"{stem}_thumbnail")
    for clip in state.videos.values():
        add(clip.url, f"{_stem(clip.scene_id)}_clip")
    return found


def media_type(data: bytes) -> str:
    """The content type of a picture or clip, from its first bytes (never from its name)."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "video/webm"
    return "application/octet-stream"


def etag_of(data: bytes) -> str:
    """A strong validator for these bytes (quoted, as the header wants it)."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def matches_etag(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` names this entity (``*``, or one of a list, weak or strong)."""
    for part in (if_none_match or "").split(","):
        tag = part.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


@dataclass(frozen=True)
class ByteRange:
    """The bytes ``start`` to ``end`` inclusive of an entity of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str, size: int) -> ByteRange | None | str:
    """What a ``Range`` header asks of ``size`` bytes: a :class:`ByteRange`; ``None`` for the
    whole entity (no header, another unit, several ranges, or a form not understood: a
    server may always answer those with everything); ``"unsatisfiable"`` when the one range
    asked for lies past the end."""
    text = (header or "").strip().replace(" ", "")
    match = _RANGE.fullmatch(text) if len(text) < 64 else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return ByteRange(max(size - n, 0), size - 1, size)
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return ByteRange(start, end, size)
