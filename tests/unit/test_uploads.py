"""Reference images: checks before any network call, safe names, and the offline/back-end uploaders."""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from batchcore.errors import AuthError, BatchStudioError, UploadError
from batchcore.pricing import MAX_REF_IMAGES
from batchcore.uploads import (
    square_preview,
    MAX_NAME_CHARS,
    MAX_REF_BYTES,
    THUMBNAIL_PX,
    BackendUploader,
    LocalStoreUploader,
    RefImage,
    UploadedRef,
    check_references,
    sanitize_name,
    upload_references,
)

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
    """A PNG claiming just over Pillow's pixel limit (Pillow only warns) is refused by our own check."""
    side = int(Image.MAX_IMAGE_PIXELS**0.5) + 10
    with pytest.warns(Image.DecompressionBombWarning):
        reason = refusal_for([("big.png", png_header_only(side, side))])
    assert "too large in pixels" in reason


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
    """Folders in a name (Unix or Windows, including ..) are dropped; the real extension is kept."""
    result = check_references([("../../etc/passwd.png", png(12)), ("C:\\Users\\me\\Cat Pic.PNG", png(13))])
    assert [r.safe_name for r in result.accepted] == ["passwd.png", "Cat_Pic.png"]


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
    """Whatever names six different images arrive with, their safe names are distinct and safe."""
    files = [(n, png(40 + i)) for i, n in enumerate(names)]
    result = check_references(files)
    safe = [r.safe_name for r in result.accepted]
    assert len(safe) == len(names)
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
    from batchcore.uploads import GcsSignedUrlUploader

    with pytest.raises(ValueError, match="Cloud Storage bucket name"):
        GcsSignedUrlUploader(bucket, credentials=None)


@pytest.mark.parametrize("prefix", ["/refs/", "refs/../secrets/", "../up/"])
def test_gcs_uploader_refuses_a_prefix_that_escapes(prefix):
    """An absolute prefix or one with a '..' component is refused when the uploader is made."""
    from batchcore.uploads import GcsSignedUrlUploader

    with pytest.raises(ValueError, match="relative object name prefix"):
        GcsSignedUrlUploader("batch-studio-refs", credentials=None, prefix=prefix)


def test_gcs_uploader_with_no_images_signs_and_sends_nothing():
    """Uploading no images returns [] without touching the credentials or opening a connection."""
    from batchcore.uploads import GcsSignedUrlUploader

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
