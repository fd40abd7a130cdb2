"""Real pictures for the emulator: a distinct, deterministic PNG per (scene, prompt, variant).

Nothing here is random: the same inputs always give the same bytes, so tests can compare
pictures and the app's mock mode shows stable results.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["dominant_colour", "render_image", "render_placeholder", "thumbnail"]


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")).digest()


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _drawable(text: str) -> str:
    """``text`` with any lone UTF-16 surrogate (the server accepts them) shown as U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()


def render_image(
    scene_id: str,
    prompt: str,
    variant: int,
    *,
    size: int = 512,
    tint: tuple[int, int, int] | None = None,
) -> bytes:
    """A ``size``×``size`` PNG: a gradient and shapes coloured by a hash of the inputs, with the
    scene id, ``v<variant>`` and the start of the prompt written on it; ``tint`` (a reference
    image's dominant colour) is blended into the palette."""
    d = _digest(scene_id, prompt, variant)
    c1 = (d[0], d[1], d[2])
    c2 = (d[3], d[4], d[5])
    if tint is not None:
        c1, c2 = _mix(c1, tint, 0.45), _mix(c2, tint, 0.45)
    img = Image.new("RGB", (size, size), c1)
    draw = ImageDraw.Draw(img)
    for y in range(0, size, 4):  # vertical gradient in 4-px bands (fast, still smooth)
        draw.rectangle([0, y, size, y + 3], fill=_mix(c1, c2, y / size))
    for i in range(6):  # a few translucent-looking shapes whose places come from the hash
        b = d[6 + i * 4 : 10 + i * 4]
        x, y = b[0] * size // 256, b[1] * size // 256
        r = size // 12 + b[2] * size // 1024
        colour = _mix((b[3], b[0], b[1]), (255, 255, 255), 0.25)
        if b[2] % 2:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            draw.rectangle([x - r, y - r // 2, x + r, y + r // 2], fill=colour)
    # Caption band.
    band = size // 4
    draw.rectangle([0, size - band, size, size], fill=(0, 0, 0))
    big, small = _font(max(12, size // 14)), _font(max(10, size // 28))
    draw.text((size // 24, size - band + size // 40), _drawable(f"{scene_id}  v{variant}"), fill=(255, 255, 255), font=big)
    line = textwrap.shorten(" ".join(_drawable(prompt).split()), width=60, placeholder="…")
    draw.text((size // 24, size - band // 2 + size // 40), line, fill=(210, 210, 210), font=small)
    draw.text((size // 24, size // 24), "EMULATED", fill=(255, 255, 255), font=small)
    return _png(img)


def render_placeholder(label: str, size: tuple[int, int] = (640, 360)) -> bytes:
    """A plain labelled PNG, used when a video's approved image is not the emulator's own."""
    d = _digest("placeholder", label)
    img = Image.new("RGB", size, (d[0] // 2, d[1] // 2, d[2] // 2))
    draw = ImageDraw.Draw(img)
    draw.text((size[0] // 20, size[1] // 2), _drawable(label[:60]), fill=(255, 255, 255), font=_font(max(12, size[1] // 14)))
    return _png(img)


def _open_small(data: bytes, at_least: tuple[int, int]) -> Image.Image:
    """``data`` opened for a result of about ``at_least`` pixels, decoding as little as possible.

    ``Image.open`` reads only the header (format and dimensions). For a JPEG, ``draft`` then
    asks the decoder for a 1/2, 1/4 or 1/8 scale image still at least ``at_least`` on both
    sides, so a 24-megapixel photo is decoded as 0.4 megapixels, never in full. Other
    formats have no reduced-scale decoding and are decoded as they are.
    """
    src = Image.open(io.BytesIO(data))
    if src.format == "JPEG":
        src.draft("RGB", at_least)
    return src


def thumbnail(data: bytes, size: int = 128) -> bytes:
    """An exactly ``size``×``size`` PNG thumbnail (centre crop, then resize)."""
    with _open_small(data, (size, size)) as src:
        img = ImageOps.fit(src.convert("RGB"), (size, size), method=Image.Resampling.LANCZOS)
    return _png(img)


def dominant_colour(data: bytes) -> tuple[int, int, int] | None:
    """The average colour of an image, or ``None`` if the bytes are not an image."""
    try:
        with _open_small(data, (16, 16)) as src:
            pixel = src.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    except Exception:  # noqa: BLE001 - any undecodable upload simply gives no tint
        return None
    red, green, blue = pixel  # type: ignore[misc]  # an RGB image's pixel is a 3-tuple
    return red, green, blue
