"""Read what an image is from its header; decode only as much as a check or a preview needs.

Why this exists: a 9,400 × 9,400 PNG of 258 KB decodes to 265 MB of pixels, and a 24 MP JPEG
of 9 MB to 72 MB; checking them by decoding them in full made one upload cost hundreds of MB.
Here nothing is decoded before its size in pixels is known to be within ``MAX_REF_PIXELS``:

* ``sniff(data)`` names the format from the first bytes (no Pillow involved);
* ``header_size(fmt, data)`` reads width and height from the PNG ``IHDR`` chunk, the JPEG
  ``SOFn`` segment, the GIF screen descriptor or the WebP header, and walks the PNG chunks /
  JPEG segments with hard bounds, so a file built to make a parser loop is refused quickly;
* ``inspect(data)`` refuses anything over the pixel limit *before* Pillow opens it, checks the
  file to its end and makes the thumbnail:

  - JPEG: decoded at reduced scale (``Image.draft``, 1/2 to 1/8 per side). libjpeg still reads
    every entropy-coded byte, so a cut or broken file fails, but only 1/64 of the pixels are
    allocated; the thumbnail is made from that small image;
  - PNG: every chunk's CRC is checked, then the pixels are decoded once (at most
    ``MAX_REF_PIXELS`` by then; PNG has no reduced-scale decoding) and shrunk by integer
    ``reduce()`` before the final resampling, never converted at full size;

* ``preview(data, px, square=...)``: the same care for showing any PNG/JPEG/GIF/WebP small.

Bad input never raises anything but ``ImageRefused`` (whose ``reason`` is a sentence to show
after the file's name); ``preview`` returns ``b""`` instead. Pillow's own decompression-bomb
limit (``Image.MAX_IMAGE_PIXELS``) is always above the limit used here, so its
``DecompressionBombWarning``/``Error`` cannot fire; it is caught anyway.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import IO, cast

from PIL import Image, UnidentifiedImageError

__all__ = [
    "MAX_REF_PIXELS",
    "THUMBNAIL_PX",
    "ImageFacts",
    "ImageRefused",
    "as_buffer",
    "header_size",
    "inspect",
    "pixel_limit",
    "preview",
    "sniff",
]

MAX_REF_PIXELS = 40_000_000
"""Largest reference image accepted, in pixels (width × height): 40 megapixels.

Above any phone or consumer camera photo (a 24 MP JPEG is well inside), far above what an
image model uses from a reference, and small enough that the one full decode a PNG needs stays
bounded (at most 160 MB for 8-bit RGBA). A ceiling: callers may pass a lower limit, not a higher one.
"""

THUMBNAIL_PX = 96
"""Longest side of the PNG thumbnail made for each accepted image."""

_MIME = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg")}

# What a refused file is, by its first bytes: (magic, offset, name used in the message).
_OTHER_KINDS: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"\x00\x00\x01\x00", 0, "an ICO icon"),
    (b"\x00\x00\x02\x00", 0, "a CUR cursor"),
    (b"8BPS", 0, "a PSD (Photoshop) file"),
    (b"%PDF-", 0, "a PDF document"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "a JPEG 2000 image"),
    (b"\xffO\xffQ", 0, "a JPEG 2000 image"),
    (b"\xff\n", 0, "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "a JPEG XL image"),
    (b"qoif", 0, "a QOI image"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip archive"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_CHUNKS = 20_000  # a 10 MB PNG in 8 KB IDAT chunks has ~1,300; more is a file built to stall a parser
_MAX_JPEG_SEGMENTS = 1_000  # before the first scan; real files have a few dozen
_MAX_JPEG_SKIPPED = 1_024  # fill (0xFF) or stray bytes between JPEG segments, in all
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})

_DAMAGED = "is damaged or incomplete (the image could not be read to the end)."
_NOT_IMAGE = "is not a JPG or PNG image (its content is not an image we can read)."

# Pillow reports broken files through a handful of exception types.
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError,
                  AttributeError, ZeroDivisionError, struct.error, zlib.error, UnidentifiedImageError)

_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageRefused(Exception):
    """The image cannot be accepted; ``reason`` completes a sentence that starts with its name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageFacts:
    """What ``inspect`` found: a JPEG or PNG within the limits, and its thumbnail."""

    format: str  # "PNG" or "JPEG" (Pillow's MPO, the multi-picture JPEG of phones, counts as JPEG)
    mime: str
    extension: str
    width: int
    height: int
    thumbnail: bytes  # PNG, longest side <= the requested size; b"" if this image's mode cannot make one
    animated: bool = False


# ----------------------------------------------------------------------------- buffers


Buffer = bytes | bytearray | memoryview


def as_buffer(data: object) -> bytes | memoryview:
    """``data`` as bytes or a read-only byte view, copying only what someone could still change.

    ``bytes`` and read-only views come back as they are (no copy). A writable buffer (a
    ``bytearray``, a view of one) is copied once, so the bytes that were checked are the bytes
    that get uploaded. Anything else raises ``TypeError``.
    """
    if isinstance(data, bytes):
        return data
    view = memoryview(data)  # type: ignore[arg-type]
    if view.readonly and view.c_contiguous:
        return view if (view.format == "B" and view.ndim == 1) else view.cast("B")
    return view.tobytes()


class _ViewReader(io.RawIOBase):
    """A seekable file over a memoryview that never copies the whole view (io.BytesIO would)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        start = min(self._pos, end)
        self._pos = max(self._pos, end)
        return self._view[start:end].tobytes()

    def readinto(self, buffer) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _stream(data: bytes | memoryview) -> IO[bytes]:
    # io.BytesIO shares a bytes object's memory until written to; a memoryview it would copy.
    return io.BytesIO(data) if isinstance(data, bytes) else cast(IO[bytes], _ViewReader(data))


# ----------------------------------------------------------------------------- headers


def sniff(data: bytes | memoryview) -> str | None:
    """The format by its first bytes: "PNG", "JPEG", "GIF", "WEBP", or None for anything else."""
    head = bytes(data[:32])
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def describe(data: bytes | memoryview) -> str | None:
    """What a file that is not JPEG/PNG is, e.g. "a GIF image", "an SVG drawing"; None if unknown."""
    head = bytes(data[:1024])
    for magic, offset, what in _OTHER_KINDS:
        if head[offset : offset + len(magic)] == magic:
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WEBP image"
    if head[:2] == b"BM" and len(head) >= 18 and struct.unpack("<I", head[14:18])[0] in (12, 40, 52, 56, 64, 108, 124):
        return "a BMP image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "an AVIF image"
        if brand in _HEIF_BRANDS:
            return "a HEIC image"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "an SVG drawing"
    return None


def header_size(fmt: str, data: bytes | memoryview) -> tuple[int, int]:
    """Width and height from the header of a PNG, JPEG, GIF or WebP; ``ImageRefused`` if unreadable.

    For PNG and JPEG the whole chunk/segment structure that a decoder walks in Python is walked
    here first, with bounds, so an image built to make that walk slow is refused.
    """
    if fmt == "PNG":
        return _png_size(data)
    if fmt == "JPEG":
        return _jpeg_size(data)
    if fmt == "GIF":
        if len(data) < 10:
            raise ImageRefused(_DAMAGED)
        w, h = struct.unpack("<HH", bytes(data[6:10]))
        return _positive(w, h)
    if fmt == "WEBP":
        return _webp_size(bytes(data[:30]))
    raise ImageRefused(_NOT_IMAGE)


def _positive(w: int, h: int) -> tuple[int, int]:
    if w <= 0 or h <= 0:
        raise ImageRefused(_DAMAGED)
    return w, h


def _png_size(data: bytes | memoryview) -> tuple[int, int]:
    info = _png_walk(data, check_crc=False)
    return info.width, info.height


@dataclass(frozen=True)
class _PngInfo:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int
    animated: bool
    idat: tuple[tuple[int, int], ...]  # (start, end) of each IDAT chunk's data


_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_walk(data: bytes | memoryview, *, check_crc: bool) -> _PngInfo:
    """Walk every chunk: IHDR first and valid, lengths inside the file, IDAT present, IEND at the end.

    With ``check_crc`` every chunk's CRC is checked too.
    """
    n = len(data)
    if n < 8 + 25 or bytes(data[12:16]) != b"IHDR" or bytes(data[8:12]) != b"\x00\x00\x00\x0d":
        raise ImageRefused(_DAMAGED)
    width, height, depth, ctype, compression, filtering, interlace = struct.unpack(">IIBBBBB", bytes(data[16:29]))
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise ImageRefused(_DAMAGED)
    if depth not in _PNG_DEPTHS.get(ctype, ()) or compression or filtering or interlace > 1:
        raise ImageRefused(_DAMAGED)
    pos, chunks, animated = 8, 0, False
    idat: list[tuple[int, int]] = []
    while True:
        if pos + 12 > n:
            raise ImageRefused(_DAMAGED)
        length, kind = struct.unpack(">I4s", bytes(data[pos : pos + 8]))
        end = pos + 12 + length
        if length >= 2**31 or end > n:
            raise ImageRefused(_DAMAGED)
        if check_crc:
            (crc,) = struct.unpack(">I", bytes(data[end - 4 : end]))
            if zlib.crc32(data[pos + 4 : end - 4]) != crc:
                raise ImageRefused(_DAMAGED)
        chunks += 1
        if chunks > _MAX_PNG_CHUNKS:
            raise ImageRefused(
                f"is built unusually (more than {_MAX_PNG_CHUNKS:,} PNG chunks); save it again from an image editor."
            )
        if kind == b"IDAT":
            idat.append((pos + 8, end - 4))
        elif kind == b"acTL":
            animated = True
        elif kind == b"IEND":
            break
        pos = end
    if not idat:
        raise ImageRefused(_DAMAGED)
    return _PngInfo(width, height, depth, ctype, interlace, animated, tuple(idat))


def _png_pixels_complete(data: bytes | memoryview, info: _PngInfo) -> bool:
    """True when the IDAT data inflates to at least the bytes the header promises.

    Pillow takes a zlib stream that ends early for a whole image (the missing rows come out
    black), so this is checked here: fed 4 KB of input at a time, so at most ~4 MB of output
    is held at once, and stopped as soon as all promised bytes are there (extra data after
    them is ignored, as decoders and browsers do).
    """
    bits = _PNG_CHANNELS[info.color_type] * info.bit_depth

    def raw(w: int, h: int) -> int:
        return 0 if w <= 0 or h <= 0 else h * (1 + (w * bits + 7) // 8)

    if info.interlace:
        expected = sum(
            raw((info.width - x0 + dx - 1) // dx, (info.height - y0 + dy - 1) // dy) for x0, y0, dx, dy in _ADAM7
        )
    else:
        expected = raw(info.width, info.height)
    inflater = zlib.decompressobj()
    total = 0
    try:
        for start, end in info.idat:
            for piece in range(start, end, 4096):
                total += len(inflater.decompress(data[piece : min(end, piece + 4096)]))
                if total >= expected:
                    return True
                if inflater.eof:
                    return False  # the stream ended early
    except zlib.error:
        return False
    return False  # the data ran out early


def _jpeg_size(data: bytes | memoryview) -> tuple[int, int]:
    """Walk the segments from SOI to the first scan the way Pillow's parser does, with bounds."""
    n = len(data)
    pos, segments, skipped = 2, 0, 0
    size: tuple[int, int] | None = None
    while pos < n:
        if data[pos] != 0xFF:  # stray byte: Pillow skips these one at a time
            skipped += 1
            pos += 1
        else:
            pos += 1
            while pos < n and data[pos] == 0xFF:  # fill bytes
                skipped += 1
                pos += 1
                if skipped > _MAX_JPEG_SKIPPED:
                    raise ImageRefused(_DAMAGED)
            if pos >= n:
                break
            marker = data[pos]
            pos += 1
            if marker == 0x00 or marker in _JPEG_STANDALONE or marker == 0xD8:
                continue
            if marker == 0xD9:  # end of image before any scan
                break
            if pos + 2 > n:
                break
            length = (data[pos] << 8) | data[pos + 1]
            if length < 2:
                raise ImageRefused(_DAMAGED)
            if marker in _JPEG_SOF and size is None:
                if length < 8 or pos + 7 > n:
                    raise ImageRefused(_DAMAGED)
                h = (data[pos + 3] << 8) | data[pos + 4]
                w = (data[pos + 5] << 8) | data[pos + 6]
                size = _positive(w, h)  # a height of 0 (set later by a DNL marker) is not supported
            if marker == 0xDA:  # start of scan: the header is over
                if size is None:
                    break
                return size
            pos += length
            segments += 1
            if segments > _MAX_JPEG_SEGMENTS:
                raise ImageRefused(
                    f"is built unusually (more than {_MAX_JPEG_SEGMENTS:,} JPEG segments); "
                    "save it again from an image editor."
                )
        if skipped > _MAX_JPEG_SKIPPED:
            raise ImageRefused(_DAMAGED)
    raise ImageRefused(_DAMAGED)


def _webp_size(head: bytes) -> tuple[int, int]:
    if len(head) < 30:
        raise ImageRefused(_DAMAGED)
    chunk = head[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(head[24:27], "little")
        h = 1 + int.from_bytes(head[27:30], "little")
    elif chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        w, h = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif chunk == b"VP8 ":
        w = int.from_bytes(head[26:28], "little") & 0x3FFF
        h = int.from_bytes(head[28:30], "little") & 0x3FFF
    else:
        raise ImageRefused(_DAMAGED)
    return _positive(w, h)


# ----------------------------------------------------------------------------- limits


def pixel_limit(max_pixels: int | None = None) -> int:
    """The pixel limit in force: ``max_pixels`` if lower, never above ``MAX_REF_PIXELS`` or Pillow's own limit."""
    limit = MAX_REF_PIXELS if max_pixels is None else min(int(max_pixels), MAX_REF_PIXELS)
    pillow = Image.MAX_IMAGE_PIXELS
    if pillow:
        limit = min(limit, int(pillow))
    return max(1, limit)


def _too_large(width: int, height: int, limit: int) -> str:
    return (
        f"is {width:,} × {height:,} pixels ({_megapixels(width * height)}), too large in pixels to be read "
        f"safely: the limit is {limit:,} pixels ({_megapixels(limit)}). Make it smaller and try again."
    )


def _megapixels(pixels: int) -> str:
    mp = pixels / 1_000_000
    return f"{mp:.3g} megapixels" if mp < 100 else f"{mp:,.0f} megapixels"


# ----------------------------------------------------------------------------- checking


def inspect(data: bytes | memoryview, *, max_pixels: int | None = None, thumbnail_px: int = THUMBNAIL_PX) -> ImageFacts:
    """Check that ``data`` is a whole JPEG or PNG within the pixel limit; make its thumbnail.

    Raises ``ImageRefused`` for anything else. Nothing is decoded before the header's size in
    pixels is known to be within the limit, and a JPEG is only ever decoded at reduced scale.
    """
    limit = pixel_limit(max_pixels)
    fmt = sniff(data)
    if fmt not in _MIME:
        what = describe(data)
        if what:
            raise ImageRefused(f"is {what}; only JPG and PNG images are accepted.")
        raise ImageRefused(_NOT_IMAGE)
    png: _PngInfo | None = None
    if fmt == "PNG":
        png = _png_walk(data, check_crc=True)
        width, height = png.width, png.height
    else:
        width, height = _jpeg_size(data)
    if width * height > limit:
        raise ImageRefused(_too_large(width, height, limit))
    if png is not None:
        if png.animated:
            raise ImageRefused("is an animated PNG; only still JPG and PNG images are accepted.")
        if not _png_pixels_complete(data, png):
            raise ImageRefused(_DAMAGED)
    try:
        with Image.open(_stream(data), formats=[fmt]) as im:
            if im.size != (width, height):  # the header we read and Pillow's must agree
                raise ImageRefused(_DAMAGED)
            if fmt == "JPEG":
                im.draft(None, (thumbnail_px * 2, thumbnail_px * 2))  # 1/2..1/8 scale decode
            im.load()  # reads the file to its end: a cut or broken file fails here
            orientation = _orientation(im)  # after load(): a PNG's getexif() would load (and hide errors)
            thumb = _thumbnail_png(im, thumbnail_px, orientation)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(_too_large(width, height, limit)) from None
    except MemoryError:
        raise ImageRefused(_too_large(width, height, limit)) from None
    except _PILLOW_ERRORS:
        raise ImageRefused(_DAMAGED) from None
    mime, ext = _MIME[fmt]
    return ImageFacts(format=fmt, mime=mime, extension=ext, width=width, height=height, thumbnail=thumb)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1..8) read from the header; 1 when absent or unreadable."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a malformed EXIF block must not refuse a picture that decodes
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION else 1


def _small(im: Image.Image, px: int) -> Image.Image:
    """``im`` fitted within ``px`` × ``px``, never converting or copying it at full size."""
    w, h = im.size
    scale = min(1.0, px / max(w, h))
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    if im.mode in ("1", "P", "PA", "I;16", "I;16B", "I;16L", "I;16N", "BGR;15", "BGR;16", "BGR;24"):
        # integer reduce() cannot work on these: sample down to twice the size first (no full copy)
        if w * h > 4 * target[0] * target[1]:
            im = im.resize((min(w, target[0] * 2), min(h, target[1] * 2)), Image.Resampling.NEAREST)
        im = _displayable(im)
    else:
        factor = min(w // (target[0] * 2), h // (target[1] * 2))
        if factor > 1:
            im = im.reduce(factor)
        im = _displayable(im)
    if im.size != target:
        im = im.resize(target, Image.Resampling.LANCZOS)
    return im


def _displayable(im: Image.Image) -> Image.Image:
    """A mode a PNG thumbnail can hold and a browser shows: L, LA, RGB or RGBA (16-bit scaled, not clipped)."""
    if im.mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if im.mode.startswith("I"):
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode == "F":
        return im.convert("L")
    if im.mode in ("P", "PA"):
        return im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    if im.mode in ("La", "RGBa"):
        return im.convert("RGBA")
    if im.mode == "1":
        return im.convert("L")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def _thumbnail_png(im: Image.Image, px: int, orientation: int = 1) -> bytes:
    """A PNG no larger than ``px`` on its longest side, turned upright; b"" if this mode cannot make one."""
    try:
        small = _small(im, px)
        if orientation in _ORIENTATION:
            small = small.transpose(_ORIENTATION[orientation])
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    except (OSError, ValueError, TypeError, KeyError):
        return b""
    return out.getvalue()


def preview(data: bytes | memoryview, px: int, *, square: bool = False, max_pixels: int | None = None) -> bytes:
    """A PNG of ``data`` no larger than ``px`` (or centred on a transparent ``px`` square); b"" if unreadable.

    PNG, JPEG, GIF (first frame) and WebP; the size in pixels comes from the header and must be
    within the pixel limit before anything is decoded; JPEG is decoded at reduced scale.
    """
    try:
        data = as_buffer(data)
        fmt = sniff(data)
        if fmt is None:
            return b""
        width, height = header_size(fmt, data)
        if width * height > pixel_limit(max_pixels):
            return b""
        with Image.open(_stream(data), formats=[fmt]) as im:
            if im.size != (width, height):
                return b""
            if fmt == "JPEG":
                im.draft(None, (px * 2, px * 2))
            im.load()
            orientation = _orientation(im)
            small = _small(im, px)
        if orientation in _ORIENTATION:
            small = small.transpose(_ORIENTATION[orientation])
        if square:
            small = small.convert("RGBA")
            canvas = Image.new("RGBA", (px, px), (0, 0, 0, 0))
            canvas.paste(small, ((px - small.width) // 2, (px - small.height) // 2))
            small = canvas
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
        return out.getvalue()
    except (ImageRefused, Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        return b""
    except _PILLOW_ERRORS:
        return b""
