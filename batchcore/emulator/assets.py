"""The emulator's own "bucket": asset ids → how to make the bytes, rendered lazily and cached.

Asset URLs look like signed GCS read URLs but point at the emulator itself
(``<base>/assets/<id>.png?X-Goog-...``), need no key, and answer ``Range`` requests so
browsers can play the clips.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .images import dominant_colour, render_image, render_placeholder, thumbnail
from .messages import EmuRequest, EmuResponse
from .videos import render_video, video_format

__all__ = ["SIGNED_QUERY", "AssetStore"]

#: What a V4 signed URL's query looks like (the emulator ignores it).
SIGNED_QUERY = (
    "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=emulator&X-Goog-Date=20250101T000000Z"
    "&X-Goog-Expires=604800&X-Goog-SignedHeaders=host&X-Goog-Signature=emulated"
)
_NAME = re.compile(r"^([a-z0-9-]{1,80})(_thumb)?\.([a-z0-9]{2,5})$")


@dataclass(frozen=True)
class _Asset:
    mime: str
    make: Callable[[], bytes]
    thumb: bool = True


class AssetStore:
    """Registered assets and their rendered bytes (rendered once, on first request)."""

    def __init__(self, size: int = 512, thumb_size: int = 128) -> None:
        self._lock = threading.Lock()
        self._specs: dict[str, _Asset] = {}
        self._cache: dict[str, bytes] = {}
        self.size = size
        self.thumb_size = thumb_size

    # -- registration -------------------------------------------------------------------
    def add_image(self, scene_id: str, prompt: str, variant: int, refs: tuple[str, ...], tint_of: Callable[[tuple[str, ...]], tuple[int, int, int] | None]) -> str:
        """Register a generated picture; its id (and so its URL) depends only on the inputs."""
        asset_id, make = self._image(scene_id, prompt, variant, refs, tint_of)
        self._register(asset_id, _Asset("image/png", make))
        return asset_id

    def render_ahead(self, scene_id: str, prompt: str, variant: int, refs: tuple[str, ...], tint_of: Callable[[tuple[str, ...]], tuple[int, int, int] | None]) -> None:
        """Make a picture's bytes now, before it is registered (so not served yet): a live
        batch spends its emulated generation time doing this, as a real model makes the
        picture before the server answers, and the first request for it is then instant."""
        asset_id, make = self._image(scene_id, prompt, variant, refs, tint_of)
        with self._lock:
            if asset_id in self._cache:
                return
        data = make()
        with self._lock:
            self._cache.setdefault(asset_id, data)

    def rendered(self, asset_id: str) -> bool:
        """Whether the bytes of ``asset_id`` (the full picture) are made already."""
        with self._lock:
            return asset_id in self._cache

    def _image(self, scene_id: str, prompt: str, variant: int, refs: tuple[str, ...], tint_of: Callable[[tuple[str, ...]], tuple[int, int, int] | None]) -> tuple[str, Callable[[], bytes]]:
        asset_id = "img-" + _hash(scene_id, prompt, variant, *refs)
        size = self.size

        def make() -> bytes:
            return render_image(scene_id, prompt, variant, size=size, tint=tint_of(refs))

        return asset_id, make

    def add_upload(self, data: bytes, mime: str, token: str) -> str:
        asset_id = "ref-" + _hash(token, len(data), hashlib.sha256(data).hexdigest())
        self._register(asset_id, _Asset(mime, lambda: data))
        with self._lock:
            self._cache[asset_id] = data
        return asset_id

    def add_video(self, still: Callable[[], bytes | None], label: str, size: tuple[int, int], seconds: float, fps: int, token: str) -> str:
        asset_id = "vid-" + _hash(token)

        def make() -> bytes:
            picture = still() or render_placeholder(label, size)
            return render_video(picture, size=size, seconds=seconds, fps=fps)

        self._register(asset_id, _Asset(video_format()[1], make, thumb=False))
        return asset_id

    def _register(self, asset_id: str, asset: _Asset) -> None:
        with self._lock:
            self._specs.setdefault(asset_id, asset)

    # -- lookup ---------------------------------------------------------------------------
    def ext(self, asset_id: str) -> str:
        mime = self._specs[asset_id].mime
        if mime == "image/png":
            return "png"
        if mime.startswith("video/"):
            return video_format()[0]
        return {"image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(mime, "bin")

    def url(self, base_url: str, asset_id: str, *, thumb: bool = False) -> str:
        ext = "png" if thumb else self.ext(asset_id)
        return f"{base_url}/assets/{asset_id}{'_thumb' if thumb else ''}.{ext}?{SIGNED_QUERY}"

    def id_from_url(self, url: str, base_url: str) -> str | None:
        """The asset id of one of this emulator's own URLs (``None`` for any other URL)."""
        prefix = f"{base_url}/assets/"
        if not url.startswith(prefix):
            return None
        match = _NAME.match(url[len(prefix):].split("?", 1)[0])
        return match.group(1) if match and match.group(1) in self._specs else None

    def mime(self, asset_id: str) -> str:
        return self._specs[asset_id].mime

    def has_thumb(self, asset_id: str) -> bool:
        return self._specs[asset_id].thumb

    def bytes_of(self, asset_id: str, *, thumb: bool = False) -> bytes | None:
        key = asset_id + ("_thumb" if thumb else "")
        with self._lock:
            cached = self._cache.get(key)
            spec = self._specs.get(asset_id)
        if cached is not None:
            return cached
        if spec is None or (thumb and not spec.thumb):
            return None
        if thumb:
            main = self.bytes_of(asset_id)
            if main is None:
                return None
            try:
                data = thumbnail(main, self.thumb_size)
            except Exception:  # noqa: BLE001 - bytes that are no picture get no thumbnail
                return None
        else:
            data = spec.make()  # rendered outside the lock; a race only renders twice
        with self._lock:
            return self._cache.setdefault(key, data)

    def dominant(self, asset_id: str) -> tuple[int, int, int] | None:
        data = self.bytes_of(asset_id)
        return dominant_colour(data) if data else None

    # -- HTTP -------------------------------------------------------------------------------
    def serve(self, req: EmuRequest, name: str) -> EmuResponse:
        match = _NAME.match(name)
        asset_id = match.group(1) if match else ""
        thumb = bool(match and match.group(2))
        data = self.bytes_of(asset_id, thumb=thumb) if asset_id in self._specs else None
        if data is None:
            body = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>"
            return EmuResponse(404, [("content-type", "application/xml")], body)
        mime = "image/png" if thumb else self._specs[asset_id].mime
        headers = [
            ("content-type", mime),
            ("accept-ranges", "bytes"),
            ("cache-control", "private, max-age=604800"),
            ("etag", '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'),
        ]
        rng = _range(req.header("range"), len(data))
        if rng is not None:
            start, end = rng
            headers.append(("content-range", f"bytes {start}-{end}/{len(data)}"))
            return EmuResponse(206, headers, data[start : end + 1] if req.method != "HEAD" else b"")
        return EmuResponse(200, headers, data if req.method != "HEAD" else b"")


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range, clipped; else ``None``."""
    if not header or not header.startswith("bytes=") or "," in header or size == 0:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(0, size - n), size - 1) if n > 0 else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


