"""Request validation exactly as the server's zod schemas decide (``packages/shared``).

A transcription of ``ImageBatchRequestSchema`` and ``VideoBatchRequestSchema``, written here
and not borrowed from the product's own rules (``batchcore.rows``), so the emulator can catch
the product sending what the server would refuse. Each checker returns the parsed request, or
``None`` when it does not match: the server then answers one generic 400 and never says which
row is wrong.

zod semantics kept: lengths are JavaScript ``.length`` (UTF-16 code units: an astral character
counts 2, a lone surrogate 1); ``z.number().int()`` takes 2.0 but not ``true``; ``.optional()``
means *absent*, so an explicit ``null`` is refused; ``.strict()`` objects refuse unknown keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

__all__ = ["ImageBatch", "ImageItem", "VideoBatch", "VideoItem", "parse_image_batch", "parse_video_batch"]

_REF_MODES = ("style_only", "style_and_composition")
_IMAGE_ITEM_KEYS = {"scene_id", "prompt", "variants", "ref_pack_id", "ref_pack_public_urls", "reference_mode"}
_REF_KEYS = {"url", "mode", "hash"}


@dataclass(frozen=True)
class ImageItem:
    scene_id: str
    prompt: str
    variants: int
    refs: tuple[str, ...] = ()
    reference_mode: str = "style_only"
    ref_pack_id: str | None = None


@dataclass(frozen=True)
class ImageBatch:
    items: tuple[ImageItem, ...]
    run_mode: str


@dataclass(frozen=True)
class VideoItem:
    scene_id: str
    prompt: str
    approved_image_url: str
    veo_model: str
    aspect: str
    resolution: int
    duration_s: int
    fps: int


@dataclass(frozen=True)
class VideoBatch:
    items: tuple[VideoItem, ...]
    run_mode: str
    confirm_count: int


def _is_int(value: Any) -> TypeGuard[int | float]:
    """zod ``z.number().int()``: a JSON number with no fractional part (not a bool)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _str_len(value: Any, low: int, high: int) -> bool:
    # zod counts UTF-16 code units; astral characters count twice, a lone surrogate once.
    if not isinstance(value, str):
        return False
    n = len(value.encode("utf-16-le", "surrogatepass")) // 2
    return low <= n <= high


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


def _run_mode(body: dict[str, Any]) -> str | None:
    mode = body.get("runMode", "dry_run")
    return mode if mode in ("dry_run", "live") else None


def parse_image_batch(body: Any, own_base_url: str = "") -> ImageBatch | None:
    """``ImageBatchRequestSchema`` (strict). Reference URLs must be ``https://``; the one
    leniency: with ``own_base_url`` given (the emulator served over plain http on loopback),
    its own asset URLs under that base are accepted too. ``EmulatorConfig(strict=True)``
    passes no base, so then only https is accepted, exactly like the server."""
    if not isinstance(body, dict) or set(body) - {"items", "runMode"}:
        return None
    run_mode = _run_mode(body)
    items = body.get("items")
    if run_mode is None or not isinstance(items, list) or not 1 <= len(items) <= 10:
        return None
    parsed: list[ImageItem] = []
    for item in items:
        if not isinstance(item, dict) or set(item) - _IMAGE_ITEM_KEYS:
            return None
        if not _str_len(item.get("scene_id"), 1, 50) or not _str_len(item.get("prompt"), 1, 1000):
            return None
        variants = item.get("variants")
        if not _is_int(variants) or not 1 <= variants <= 3:
            return None
        if "ref_pack_id" in item and not isinstance(item["ref_pack_id"], str):
            return None
        mode = item.get("reference_mode", "style_only")
        if mode not in _REF_MODES:
            return None
        refs: list[str] = []
        if "ref_pack_public_urls" in item:
            raw_refs = item["ref_pack_public_urls"]
            if not isinstance(raw_refs, list) or len(raw_refs) > 6:
                return None
            for ref in raw_refs:
                if not isinstance(ref, dict) or set(ref) - _REF_KEYS or "url" not in ref:
                    return None
                url = ref["url"]
                own = bool(own_base_url) and isinstance(url, str) and url.startswith(own_base_url + "/")
                if not _is_url(url) or not (url.startswith("https://") or own):
                    return None
                if ref.get("mode", "style_only") not in _REF_MODES:
                    return None
                if "hash" in ref and not isinstance(ref["hash"], str):
                    return None
                refs.append(url)
        parsed.append(
            ImageItem(
                scene_id=item["scene_id"],
                prompt=item["prompt"],
                variants=int(variants),
                refs=tuple(refs),
                reference_mode=mode,
                ref_pack_id=item.get("ref_pack_id"),
            )
        )
    return ImageBatch(tuple(parsed), run_mode)


def parse_video_batch(body: Any) -> VideoBatch | None:
    """``VideoBatchRequestSchema`` (not strict: unknown members are ignored)."""
    if not isinstance(body, dict):
        return None
    run_mode = _run_mode(body)
    items = body.get("items")
    confirm = body.get("confirmCount")
    if run_mode is None or not isinstance(items, list) or not 1 <= len(items) <= 50:
        return None
    if not _is_int(confirm) or confirm < 1:
        return None
    parsed: list[VideoItem] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        if not _str_len(item.get("scene_id"), 1, 50) or not _str_len(item.get("prompt"), 1, 1000):
            return None
        if not _is_url(item.get("approved_image_url")):
            return None
        if item.get("veo_model") not in ("veo3", "veo3_fast"):
            return None
        if item.get("aspect") not in ("16:9", "9:16"):
            return None
        resolution = item.get("resolution")
        if not _is_int(resolution) or resolution not in (720, 1080):
            return None
        if not _is_int(item.get("duration_s")) or item["duration_s"] != 8:
            return None
        if not _is_int(item.get("fps")) or item["fps"] != 24:
            return None
        parsed.append(
            VideoItem(
                scene_id=item["scene_id"],
                prompt=item["prompt"],
                approved_image_url=item["approved_image_url"],
                veo_model=item["veo_model"],
                aspect=item["aspect"],
                resolution=int(resolution),
                duration_s=8,
                fps=24,
            )
        )
    return VideoBatch(tuple(parsed), run_mode, int(confirm))
