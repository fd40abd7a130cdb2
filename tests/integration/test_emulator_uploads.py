"""Emulator uploads decode as little as they can, and its multipart reader reads what a plain split would."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

import batchcore.emulator
from batchcore.emulator.uploads import FilePart, parse_multipart
from tests.conftest import fake_key

ROOT = Path(batchcore.emulator.__file__).resolve().parents[2]

# Uploads a 24-megapixel JPEG, uses it as a reference for a live image (which reads its colour)
# and fetches the thumbnail, then prints how much the process's peak memory grew. Decoding the
# photo in full would need 72 MB for its RGB pixels alone.
_PROBE = textwrap.dedent(
    """
    import resource, sys
    import httpx
    from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport, IN_PROCESS_BASE_URL

    photo = open(sys.argv[1], "rb").read()
    emu = Emulator(EmulatorConfig(rate_limit_per_minute=0))
    client = httpx.Client(transport=EmulatorTransport(emu), base_url=IN_PROCESS_BASE_URL,
                          headers={"X-API-Key": sys.argv[2]})
    client.get("/healthz")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ref = client.post("/upload-reference", files=[("images", ("big.jpg", photo, "image/jpeg"))]).json()["images"][0]
    body = {"items": [{"scene_id": "S1", "prompt": "p", "variants": 1,
                       "ref_pack_public_urls": [{"url": ref["url"]}]}], "runMode": "live"}
    image = client.post("/batch/images", json=body).json()["results"][0]["images"][0]
    picture = client.get(image["signedUrl"]).content
    thumb = client.get(ref["thumbnailUrl"]).content
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(grown_mb, len(picture) > 0, len(thumb) > 0, file=sys.stdout)
    """
)


@pytest.fixture(scope="module")
def photo_24mp(tmp_path_factory) -> Path:
    """A 6000×4000 colour JPEG on disk."""
    img = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    ImageDraw.Draw(img).ellipse([1000, 600, 4000, 3400], fill=(200, 40, 40))
    path = tmp_path_factory.mktemp("photo") / "big.jpg"
    img.save(path, format="JPEG", quality=85)
    return path


def test_a_24_megapixel_jpeg_upload_is_never_decoded_in_full(photo_24mp):
    """Uploading a 24 MP JPEG, tinting with it and serving its thumbnail grows peak memory by under 40 MB (a full decode needs 72 MB)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(photo_24mp), fake_key("u")],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    grown_mb, made_picture, made_thumb = done.stdout.split()
    assert (made_picture, made_thumb) == ("True", "True")
    assert float(grown_mb) < 40


def test_thumbnail_of_a_large_jpeg_is_a_true_128_square_of_its_centre(photo_24mp):
    """The reduced-scale decode still gives a 128×128 PNG whose centre shows the photo's red disc."""
    from batchcore.emulator.images import thumbnail

    with Image.open(io.BytesIO(thumbnail(photo_24mp.read_bytes()))) as thumb:
        assert (thumb.format, thumb.size) == ("PNG", (128, 128))
        r, g, b = thumb.convert("RGB").getpixel((64, 64))
    assert r > 150 and g < 90 and b < 90


# --- the multipart reader against the plain reading it replaced ------------------------


def _split_reading(content_type: str, body: bytes) -> list[FilePart]:
    """The obvious reading: split on the delimiter, stop at the closing one, strip CRLFs."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    assert found is not None
    boundary = found.group(1)
    parts = []
    for chunk in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data[:-2] if data.endswith(b"\r\n") else data
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        field = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        parts.append(FilePart(field.group(1) if field else "", filename.group(1) if filename else None,
                              headers.get("content-type", "text/plain"), data))
    return parts


_pieces = st.sampled_from([
    b"--b", b"\r\n", b"\r\n\r\n", b"--", b"x", b"\0\xff",
    b'Content-Disposition: form-data; name="images"; filename="a.png"',
    b"Content-Type: image/png",
])


@given(st.lists(_pieces, max_size=30))
def test_multipart_reader_reads_what_a_plain_split_reads(pieces):
    """On any body built from boundaries, CRLFs, headers and bytes, the offset-based reader gives exactly the split reading's parts."""
    body = b"".join(pieces)
    content_type = "multipart/form-data; boundary=b"
    assert parse_multipart(content_type, body) == _split_reading(content_type, body)


def test_multipart_reader_reads_a_real_form():
    """A form encoded by httpx comes back as its files, bytes intact, in order."""
    import httpx

    files = [("images", ("a.png", b"\x89PNG\r\n--x\r\n", "image/png")), ("images", ("b.jpg", b"\xff\xd8" * 50, "image/jpeg"))]
    request = httpx.Request("POST", "https://emulator.local/upload-reference", files=files)
    parts = parse_multipart(request.headers["content-type"], request.read())
    assert [(p.field, p.filename, p.content_type, p.data) for p in parts] == [
        ("images", "a.png", "image/png", b"\x89PNG\r\n--x\r\n"),
        ("images", "b.jpg", "image/jpeg", b"\xff\xd8" * 50),
    ]
