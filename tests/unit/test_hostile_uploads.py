"""The hostile-upload corpus (tests/data/hostile/uploads.jsonl): every case ends in the outcome it names, never an exception.

Each line describes a file by how to make it (``make``, built here from a fixed seed; no binary
file is kept in the repository), the name it arrives with, and what must happen:
``"expect": "accepted"`` with ``facts`` to check, or ``"expect": "refused"`` with the phrases
the refusal must say. Every case also goes through ``upload_references`` (a refused file is
never sent) and ``square_preview`` (which answers a PNG or b"", nothing else).
"""

from __future__ import annotations

import io
import json
import random
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from batchcore.adapters.uploads import (
    MAX_NAME_CHARS,
    THUMBNAIL_PX,
    check_references,
    square_preview,
    upload_references,
)
from batchcore.wire.models import UploadedRef

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile" / "uploads.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


# ----------------------------------------------------------------------------- builders


def _chunk(kind: bytes, payload: bytes, *, bad_crc: bool = False) -> bytes:
    crc = zlib.crc32(kind + payload) ^ (1 if bad_crc else 0)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png(make: dict, rng: random.Random) -> bytes:
    """A PNG written chunk by chunk, so broken and enormous ones can be described too."""
    width, height = make["size"]
    depth, ctype = make.get("bit_depth", 8), make.get("color_type", 2)
    interlace = make.get("interlace", 0)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    row_bytes = (width * channels * depth + 7) // 8
    rows = make["rows"]
    if rows in ("flat", "noise", "short") and interlace:
        im = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        out = io.BytesIO()
        im.save(out, format="PNG", interlace=1)
        return out.getvalue()  # Pillow writes Adam7 when asked
    comp = zlib.compressobj(1)
    if rows == "flat":
        line = b"\x00" + b"\x80" * row_bytes
        idat = b"".join(comp.compress(line) for _ in range(height)) + comp.flush()
    elif rows in ("noise", "short", "extra"):
        count = {"noise": height, "short": height // 2, "extra": height * 2}[rows]
        idat = b"".join(comp.compress(b"\x00" + rng.randbytes(row_bytes)) for _ in range(count)) + comp.flush()
    elif rows == "garbage":
        idat = rng.randbytes(400)
    elif rows == "claim":  # a header that claims the size, a tiny compressed body
        idat = zlib.compress(b"\x00" * 64)
    else:  # "none"
        idat = bytes.fromhex(make["idat"]) if "idat" in make else b""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, interlace)
    body = _chunk(b"IHDR", ihdr)
    if make.get("private_chunks"):
        body += _chunk(b"prVt", b"") * make["private_chunks"]
    if make.get("private_chunk_bytes"):
        body += _chunk(b"prVt", rng.randbytes(make["private_chunk_bytes"]))
    if rows != "none" or idat:
        body += _chunk(b"IDAT", idat, bad_crc=make.get("crc_error") == "IDAT")
    if not make.get("no_iend"):
        body += _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _image(make: dict, rng: random.Random) -> bytes:
    mode = make.get("mode", "RGBA" if make["fmt"] in ("PNG", "ICO") else "RGB")
    size = tuple(make["size"])
    if make.get("noise"):
        bands = len(Image.new(mode, (1, 1)).getbands())
        im = Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * bands))
    elif mode == "P":
        im = Image.new("P", size, 3)
    else:
        im = Image.new(mode, size, tuple(rng.randrange(256) for _ in Image.new(mode, (1, 1)).getbands()))
    save = dict(make.get("save", {}))
    if "orientation" in make:
        exif = Image.Exif()
        exif[0x0112] = make["orientation"]
        save["exif"] = exif.tobytes()
    out = io.BytesIO()
    im.save(out, format=make["fmt"], **save)
    return out.getvalue()


def _apng(make: dict, rng: random.Random) -> bytes:
    frames = [Image.new("RGB", tuple(make["size"]), (rng.randrange(256), 0, 0)) for _ in range(make["frames"])]
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    return out.getvalue()


def _mpo(make: dict, rng: random.Random) -> bytes:
    frames = [Image.new("RGB", tuple(make["size"]), (0, rng.randrange(256), 0)) for _ in range(2)]
    out = io.BytesIO()
    frames[0].save(out, format="MPO", save_all=True, append_images=frames[1:])
    return out.getvalue()


def _jpeg_claim(make: dict, rng: random.Random) -> bytes:
    """SOI, a baseline SOF0 claiming the size, a scan header, a few bytes, EOI."""
    width, height = make["size"]
    sof = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"
    return (b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof
            + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos + rng.randbytes(32) + b"\xff\xd9")


def _jpeg_comments(make: dict, rng: random.Random) -> bytes:
    good = _image({"fmt": "JPEG", "size": [16, 16]}, rng)
    comment = b"\xff\xfe\x00\x03x"
    return good[:2] + comment * make["count"] + good[2:]


def build(make: dict, seed: int) -> bytes | bytearray | memoryview:
    rng = random.Random(seed)
    kind = make["kind"]
    if kind == "bytes":
        data = bytes.fromhex(make["hex"]) + b"\x00" * make.get("pad", 0) + rng.randbytes(make.get("random", 0))
        data += b"\xff" * make.get("fill_ff", 0)
    elif kind == "text":
        data = (make["text"] * make.get("repeat", 1)).encode("utf-8")
    elif kind == "png":
        data = _png(make, rng)
    else:
        data = {"image": _image, "apng": _apng, "mpo": _mpo, "jpeg_claim": _jpeg_claim,
                "jpeg_comments": _jpeg_comments}[kind](make, rng)
    if "cut" in make:
        data = data[: int(len(data) * make["cut"])]
    if "cut_bytes" in make:
        data = data[: -make["cut_bytes"]]
    if "trailer" in make:
        data += make["trailer"].encode()
    if make.get("as") == "bytearray":
        return bytearray(data)
    if make.get("as") == "memoryview":
        return memoryview(data)
    return data


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def upload(self, images):
        self.sent.extend(i.safe_name for i in images)
        return [UploadedRef(name=i.safe_name, url=f"https://refs.example/{i.sha256}", size=i.size, mime=i.mime)
                for i in images]


# ----------------------------------------------------------------------------- the corpus


def test_corpus_is_large_and_well_formed():
    """The corpus has at least 30 cases with unique ids, each naming an outcome and what to check."""
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)
    for case in CASES:
        assert case["expect"] in ("accepted", "refused")
        assert case["says"] if case["expect"] == "refused" else isinstance(case["facts"], dict)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_upload_case(case):
    """Each corpus file is accepted or refused exactly as the corpus says, with a printable, plain sentence."""
    data = build(case["make"], seed=len(case["id"]))
    result = check_references([(case["name"], data)])
    assert len(result.accepted) + len(result.refused) == 1

    if case["expect"] == "refused":
        assert result.accepted == [], f"{case['id']} was accepted"
        (refusal,) = result.refused
        for phrase in case["says"]:
            assert phrase in refusal.reason
        assert refusal.reason.isprintable() and refusal.reason.startswith(f"'{refusal.name}' ")
        assert refusal.reason.endswith(".") and len(refusal.name) <= 60
        assert "Traceback" not in refusal.reason and "Error" not in refusal.reason
    else:
        assert result.refused == [], result.refused[0].reason
        (ref,) = result.accepted
        facts = case["facts"]
        for key in ("mime", "width", "height", "safe_name"):
            if key in facts:
                assert getattr(ref, key) == facts[key], key
        assert SAFE_NAME.fullmatch(ref.safe_name) and len(ref.safe_name) <= MAX_NAME_CHARS
        assert ref.data == data and ref.size == len(data)
        with Image.open(io.BytesIO(ref.thumbnail)) as thumb:
            assert thumb.format == "PNG" and max(thumb.size) <= THUMBNAIL_PX
            if "thumb" in facts:
                assert list(thumb.size) == facts["thumb"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_case_through_upload_and_preview(case):
    """Through upload_references a refused file is never sent and an accepted one is; square_preview gives a PNG or b""."""
    data = build(case["make"], seed=len(case["id"]))
    uploader = Recorder()
    report = upload_references([(case["name"], data)], uploader)
    if case["expect"] == "refused":
        assert uploader.sent == [] and report.uploaded == [] and len(report.refused) == 1
    else:
        assert uploader.sent == [report.accepted[0].safe_name] and report.ok
        assert [img for img, _ref in report.attached] == report.accepted
    preview = square_preview(data, 64)
    if preview:
        with Image.open(io.BytesIO(preview)) as im:
            assert im.format == "PNG" and im.size == (64, 64)
    if case["expect"] == "accepted":
        assert preview, "an accepted image must also make a preview"
