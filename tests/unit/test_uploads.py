"""Reference images: checks before any network call, safe names, and the offline/back-end uploaders."""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from batchcore.adapters.uploads import (
    MAX_NAME_CHARS,
    MAX_REF_BYTES,
    MAX_REF_PIXELS,
    THUMBNAIL_PX,
    BackendUploader,
    LocalStoreUploader,
    RefImage,
    UploadedRef,
    check_references,
    sanitize_name,
    square_preview,
    upload_checked,
    upload_references,
)
from batchcore.domain.pricing import MAX_REF_IMAGES
from batchcore.errors import AuthError, BatchStudioError, UploadError

SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


# ----------------------------------------------------------------------------- builders


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), color=(200, 30, 30), **save) -> bytes:
    mode = "RGBA" if fmt == "PNG" else "RGB"
    im = Image.new(mode, size, color)
    out = io.BytesIO()
    im.save(out, format=fmt, **save)
    return out.getvalue()


def png(seed: int = 0, size: tuple[int, int] = (40, 30)) -> bytes:
    return image_bytes("PNG", size, (seed % 256, (seed * 7) % 256, 90))


def jpeg(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    return image_bytes("JPEG", size, (seed % 256, 120, 60))


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (no real pixel data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def with_private_chunk(data: bytes, payload: bytes) -> bytes:
    """Insert a private ancillary chunk (decoders must skip it) right after IHDR: still a valid PNG."""
    ihdr_end = 8 + 25
    return data[:ihdr_end] + chunk(b"prVt", payload) + data[ihdr_end:]


def refusal_for(files, **kw) -> str:
    result = check_references(files, **kw)
    assert result.accepted == []
    assert len(result.refused) == 1
    return result.refused[0].reason


# ----------------------------------------------------------------------------- acceptance


def test_png_and_jpeg_are_accepted_with_their_facts():
    """A PNG and a JPEG are accepted with real mime type, size in pixels, byte size and sha256."""
    a, b = png(1, (40, 30)), jpeg(2, (64, 48))
    result = check_references([("a.png", a), ("photo.jpeg", b)])
    assert result.ok and [r.safe_name for r in result.accepted] == ["a.png", "photo.jpg"]
    first, second = result.accepted
    assert (first.mime, first.width, first.height, first.size) == ("image/png", 40, 30, len(a))
    assert (second.mime, second.width, second.height, second.size) == ("image/jpeg", 64, 48, len(b))
    assert first.sha256 == hashlib.sha256(a).hexdigest() and first.data == a
    assert first.original_name == "a.png"


def test_thumbnail_is_a_small_png():
    """Each accepted image carries a PNG thumbnail whose longest side is at most THUMBNAIL_PX."""
    result = check_references([("wide.png", png(3, (500, 120))), ("big.jpg", jpeg(4, (300, 300)))])
    for ref in result.accepted:
        with Image.open(io.BytesIO(ref.thumbnail)) as thumb:
            assert thumb.format == "PNG"
            assert max(thumb.size) <= THUMBNAIL_PX
    with Image.open(io.BytesIO(result.accepted[0].thumbnail)) as thumb:
        assert thumb.size == (THUMBNAIL_PX, 23)


def test_palette_and_grey_images_get_thumbnails_too():
    """Palette, greyscale and CMYK images are accepted and still get a readable thumbnail."""
    pal = io.BytesIO()
    Image.new("P", (50, 50), 3).save(pal, format="PNG")
    grey = io.BytesIO()
    Image.new("L", (50, 50), 100).save(grey, format="PNG")
    cmyk = io.BytesIO()
    Image.new("CMYK", (50, 50), (10, 20, 30, 40)).save(cmyk, format="JPEG")
    result = check_references([("p.png", pal.getvalue()), ("g.png", grey.getvalue()), ("c.jpg", cmyk.getvalue())])
    assert result.ok and len(result.accepted) == 3
    for ref in result.accepted:
        assert Image.open(io.BytesIO(ref.thumbnail)).size == (50, 50)


def test_real_format_decides_mime_and_extension():
    """A JPEG named .png is accepted as image/jpeg and renamed .jpg; the file name never decides."""
    result = check_references([("holiday.png", jpeg(5))])
    (ref,) = result.accepted
    assert ref.mime == "image/jpeg" and ref.safe_name == "holiday.jpg"


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_image_formats_are_refused_even_named_png(fmt):
    """A GIF/BMP/TIFF/WebP named .png is refused by content, naming the real format and the rule."""
    if fmt == "WEBP" and "WEBP" not in Image.SAVE:
        pytest.skip("this Pillow build cannot write WebP")
    reason = refusal_for([("fake.png", image_bytes(fmt, color=(1, 2, 3)))])
    assert "'fake.png'" in reason and fmt in reason and "only JPG and PNG" in reason


def test_text_named_png_is_refused():
    """A text file named .png is refused as not an image."""
    reason = refusal_for([("notes.png", b"just some text, honestly\n" * 10)])
    assert "'notes.png'" in reason and "not a JPG or PNG" in reason


def test_empty_file_is_refused():
    """An empty file is refused as empty."""
    assert "empty" in refusal_for([("blank.png", b"")])


def test_oversize_is_refused_before_decoding():
    """Bytes over 10 MB that merely start like a PNG are refused for size, not as damaged."""
    fake = b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_REF_BYTES
    reason = refusal_for([("huge.png", fake)])
    assert "10.1 MB" in reason and "at most 10 MB" in reason


def test_valid_png_over_10mb_is_refused():
    """A genuine, decodable PNG padded past 10 MB with an uncompressible chunk is refused for size."""
    big = with_private_chunk(png(6), os.urandom(MAX_REF_BYTES))
    assert Image.open(io.BytesIO(big)).size == (40, 30)  # still a valid image
    assert "at most 10 MB" in refusal_for([("big.png", big)])


def test_exactly_10mb_is_allowed():
    """A valid PNG of exactly 10 MB is accepted (the limit is inclusive)."""
    base = png(7)
    data = with_private_chunk(base, os.urandom(MAX_REF_BYTES - len(base) - 12))
    assert len(data) == MAX_REF_BYTES
    assert check_references([("edge.png", data)]).ok


def test_seventh_file_is_refused_naming_the_limit():
    """With 7 good files, the first 6 are accepted in order and the 7th is refused naming the limit of 6."""
    files = [(f"img{i}.png", png(i)) for i in range(7)]
    result = check_references(files)
    assert [r.safe_name for r in result.accepted] == [f"img{i}.png" for i in range(6)]
    (refusal,) = result.refused
    assert refusal.name == "img6.png" and f"at most {MAX_REF_IMAGES} reference images" in refusal.reason


def test_files_past_the_limit_are_refused_without_decoding():
    """Once 6 are accepted, a further file is refused for the limit even if it is garbage (it is never decoded)."""
    files = [(f"ok{i}.png", png(80 + i)) for i in range(6)] + [("junk.png", b"garbage")]
    (refusal,) = check_references(files).refused
    assert refusal.name == "junk.png" and "at most 6 reference images" in refusal.reason


def test_limit_counts_images_already_attached():
    """With 4 references already attached, only 2 more are accepted."""
    result = check_references([(f"n{i}.png", png(20 + i)) for i in range(3)], already=4)
    assert len(result.accepted) == 2
    assert "4 are already attached" in result.refused[0].reason


def test_refused_files_do_not_use_up_the_limit():
    """A broken file among 7 does not take a slot: the 6 good ones are all accepted."""
    files = [("bad.png", b"nope")] + [(f"g{i}.png", png(30 + i)) for i in range(6)]
    result = check_references(files)
    assert len(result.accepted) == 6 and [r.name for r in result.refused] == ["bad.png"]


def test_bomb_over_a_low_pixel_limit_is_refused():
    """An image over the pixel limit (set low here) is refused with the limit in the message."""
    reason = refusal_for([("wide.png", png(8, (300, 300)))], max_pixels=10_000)
    assert "too large in pixels" in reason and "10,000" in reason


def test_pillow_decompression_bomb_error_is_a_refusal():
    """A tiny PNG claiming 20000x20000 pixels (Pillow raises DecompressionBombError) is refused, not a crash."""
    data = png_header_only(20_000, 20_000)
    assert len(data) < 200
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    assert "too large in pixels" in refusal_for([("bomb.png", data)])


def test_pillow_bomb_warning_zone_is_a_refusal():
    """A PNG claiming just over Pillow's pixel limit is refused from its header, before Pillow could even warn."""
    side = int(Image.MAX_IMAGE_PIXELS**0.5) + 10
    data = png_header_only(side, side)
    with pytest.warns(Image.DecompressionBombWarning):  # what Pillow alone would do with it
        Image.open(io.BytesIO(data)).close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reason = refusal_for([("big.png", data)])
    assert "too large in pixels" in reason
    assert [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)] == []


def test_truncated_png_is_refused():
    """A PNG cut short is refused as damaged or incomplete."""
    data = png(9, (200, 200))
    assert "damaged or incomplete" in refusal_for([("cut.png", data[: len(data) // 2])])


def test_truncated_jpeg_is_refused():
    """A JPEG cut short (noisy content, so it really has scan data to lose) is refused as damaged."""
    im = Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3))
    out = io.BytesIO()
    im.save(out, format="JPEG", quality=95)
    data = out.getvalue()
    assert "damaged or incomplete" in refusal_for([("cut.jpg", data[: len(data) // 2])])


def test_png_with_bad_checksum_is_refused():
    """A PNG whose pixel-data chunk is corrupted (CRC no longer matches) is refused as damaged."""
    data = bytearray(png(10, (64, 64)))
    idat = data.index(b"IDAT")
    data[idat + 8] ^= 0xFF
    assert "damaged or incomplete" in refusal_for([("crc.png", bytes(data))])


def test_same_picture_twice_is_accepted_once():
    """The same bytes under two names are accepted once; the second is refused naming the first."""
    data = png(11)
    result = check_references([("one.png", data), ("two.png", data)])
    assert [r.safe_name for r in result.accepted] == ["one.png"]
    assert "same picture as 'one.png'" in result.refused[0].reason


def test_refusal_names_are_printable():
    """A refusal shows the file name without control characters and with the reason as a sentence."""
    (refusal,) = check_references([("evil\x1b[31m\n.png", b"")]).refused
    assert refusal.name.isprintable() and refusal.reason.endswith(".")


# ----------------------------------------------------------------------------- names


def test_path_components_are_dropped():
    """Folders in a name (Unix or Windows, including ..) are dropped by sanitize_name; the real extension is kept."""
    assert sanitize_name("../../etc/passwd.png", ".png") == "passwd.png"
    assert sanitize_name("C:\\Users\\me\\Cat Pic.PNG", ".png") == "Cat_Pic.png"


def test_names_with_folders_or_nul_are_refused():
    """A file whose name has folders (Unix or Windows, including ..) or a NUL is refused by name, shown printable."""
    result = check_references([("../../etc/passwd.png", png(12)), ("C:\\Users\\me\\Cat Pic.PNG", png(13)),
                               ("cat\x00.png", png(14)), ("..", png(15))])
    assert result.accepted == []
    assert [r.name for r in result.refused] == ["../../etc/passwd.png", "C:\\Users\\me\\Cat Pic.PNG", "cat?.png", ".."]
    assert all("folder names in its file name" in r.reason for i, r in enumerate(result.refused) if i != 2)
    assert result.refused[2].reason == "'cat?.png' has a NUL character in its file name; rename the file and try again."


def test_duplicate_names_are_made_unique():
    """Two different images with the same name (case-insensitively) get distinct safe names."""
    result = check_references([("a.png", png(14)), ("A.png", png(15)), ("a.png", png(16))])
    assert [r.safe_name for r in result.accepted] == ["a.png", "A-2.png", "a-3.png"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("café au lait.png", "cafe_au_lait.png"),
        ("写真.png", "image.png"),
        ("", "image.png"),
        ("...", "image.png"),
        ("-rf .png", "rf.png"),
        (".hidden", "hidden.png"),
        ("CON.png", "_CON.png"),
        ("archive.tar.gz", "archive.tar.png"),
    ],
)
def test_sanitize_examples(raw, expected):
    """Accents are folded, unsafe characters replaced, hidden/option-like/reserved names defused."""
    assert sanitize_name(raw, ".png") == expected


@given(st.text(max_size=300), st.sampled_from([".png", ".jpg", ""]))
def test_sanitized_names_are_always_safe(raw, ext):
    """For any text, the safe name is non-empty, short, in the safe charset and ends with the given extension."""
    name = sanitize_name(raw, ext)
    assert name and len(name) <= MAX_NAME_CHARS
    assert SAFE_NAME.fullmatch(name)
    assert "/" not in name and "\\" not in name
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    assert name.endswith(ext)
    assert name.rsplit(".", 1)[0].upper() not in {"CON", "PRN", "AUX", "NUL"}


@given(st.lists(st.text(max_size=40), min_size=1, max_size=6))
def test_accepted_names_are_unique_and_safe(names):
    """Whatever names six different images arrive with, those without folders or NUL are accepted with distinct safe names."""
    files = [(n, png(40 + i)) for i, n in enumerate(names)]
    result = check_references(files)
    safe = [r.safe_name for r in result.accepted]
    plain = [n for n in names if not ({"/", "\\", "\x00"} & set(n) or n.strip() in (".", ".."))]
    assert len(safe) == len(plain) and len(result.refused) == len(names) - len(plain)
    assert all("in its file name" in r.reason for r in result.refused)
    assert len({s.lower() for s in safe}) == len(safe)
    assert all(SAFE_NAME.fullmatch(s) and len(s) <= MAX_NAME_CHARS and s.endswith(".png") for s in safe)


# ----------------------------------------------------------------------------- local store


def test_local_store_round_trip(tmp_path: Path):
    """The local store writes content-addressed files and returns their public URL; bytes read back equal."""
    result = check_references([("a.png", png(50)), ("b.jpg", jpeg(51))])
    store = LocalStoreUploader(tmp_path / "refs", "http://127.0.0.1:8502/refs/")
    uploaded = store.upload(result.accepted)
    for ref, up in zip(result.accepted, uploaded):
        filename = f"{ref.sha256}{'.png' if ref.mime == 'image/png' else '.jpg'}"
        assert up.url == f"http://127.0.0.1:8502/refs/{filename}"
        assert (tmp_path / "refs" / filename).read_bytes() == ref.data
        assert (up.name, up.size, up.mime) == (ref.safe_name, ref.size, ref.mime)


def test_local_store_same_file_twice_is_harmless(tmp_path: Path):
    """Uploading the same picture twice gives the same URL and leaves one file."""
    refs = check_references([("a.png", png(52))]).accepted
    store = LocalStoreUploader(tmp_path, "http://localhost/r")
    first, second = store.upload(refs), store.upload(refs)
    assert first[0].url == second[0].url
    assert [p.name for p in tmp_path.iterdir()] == [f"{refs[0].sha256}.png"]


def test_local_store_failure_is_an_upload_error(tmp_path: Path):
    """A store root that is a file, not a folder, gives an UploadError naming the image."""
    root = tmp_path / "occupied"
    root.write_text("not a folder")
    refs = check_references([("a.png", png(53))]).accepted
    with pytest.raises(UploadError, match="'a.png'"):
        LocalStoreUploader(root, "http://localhost/r").upload(refs)


# ----------------------------------------------------------------------------- back end


class FakeBackend:
    """Stands in for the API client's upload_references: stores what it receives, answers like the server."""

    def __init__(self, answer: str = "refs", fail: Exception | None = None) -> None:
        self.received: list[tuple[str, bytes, str]] = []
        self.answer = answer
        self.fail = fail

    def send(self, files):
        if self.fail:
            raise self.fail
        self.received.extend(files)
        if self.answer == "server-dicts":
            return [
                {"originalName": n, "url": f"https://storage.example/{n}", "thumbnailUrl": f"https://storage.example/t/{n}",
                 "gcsUri": f"gs://b/{n}", "size": len(d), "mimeType": m, "uploadedAt": "2025-01-01T00:00:00Z"}
                for n, d, m in files
            ]
        if self.answer == "short":
            return []
        return [UploadedRef(name=n, url=f"https://storage.example/{n}", size=len(d), mime=m) for n, d, m in files]


def test_backend_uploader_sends_checked_files_and_returns_refs():
    """The back-end uploader sends (safe name, bytes, real mime) and returns one ref per image, in order."""
    refs = check_references([("x.png", jpeg(60)), ("y.png", png(61))]).accepted
    backend = FakeBackend()
    uploaded = BackendUploader(backend.send).upload(refs)
    assert backend.received == [("x.jpg", refs[0].data, "image/jpeg"), ("y.png", refs[1].data, "image/png")]
    assert [u.url for u in uploaded] == ["https://storage.example/x.jpg", "https://storage.example/y.png"]


def test_backend_uploader_understands_the_servers_shape():
    """Results in the server's own shape (url, thumbnailUrl, mimeType) become UploadedRefs."""
    refs = check_references([("z.png", png(62))]).accepted
    (up,) = BackendUploader(FakeBackend("server-dicts").send).upload(refs)
    assert (up.name, up.url, up.thumbnail_url, up.gcs_uri, up.size, up.mime) == (
        "z.png", "https://storage.example/z.png", "https://storage.example/t/z.png", "gs://b/z.png",
        refs[0].size, "image/png",
    )


def test_backend_uploader_fills_gaps_from_the_image():
    """A result with only a URL gets its name, size and mime type from the image that was sent."""
    refs = check_references([("w.png", png(66))]).accepted
    (up,) = BackendUploader(lambda files: [{"url": "https://storage.example/w"}]).upload(refs)
    assert (up.name, up.url, up.size, up.mime) == ("w.png", "https://storage.example/w", refs[0].size, "image/png")


def test_backend_uploader_result_without_url_is_an_error():
    """A result with no URL cannot be attached to a row: UploadError."""
    refs = check_references([("v.png", png(67))]).accepted
    with pytest.raises(UploadError, match="no usable image URL"):
        BackendUploader(lambda files: [{"originalName": "v.png", "size": 3}]).upload(refs)


def test_backend_uploader_missing_results_is_an_error():
    """If the server answers with fewer images than were sent, that is an UploadError."""
    refs = check_references([("z.png", png(63))]).accepted
    with pytest.raises(UploadError, match="0 of the 1"):
        BackendUploader(FakeBackend("short").send).upload(refs)


def test_backend_uploader_hides_unexpected_error_text():
    """An unexpected failure becomes an UploadError that does not repeat the original message."""
    refs = check_references([("z.png", png(64))]).accepted
    with pytest.raises(UploadError) as info:
        BackendUploader(FakeBackend(fail=RuntimeError("token=hunter2")).send).upload(refs)
    assert "hunter2" not in str(info.value) and "RuntimeError" in str(info.value)


def test_backend_uploader_passes_batch_studio_errors_through():
    """A Batch Studio error from the client (e.g. AuthError) reaches the caller unchanged."""
    refs = check_references([("z.png", png(65))]).accepted
    with pytest.raises(AuthError):
        BackendUploader(FakeBackend(fail=AuthError("The API key was refused.", status=401)).send).upload(refs)


# ----------------------------------------------------------------------------- both steps


class RecordingUploader:
    def __init__(self, fail: BatchStudioError | None = None) -> None:
        self.stored: list[RefImage] = []
        self.fail = fail

    def upload(self, images):
        if self.fail:
            raise self.fail
        self.stored.extend(images)
        return [UploadedRef(name=i.safe_name, url=f"https://x.example/{i.sha256}", size=i.size, mime=i.mime) for i in images]


def test_nothing_is_sent_when_nothing_is_accepted():
    """When every file is refused, the uploader receives nothing and every refusal is reported."""
    uploader = RecordingUploader()
    report = upload_references([("a.gif", image_bytes("GIF")), ("b.png", b"")], uploader)
    assert uploader.stored == [] and report.uploaded == []
    assert [r.name for r in report.refused] == ["a.gif", "b.png"] and not report.ok


def test_accepted_are_uploaded_and_refused_reported():
    """Good files are uploaded in order and the refused ones are listed next to them."""
    uploader = RecordingUploader()
    good1, good2 = png(70), jpeg(71)
    report = upload_references([("1.png", good1), ("bad.png", b"xx"), ("2.jpg", good2)], uploader)
    assert [i.data for i in uploader.stored] == [good1, good2]
    assert report.urls == [f"https://x.example/{hashlib.sha256(d).hexdigest()}" for d in (good1, good2)]
    assert [r.name for r in report.refused] == ["bad.png"] and report.error is None


def test_upload_failure_is_reported_with_refusals_kept():
    """A failed upload comes back as report.error, with the refusals still reported and nothing attached."""
    report = upload_references(
        [("ok.png", png(72)), ("bad.png", b"")], RecordingUploader(fail=UploadError("The bucket said no."))
    )
    assert isinstance(report.error, UploadError) and str(report.error) == "The bucket said no."
    assert report.uploaded == [] and [r.name for r in report.refused] == ["bad.png"]
    assert isinstance(report.error, BatchStudioError)


@pytest.mark.parametrize("size", [(200, 50), (50, 200), (10, 10)])
def test_square_preview_fits_any_shape_into_a_square(size):
    """Landscape, portrait and tiny images all become a px × px PNG with the image centred."""
    buf = io.BytesIO()
    Image.new("RGB", size, (255, 0, 0)).save(buf, format="PNG")
    with Image.open(io.BytesIO(square_preview(buf.getvalue(), 64))) as out:
        assert out.format == "PNG" and out.size == (64, 64)
        assert out.getpixel((32, 32))[:3] == (255, 0, 0)


def test_square_preview_of_unreadable_bytes_is_empty():
    """Bytes that are not an image give b"" rather than an exception."""
    assert square_preview(b"not an image", 64) == b""


# ----------------------------------------------------------------------------- guards and odd cases


def test_extension_without_a_dot_gets_one():
    """sanitize_name('photo.jpeg', 'png') puts '.png' in place of the old extension."""
    assert sanitize_name("photo.jpeg", "png") == "photo.png"


def test_very_long_names_are_shortened_in_refusals():
    """A refused file with a 104-character name is shown as its first 57 characters and '...'."""
    name = "x" * 100 + ".png"
    (refusal,) = check_references([(name, b"")]).refused
    assert refusal.name == "x" * 57 + "..."
    assert refusal.reason == f"'{'x' * 57}...' is empty (0 bytes)."


def test_size_limits_under_a_megabyte_are_stated_in_kb():
    """With a 1000-byte limit, a larger file is refused in KB, rounded up: 'is 2 KB; … at most 1 KB.'"""
    data = with_private_chunk(png(80), b"\0" * 1500)
    assert 1024 < len(data) <= 2048
    (refusal,) = check_references([("a.png", data)], max_bytes=1000).refused
    assert refusal.reason == "'a.png' is 2 KB; each reference image must be at most 1 KB."


def test_backend_uploader_reads_results_given_as_other_models():
    """A result that is some other pydantic model in the server's shape is read like its dict."""
    from pydantic import BaseModel

    class ServerImage(BaseModel):
        originalName: str
        url: str
        mimeType: str

    refs = check_references([("m.png", png(81))]).accepted
    (up,) = BackendUploader(lambda files: [ServerImage(originalName="m.png", url="https://s/m.png",
                                                       mimeType="image/png")]).upload(refs)
    assert (up.name, up.url, up.mime, up.size) == ("m.png", "https://s/m.png", "image/png", refs[0].size)


def test_backend_uploader_sends_nothing_for_no_images():
    """Uploading no images returns [] without calling the server."""
    calls: list[object] = []
    assert BackendUploader(lambda files: calls.append(files) or []).upload([]) == []
    assert calls == []


@pytest.mark.parametrize("bucket", ["", "Upper-Case", "a", "has space", "-leading", "x" * 223])
def test_gcs_uploader_refuses_a_bucket_name_storage_would_refuse(bucket):
    """A bucket name Cloud Storage cannot have is refused when the uploader is made, before any network."""
    from batchcore.adapters.uploads import GcsSignedUrlUploader

    with pytest.raises(ValueError, match="Cloud Storage bucket name"):
        GcsSignedUrlUploader(bucket, credentials=None)


@pytest.mark.parametrize("prefix", ["/refs/", "refs/../secrets/", "../up/"])
def test_gcs_uploader_refuses_a_prefix_that_escapes(prefix):
    """An absolute prefix or one with a '..' component is refused when the uploader is made."""
    from batchcore.adapters.uploads import GcsSignedUrlUploader

    with pytest.raises(ValueError, match="relative object name prefix"):
        GcsSignedUrlUploader("batch-studio-refs", credentials=None, prefix=prefix)


def test_gcs_uploader_with_no_images_signs_and_sends_nothing():
    """Uploading no images returns [] without touching the credentials or opening a connection."""
    from batchcore.adapters.uploads import GcsSignedUrlUploader

    class Untouchable:
        def __getattr__(self, name):  # pragma: no cover - must not be reached
            raise AssertionError(f"credentials.{name} was used")

    assert GcsSignedUrlUploader("batch-studio-refs", Untouchable()).upload([]) == []


def test_local_store_write_failure_leaves_no_temporary_file(tmp_path: Path):
    """When the final rename fails (a folder sits at the target name) the temp file is removed and UploadError names the image."""
    refs = check_references([("a.png", png(82))]).accepted
    store = LocalStoreUploader(tmp_path, "http://localhost/r")
    store.path_for(refs[0]).mkdir()
    with pytest.raises(UploadError) as info:
        store.upload(refs)
    assert str(info.value) == "Could not store 'a.png' in the local reference folder (Is a directory)."
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{refs[0].sha256}.png"]


def test_an_uploader_that_stores_fewer_images_attaches_none():
    """If the uploader returns fewer refs than images, the report has an error, no uploads, and the refusals."""
    class Forgetful:
        def upload(self, images):
            return [UploadedRef(name=images[0].safe_name, url="https://x.example/1")]

    report = upload_references([("1.png", png(83)), ("2.png", png(84)), ("bad.png", b"")], Forgetful())
    assert isinstance(report.error, UploadError)
    assert str(report.error) == "Only 1 of 2 reference images were stored; nothing was attached. Try again."
    assert report.uploaded == [] and len(report.accepted) == 2
    assert [r.name for r in report.refused] == ["bad.png"] and not report.ok


# ----------------------------------------------------------------------------- the six-file limit, whoever calls


def test_max_files_cannot_be_raised_above_six():
    """Asking check_references for 10 places still accepts only MAX_REF_IMAGES (the server answers 500 to more)."""
    result = check_references([(f"m{i}.png", png(100 + i)) for i in range(8)], max_files=10)
    assert len(result.accepted) == MAX_REF_IMAGES
    assert [r.name for r in result.refused] == ["m6.png", "m7.png"]
    assert all(f"at most {MAX_REF_IMAGES} reference images" in r.reason for r in result.refused)


def test_negative_already_makes_no_extra_room():
    """A negative 'already' count is taken as 0: still at most six."""
    result = check_references([(f"n{i}.png", png(110 + i)) for i in range(7)], already=-3)
    assert len(result.accepted) == MAX_REF_IMAGES and len(result.refused) == 1


def test_six_already_attached_refuses_each_new_file():
    """With six references attached, every new file is refused, each with its own sentence naming the count."""
    result = check_references([("a.png", png(120)), ("b.png", png(121))], already=6)
    assert result.accepted == []
    assert [r.reason for r in result.refused] == [
        f"'{n}' was not added: at most 6 reference images are allowed and 6 are already attached." for n in ("a.png", "b.png")
    ]


def test_upload_references_sends_at_most_the_room_left():
    """With 4 attached and 4 good files, 2 are uploaded and the other 2 are refused naming the limit; nothing more is sent."""
    uploader = RecordingUploader()
    report = upload_references([(f"r{i}.png", png(130 + i)) for i in range(4)], uploader, already=4)
    assert [i.safe_name for i in uploader.stored] == ["r0.png", "r1.png"]
    assert [r.name for r in report.refused] == ["r2.png", "r3.png"] and report.failed == []


def test_backend_uploader_refuses_seven_images_without_sending():
    """BackendUploader given seven checked images raises UploadError and the server receives nothing."""
    images = [check_references([(f"s{i}.png", png(140 + i))]).accepted[0] for i in range(7)]
    backend = FakeBackend()
    with pytest.raises(UploadError, match="At most 6 reference images can be uploaded at once and 7 were given"):
        BackendUploader(backend.send).upload(images)
    assert backend.received == []


def test_local_store_refuses_seven_images_without_writing(tmp_path: Path):
    """LocalStoreUploader given seven images raises UploadError and writes no file."""
    images = [check_references([(f"t{i}.png", png(150 + i))]).accepted[0] for i in range(7)]
    with pytest.raises(UploadError, match="nothing was sent"):
        LocalStoreUploader(tmp_path, "http://localhost/r").upload(images)
    assert list(tmp_path.iterdir()) == []


def test_upload_checked_refuses_images_past_the_limit():
    """upload_checked with eight already-checked images sends six and refuses two by name."""
    images = [check_references([(f"u{i}.png", png(160 + i))]).accepted[0] for i in range(8)]
    uploader = RecordingUploader()
    report = upload_checked(images, uploader)
    assert len(uploader.stored) == 6 and [r.name for r in report.refused] == ["u6.png", "u7.png"]


# ----------------------------------------------------------------------------- failed uploads can be retried


def test_failed_upload_lists_every_image_for_retry_and_retry_attaches_them():
    """When the server refuses the upload, report.failed names each accepted image; sending them again attaches them."""
    files = [("one.png", png(170)), ("bad.png", b""), ("two.jpg", jpeg(171))]
    failing = BackendUploader(FakeBackend(fail=UploadError("Uploading the reference images failed. The server is down.")).send)
    report = upload_references(files, failing)
    assert [f.name for f in report.failed] == ["one.png", "two.jpg"]
    assert report.failed[0].reason == "'one.png' was not uploaded: Uploading the reference images failed. The server is down."
    assert [r.name for r in report.refused] == ["bad.png"] and report.attached == [] and not report.ok

    again = upload_checked(report.failed, BackendUploader(FakeBackend().send), already=0)
    assert again.ok and [img.safe_name for img, _ in again.attached] == ["one.png", "two.jpg"]
    assert [ref.url for _, ref in again.attached] == ["https://storage.example/one.png", "https://storage.example/two.jpg"]


def test_partial_failure_keeps_what_was_stored(tmp_path: Path):
    """With an image-by-image store, one failure leaves the others attached and only that one failed, then retryable."""
    images = check_references([("a.png", png(180)), ("b.png", png(181)), ("c.png", png(182))]).accepted
    store = LocalStoreUploader(tmp_path, "http://localhost/r")
    store.path_for(images[1]).mkdir()  # b.png cannot be written
    report = upload_checked(images, store)
    assert [img.safe_name for img, _ in report.attached] == ["a.png", "c.png"]
    assert [f.name for f in report.failed] == ["b.png"] and "'b.png'" in report.failed[0].reason
    assert isinstance(report.error, UploadError) and report.retryable == [images[1]]

    store.path_for(images[1]).rmdir()
    again = upload_checked(report.failed, store, already=2)
    assert again.ok and [img.safe_name for img, _ in again.attached] == ["b.png"]
    assert store.path_for(images[1]).read_bytes() == images[1].data


def test_an_uploader_bug_is_a_failed_upload_not_a_crash():
    """An uploader raising a plain exception gives report.error (an UploadError without its text) and every image failed."""

    class Broken:
        def upload(self, images):
            raise RuntimeError("internal detail token=hunter2")

    report = upload_references([("a.png", png(190))], Broken())
    assert isinstance(report.error, UploadError) and "RuntimeError" in str(report.error)
    assert "hunter2" not in str(report.error) and [f.name for f in report.failed] == ["a.png"]


def test_upload_each_answering_too_few_outcomes_fails_every_image():
    """An uploader whose upload_each answers fewer outcomes than images attaches nothing and fails all of them."""

    class Short:
        def upload_each(self, images):
            return [UploadedRef(name=images[0].safe_name, url="https://x.example/1")]

    report = upload_references([("1.png", png(191)), ("2.png", png(192))], Short())
    assert report.attached == [] and [f.name for f in report.failed] == ["1.png", "2.png"]
    assert str(report.error) == "Only 1 of 2 reference images were stored; nothing was attached. Try again."


# ----------------------------------------------------------------------------- bytes are passed through


def test_bytes_are_kept_not_copied():
    """The bytes given are the very object carried to the uploader (no copy)."""
    data = png(200)
    (ref,) = check_references([("a.png", data)]).accepted
    uploader = RecordingUploader()
    upload_checked([ref], uploader)
    assert ref.data is data and uploader.stored[0].data is data


def test_read_only_memoryview_is_kept_without_a_copy():
    """A read-only memoryview is accepted and carried as a view of the same memory."""
    data = jpeg(201)
    (ref,) = check_references([("a.jpg", memoryview(data))]).accepted
    assert isinstance(ref.data, memoryview) and ref.data.obj is data
    assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == len(data)


def test_writable_buffer_is_copied_once_so_later_changes_do_not_leak():
    """A bytearray is copied at the check: changing it afterwards does not change what will be uploaded."""
    original = png(202)
    buffer = bytearray(original)
    (ref,) = check_references([("a.png", buffer)]).accepted
    buffer[:8] = b"garbage!"
    assert ref.data == original and hashlib.sha256(ref.data).hexdigest() == ref.sha256


def test_data_that_is_not_bytes_is_refused_not_raised():
    """A str or None where bytes belong is refused with a sentence, not an exception."""
    result = check_references([("a.png", "not bytes"), ("b.png", None)])
    assert result.accepted == [] and [r.reason for r in result.refused] == [
        "'a.png' could not be read (it is not a file's bytes).",
        "'b.png' could not be read (it is not a file's bytes).",
    ]


# ----------------------------------------------------------------------------- pixels


def test_pixel_limit_is_inclusive():
    """With a 10,000-pixel limit, 100 x 100 is accepted and 101 x 100 refused naming both sizes."""
    assert check_references([("ok.png", png(210, (100, 100)))], max_pixels=10_000).ok
    reason = refusal_for([("big.png", png(211, (101, 100)))], max_pixels=10_000)
    assert reason == (
        "'big.png' is 101 × 100 pixels (0.0101 megapixels), too large in pixels to be read safely: "
        "the limit is 10,000 pixels (0.01 megapixels). Make it smaller and try again."
    )


def test_pixel_limit_cannot_be_raised_above_the_documented_one():
    """Asking for a billion pixels still refuses anything over MAX_REF_PIXELS (40 MP), naming it."""
    assert MAX_REF_PIXELS == 40_000_000
    reason = refusal_for([("wide.png", png_header_only(6400, 6251))], max_pixels=10**9)
    assert "6,400 × 6,251 pixels" in reason and "the limit is 40,000,000 pixels (40 megapixels)" in reason


@given(st.binary(max_size=2048), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a"]))
def test_any_bytes_give_exactly_one_outcome(tail, head):
    """Whatever the bytes (bare or behind a PNG/JPEG/GIF signature), check_references answers one outcome and never raises."""
    result = check_references([("x.png", head + tail)])
    assert len(result.accepted) + len(result.refused) == 1
    assert all(r.reason.isprintable() for r in result.refused)


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255), st.sampled_from(["png", "jpeg"]),
       st.booleans())
def test_damaged_real_images_give_exactly_one_outcome(where, value, kind, cut):
    """A real PNG or JPEG with one byte changed, or cut anywhere, is accepted with a PNG thumbnail or refused, never raised."""
    base = bytearray(png(220, (30, 20)) if kind == "png" else jpeg(221, (30, 20)))
    where %= len(base)
    data = bytes(base[:where]) if cut else bytes(base[:where] + bytes([value]) + base[where + 1:])
    result = check_references([("x.png", data)])
    assert len(result.accepted) + len(result.refused) == 1
    for ref in result.accepted:
        with Image.open(io.BytesIO(ref.thumbnail)) as thumb:
            assert thumb.format == "PNG"
