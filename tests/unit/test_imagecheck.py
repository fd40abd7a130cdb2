"""Header-first image checks and small previews (batchcore.adapters.imagecheck): sizes before pixels, thumbnails that look right."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from batchcore.adapters import imagecheck
from batchcore.adapters.imagecheck import (
    MAX_REF_PIXELS,
    ImageRefused,
    as_buffer,
    header_size,
    inspect,
    pixel_limit,
    preview,
    sniff,
)


def encode(im: Image.Image, fmt: str, **save) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt, **save)
    return out.getvalue()


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def halves(size=(60, 30)) -> Image.Image:
    """Left half red, right half blue."""
    im = Image.new("RGB", size, (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return im


def test_sizes_come_from_every_header_we_read():
    """PNG, JPEG, GIF and WebP sizes are read from their headers, matching what Pillow reports."""
    im = Image.new("RGB", (123, 45), (9, 9, 9))
    for fmt in ("PNG", "JPEG", "GIF", "WEBP"):
        if fmt == "WEBP" and "WEBP" not in Image.SAVE:
            continue
        data = encode(im, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        assert sniff(data) == fmt and header_size(fmt, data) == (123, 45)
    if "WEBP" in Image.SAVE:
        lossy = encode(im, "WEBP", quality=50)
        assert header_size("WEBP", lossy) == (123, 45)


def test_the_9400_square_png_is_refused_from_its_header():
    """The issue's 9,400 x 9,400 PNG is refused naming its size and the limit."""
    with pytest.raises(ImageRefused) as info:
        inspect(png_claiming(9400, 9400))
    assert info.value.reason.startswith("is 9,400 × 9,400 pixels (88.4 megapixels), too large in pixels")


def test_a_lower_pillow_limit_is_honoured_without_pillow_warnings(monkeypatch):
    """When Image.MAX_IMAGE_PIXELS is set lower, that becomes the limit, and Pillow never gets to warn or raise."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert pixel_limit() == 1000 and pixel_limit(10**9) == 1000
    data = encode(Image.new("RGB", (40, 30)), "PNG")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageRefused, match="the limit is 1,000 pixels"):
            inspect(data)
    assert caught == []


def test_pixel_limit_is_a_ceiling():
    """A lower limit may be asked for, a higher one is not given."""
    assert pixel_limit(None) == MAX_REF_PIXELS == 40_000_000
    assert pixel_limit(5) == 5 and pixel_limit(10**12) == MAX_REF_PIXELS


def test_exif_rotated_jpeg_thumbnail_is_upright():
    """A JPEG stored sideways with EXIF orientation 6 gets a portrait thumbnail whose top is the stored left side."""
    exif = Image.Exif()
    exif[0x0112] = 6
    facts = inspect(encode(halves(), "JPEG", quality=95, exif=exif.tobytes()))
    assert (facts.width, facts.height) == (60, 30)
    with Image.open(io.BytesIO(facts.thumbnail)) as thumb:
        assert thumb.size == (30, 60)
        top, bottom = thumb.convert("RGB").getpixel((15, 5)), thumb.convert("RGB").getpixel((15, 55))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60


def test_large_jpeg_thumbnail_has_the_right_shape_and_colour():
    """A 2400 x 1600 JPEG (decoded at reduced scale) gets a 96 x 64 thumbnail that keeps its two halves."""
    facts = inspect(encode(halves((2400, 1600)), "JPEG", quality=90))
    assert (facts.width, facts.height, facts.mime) == (2400, 1600, "image/jpeg")
    with Image.open(io.BytesIO(facts.thumbnail)) as thumb:
        rgb = thumb.convert("RGB")
        assert thumb.size == (96, 64)
        assert rgb.getpixel((10, 32))[0] > 200 and rgb.getpixel((86, 32))[2] > 200


def test_sixteen_bit_grey_is_scaled_not_clipped():
    """A 16-bit grey PNG at 40,000 of 65,535 makes a mid-grey thumbnail (about 156), not a white one."""
    facts = inspect(encode(Image.new("I;16", (50, 40), 40000), "PNG"))
    with Image.open(io.BytesIO(facts.thumbnail)) as thumb:
        assert thumb.mode == "L" and abs(thumb.getpixel((5, 5)) - 156) <= 1


def test_cmyk_jpeg_thumbnail_is_rgb():
    """A CMYK JPEG's thumbnail is an RGB PNG a browser can show."""
    facts = inspect(encode(Image.new("CMYK", (80, 40), (0, 255, 255, 0)), "JPEG"))
    with Image.open(io.BytesIO(facts.thumbnail)) as thumb:
        assert thumb.mode == "RGB" and thumb.size == (80, 40)


def test_big_palette_image_thumbnail_is_in_colour():
    """A large palette PNG is sampled down before conversion and its thumbnail keeps the palette colour."""
    im = Image.new("P", (3000, 2000), 1)
    im.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    facts = inspect(encode(im, "PNG"))
    with Image.open(io.BytesIO(facts.thumbnail)) as thumb:
        assert thumb.size == (96, 64) and thumb.convert("RGB").getpixel((40, 30)) == (10, 200, 30)


def test_memoryview_gives_the_same_facts_as_bytes():
    """Checking a memoryview of an image gives exactly what checking its bytes gives."""
    data = encode(halves((300, 200)), "JPEG")
    assert inspect(memoryview(data)) == inspect(data)


def test_as_buffer_keeps_bytes_and_views_and_copies_writable_buffers():
    """bytes and read-only views come back as they are; a bytearray is copied; a str is a TypeError."""
    data = b"\x89PNG"
    assert as_buffer(data) is data
    view = memoryview(data)
    assert as_buffer(view).obj is data
    buf = bytearray(data)
    copied = as_buffer(buf)
    buf[0] = 0
    assert copied == data and isinstance(copied, bytes)
    with pytest.raises(TypeError):
        as_buffer("text")


def test_preview_is_square_and_upright():
    """square previews are px x px with the image centred; an EXIF-rotated JPEG is shown upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(halves((600, 300)), "JPEG", quality=95, exif=exif.tobytes())
    with Image.open(io.BytesIO(preview(data, 64, square=True))) as im:
        assert im.size == (64, 64)
        assert im.getpixel((32, 2))[3] == 255 and im.getpixel((2, 32))[3] == 0  # portrait: bars left and right
        assert im.getpixel((32, 10))[0] > 200  # the stored left (red) is on top


@pytest.mark.parametrize("data", [
    png_claiming(20_000, 20_000),
    png_claiming(65_535, 65_535),
    b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00" * 20,
    b"",
    b"\xff\xd8\xff",
    b"not an image at all",
])
def test_preview_of_bombs_and_junk_is_empty(data):
    """A preview of a bomb, a header-only file or junk is b"" (and nothing is decoded)."""
    assert preview(data, 96) == b""


def test_preview_of_gif_and_webp():
    """GIF (first frame) and WebP previews work, for images the page did not check itself."""
    for fmt in ("GIF", "WEBP"):
        if fmt not in Image.SAVE:
            continue
        data = encode(Image.new("RGB", (200, 100), (250, 0, 0)), fmt)
        with Image.open(io.BytesIO(preview(data, 50))) as im:
            assert im.size == (50, 25)


@given(st.binary(max_size=600))
def test_header_readers_never_raise_anything_but_a_refusal(tail):
    """Any bytes behind a PNG, JPEG, GIF or WebP signature either give a positive size or ImageRefused."""
    for fmt, head in (("PNG", b"\x89PNG\r\n\x1a\n"), ("JPEG", b"\xff\xd8"), ("GIF", b"GIF89a"),
                      ("WEBP", b"RIFF\x00\x00\x00\x00WEBP")):
        try:
            w, h = header_size(fmt, head + tail)
        except ImageRefused:
            continue
        assert w > 0 and h > 0


@given(st.binary(max_size=600))
def test_preview_never_raises(data):
    """preview answers b"" or a PNG for any bytes."""
    out = imagecheck.preview(b"\x89PNG\r\n\x1a\n" + data, 32) + imagecheck.preview(data, 32)
    assert out == b"" or out.startswith(b"\x89PNG")
