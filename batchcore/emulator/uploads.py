"""``POST /upload-reference``: multipart field ``images``, ≤6 files, ≤10 MB each, ``image/*``.

As observed on the real server: a seventh file is a 500 (its multipart files limit fails the
upload), not the handler's own 400 "Maximum 6 reference images allowed"; a non-image or an
oversized file before that is a 400 ``invalid-request-schema``. Each stored picture gets a
128×128 thumbnail made with as little decoding as possible (``images.thumbnail``); bytes that
are no picture are stored without one.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .messages import EmuResponse, json_response

if TYPE_CHECKING:
    from .core import Emulator, RequestContext

__all__ = ["FilePart", "parse_multipart", "upload_reference"]

MAX_FILES = 6
MAX_BYTES = 10 * 1024 * 1024
_DISPOSITION_PARAM = re.compile(r';\s*([a-zA-Z*]+)="?((?<=")[^"]*|[^;]*)"?')


@dataclass(frozen=True)
class FilePart:
    field: str
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> list[FilePart] | None:
    """The parts of a ``multipart/form-data`` body (``None`` when it is not one).

    Works on offsets into ``body``: each part's bytes are copied exactly once, into its
    ``FilePart`` (six 10 MB references are not copied again and again while parsing).
    """
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        return None
    delimiter = b"--" + match.group(1).encode("latin-1")
    parts: list[FilePart] = []
    at = body.find(delimiter)
    while at >= 0:
        start = at + len(delimiter)
        at = body.find(delimiter, start)
        end = at if at >= 0 else len(body)  # this part is body[start:end]
        if body.startswith(b"--", start, end):
            break  # the closing delimiter
        if body.startswith(b"\r\n", start, end):
            start += 2
        blank = body.find(b"\r\n\r\n", start, end)
        if blank < 0:
            continue  # no header/body separator: not a part
        data_end = end - 2 if end - 2 >= blank + 4 and body.startswith(b"\r\n", end - 2) else end
        headers: dict[str, str] = {}
        for line in body[start:blank].decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        params = {k.lower(): v for k, v in _DISPOSITION_PARAM.findall(headers.get("content-disposition", ""))}
        parts.append(FilePart(
            field=params.get("name", ""),
            filename=params.get("filename"),
            content_type=headers.get("content-type", "text/plain"),
            data=body[blank + 4 : data_end],
        ))
    return parts


def _upload_failed(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    """The upload handler's catch-all: 500 internal-error."""
    return emu.problem(ctx, 500, "internal-error", "Internal Server Error", "Internal error processing upload request")


def upload_reference(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    parts = parse_multipart(ctx.req.header("content-type", "") or "", ctx.req.body)
    if parts is None:
        return _upload_failed(emu, ctx)
    files = [p for p in parts if p.filename is not None and p.field == "images"]
    kept: list[FilePart] = []
    for part in files:
        if len(kept) == MAX_FILES:
            return _upload_failed(emu, ctx)  # the seventh file: the server's files limit throws
        if not part.content_type.lower().startswith("image/"):
            return emu.invalid_schema(ctx, f"File {part.filename} is not an image. Only image files are allowed.")
        if len(part.data) > MAX_BYTES:
            return emu.invalid_schema(ctx, f"File {part.filename} exceeds 10MB limit")
        kept.append(part)
    if not kept:
        return emu.invalid_schema(ctx, "At least one image file is required")
    now = emu.now()
    serial = emu.next_serial()
    batch_id = hashlib.sha256(f"upload/{serial}/{now.isoformat()}".encode()).hexdigest()[:8]
    ms = math.floor(now.timestamp() * 1000)
    base = ctx.req.base_url
    images = []
    for i, part in enumerate(kept, start=1):
        name = part.filename or f"image_{i}"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "jpg"
        asset_id = emu.assets.add_upload(part.data, part.content_type, f"{batch_id}/{i}")
        entry = {
            "originalName": name,
            "url": emu.assets.url(base, asset_id),
            "gcsUri": f"gs://emulator-bucket/references/{batch_id}/{ms}_{i}.{ext}",
            "size": len(part.data),
            "mimeType": part.content_type,
            "uploadedAt": emu.iso(now),
        }
        if emu.assets.bytes_of(asset_id, thumb=True) is not None:
            entry["thumbnailUrl"] = emu.assets.url(base, asset_id, thumb=True)
        images.append(entry)
    return json_response({
        "success": True,
        "batchId": batch_id,
        "images": images,
        "totalSize": sum(len(p.data) for p in kept),
    })
