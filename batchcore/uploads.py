"""Reference images: check them on our side, then upload them somewhere a batch row can point at.

Two steps, kept apart so nothing leaves the machine until the files are known to be good:

1. ``check_references(files)`` decides, before any network call, which files are acceptable
   reference images (JPG or PNG *by content*, at most 10 MB each, at most ``MAX_REF_IMAGES``
   in all, fully decodable, not a decompression bomb) and says in plain words why the others
   are refused. Accepted files get a safe name, their real mime type, their size in pixels,
   a sha256 and a small PNG thumbnail for the page's chips.
2. An *uploader* stores the accepted images and returns one ``UploadedRef`` each, whose
   ``url`` can go into a batch row's ``ref_pack_public_urls[].url``:

   * ``BackendUploader(send)``     the orchestrator's ``POST /upload-reference`` (the default);
   * ``GcsSignedUrlUploader(...)`` our own bucket by V4 signed PUT URL (the brief's plan);
   * ``LocalStoreUploader(...)``   a directory served elsewhere, for offline use.

``upload_references(files, uploader)`` does both and reports refusals next to uploads.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ValidationError

from .errors import BatchStudioError, UploadError
from .models import UploadedRef  # name, url, thumbnail_url ("" when none), gcs_uri, size, mime
from .pricing import MAX_REF_IMAGES

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_REF_BYTES",
    "THUMBNAIL_PX",
    "BackendUploader",
    "CheckResult",
    "GcsSignedUrlUploader",
    "LocalStoreUploader",
    "RefImage",
    "Refusal",
    "UploadReport",
    "UploadedRef",
    "Uploader",
    "check_references",
    "sanitize_name",
    "square_preview",
    "upload_references",
]

MAX_REF_BYTES = 10 * 1024 * 1024
"""The orchestrator's per-file limit for ``/upload-reference`` (10 MB); we apply it to every path."""

THUMBNAIL_PX = 96
"""Longest side of the PNG thumbnail made for each accepted image."""

MAX_NAME_CHARS = 80
"""Longest safe name (extension included)."""

# Pillow's format name -> (mime type, extension). MPO is the multi-picture JPEG many phones
# and cameras write; it is a JPEG file, so it is accepted as one.
_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", ".png"),
    "JPEG": ("image/jpeg", ".jpg"),
    "MPO": ("image/jpeg", ".jpg"),
}
_EXT_FOR_MIME = {"image/png": ".png", "image/jpeg": ".jpg"}

_MB = 1024 * 1024
_SIGNED_URL_MAX_TTL = timedelta(days=7)  # the V4 signing limit
_PUT_URL_TTL = timedelta(minutes=15)
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RefImage:
    """A reference image that passed every check; ``data`` is exactly what will be uploaded."""

    safe_name: str
    original_name: str
    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    sha256: str
    size: int
    thumbnail: bytes = field(default=b"", repr=False)  # PNG, longest side <= THUMBNAIL_PX

    @property
    def extension(self) -> str:
        return _EXT_FOR_MIME[self.mime]


@dataclass(frozen=True)
class Refusal:
    """A file that was refused; ``reason`` is a sentence a person understands."""

    name: str
    reason: str


@dataclass(frozen=True)
class CheckResult:
    accepted: list[RefImage]
    refused: list[Refusal]

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.refused


@dataclass(frozen=True)
class UploadReport:
    """What ``upload_references`` did: uploads in the order of ``accepted``, refusals, any error.

    When the upload itself failed, ``error`` holds the exception (its ``str`` is the message
    for the page), ``uploaded`` is empty, and ``refused`` is still filled in.
    """

    accepted: list[RefImage]
    uploaded: list[UploadedRef]
    refused: list[Refusal]
    error: BatchStudioError | None = None

    @property
    def ok(self) -> bool:
        """True when every file was accepted and uploaded."""
        return self.error is None and not self.refused

    @property
    def urls(self) -> list[str]:
        return [u.url for u in self.uploaded]


# ----------------------------------------------------------------------------- names


def _ascii_text(text: str) -> str:
    # NFKD splits accents off ("café" -> "cafe"); what is still not ASCII is dropped later.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def sanitize_name(name: str, ext: str = "") -> str:
    """Make ``name`` safe to store and show: no folders, no control characters, short.

    Only ``A-Z a-z 0-9 . _ -`` remain, the name never starts with a dot or dash, and it is
    never empty (``image`` stands in). The file's own extension is dropped and ``ext`` (for
    instance ``".png"``, the real format) is put in its place.
    """
    text = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _old_ext = text.rpartition(".")
    if not dot or not stem.strip(". "):  # "photo" or ".hidden": there is no extension to drop
        stem = text
    stem = _ascii_text(stem)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)
    stem = re.sub(r"\.{2,}", ".", stem)
    stem = re.sub(r"_{2,}", "_", stem)
    stem = stem.strip("._- ")
    ext = re.sub(r"[^A-Za-z0-9.]", "", ext)
    if ext and not ext.startswith("."):
        ext = "." + ext
    ext = ext[:10]
    stem = stem[: max(1, MAX_NAME_CHARS - len(ext))].rstrip("._-")
    if not stem:
        stem = "image"
    if stem.upper().split(".")[0] in _WINDOWS_RESERVED:
        stem = "_" + stem[: MAX_NAME_CHARS - len(ext) - 1]
    return stem + ext


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... before the extension, whichever is free (case-insensitive)."""
    if name.lower() not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    else:
        ext = "." + ext
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = stem[: MAX_NAME_CHARS - len(ext) - len(suffix)] + suffix + ext
        if candidate.lower() not in taken:
            return candidate
        n += 1


def _display(name: str) -> str:
    """The name as we show it in a refusal: printable, one line, not absurdly long."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in str(name)).strip()
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return shown or "(unnamed file)"


# ----------------------------------------------------------------------------- checking


def _human_size(n: int) -> str:
    """Sizes rounded *up* to one decimal, so a file just over a limit never reads as equal to it."""
    if n >= _MB:
        return f"{math.ceil(n * 10 / _MB) / 10:g} MB"
    return f"{max(1, math.ceil(n / 1024))} KB"


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _inspect(data: bytes, *, max_pixels: int) -> tuple[str, int, int, bytes]:
    """Decode ``data`` completely; return (pillow format, width, height, thumbnail PNG) or raise _Refused."""
    bomb = (
        "is too large in pixels to be read safely "
        f"(the limit is {max_pixels:,} pixels); make it smaller and try again."
    )
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "").upper()
            if fmt not in _FORMATS:
                kind = f"a {fmt} image" if fmt else "not an image we can read"
                raise _Refused(f"is {kind}; only JPG and PNG images are accepted.")
            width, height = im.size
            if width * height > max_pixels:
                raise _Refused(bomb)
            im.verify()  # checksums and structure (PNG CRCs, chunk order) without decoding
        # verify() leaves the image unusable: open again and decode every pixel.
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            thumb = im.copy()
    except _Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _Refused(bomb) from None
    except UnidentifiedImageError:
        raise _Refused("is not a JPG or PNG image (its content is not an image we can read).") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, IndexError, TypeError, AttributeError):
        # Pillow reports broken files through a handful of exception types.
        raise _Refused("is damaged or incomplete (the image could not be read to the end).") from None
    return fmt, width, height, _thumbnail(thumb)


def _thumbnail(im: Image.Image) -> bytes:
    """A PNG no larger than THUMBNAIL_PX on its longest side; b"" if this image mode cannot make one."""
    try:
        return _make_thumbnail(im)
    except (OSError, ValueError):
        return b""


def _make_thumbnail(im: Image.Image) -> bytes:
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGBA" if "transparency" in im.info or im.mode in ("P", "PA") else "RGB")
    im.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    im.save(out, format="PNG", optimize=True)
    return out.getvalue()


def square_preview(data: bytes, px: int = THUMBNAIL_PX) -> bytes:
    """``data`` (any image Pillow reads) fitted into a transparent ``px`` × ``px`` PNG, so
    previews of landscape and portrait images line up; b"" if it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGBA")
            im.thumbnail((px, px))
            canvas = Image.new("RGBA", (px, px), (0, 0, 0, 0))
            canvas.paste(im, ((px - im.width) // 2, (px - im.height) // 2))
    except (OSError, ValueError, Image.DecompressionBombError):
        return b""
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def check_references(
    files: Sequence[tuple[str, bytes]],
    *,
    already: int = 0,
    max_files: int = MAX_REF_IMAGES,
    max_bytes: int = MAX_REF_BYTES,
    max_pixels: int | None = None,
) -> CheckResult:
    """Decide which ``(name, bytes)`` files are acceptable reference images. No network.

    Files are taken in order. ``already`` counts reference images the batch already has, so
    the total stays within ``max_files``; refused files do not use up a place, and once the
    limit is reached every further file is refused naming the limit (without being decoded). ``max_pixels`` defaults to Pillow's decompression-bomb limit.
    The same picture twice is accepted once. Names are made safe and unique.
    """
    if max_pixels is None:
        max_pixels = Image.MAX_IMAGE_PIXELS or 89_478_485
    accepted: list[RefImage] = []
    refused: list[Refusal] = []
    taken: set[str] = set()
    seen: dict[str, str] = {}
    room = max(0, max_files - already)

    for name, data in files:
        original = str(name)
        shown = _display(original)

        def refuse(reason: str) -> None:
            refused.append(Refusal(name=shown, reason=f"'{shown}' {reason}"))

        if len(accepted) >= room:
            refuse(
                f"was not added: at most {max_files} reference images are allowed"
                + (f" and {already} are already attached." if already else ".")
            )
            continue
        data = bytes(data)
        if not data:
            refuse("is empty (0 bytes).")
            continue
        if len(data) > max_bytes:
            refuse(f"is {_human_size(len(data))}; each reference image must be at most {_human_size(max_bytes)}.")
            continue
        try:
            fmt, width, height, thumb = _inspect(data, max_pixels=max_pixels)
        except _Refused as r:
            refuse(r.reason)
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            refuse(f"is the same picture as '{seen[digest]}', which is already in the set.")
            continue
        mime, ext = _FORMATS[fmt]
        safe = _unique(sanitize_name(original, ext), taken)
        taken.add(safe.lower())
        seen[digest] = shown
        accepted.append(
            RefImage(
                safe_name=safe,
                original_name=original,
                data=data,
                mime=mime,
                width=width,
                height=height,
                sha256=digest,
                size=len(data),
                thumbnail=thumb,
            )
        )
    return CheckResult(accepted=accepted, refused=refused)


# ----------------------------------------------------------------------------- uploaders


class Uploader(Protocol):
    def upload(self, images: Sequence[RefImage]) -> list[UploadedRef]:
        """Store every image; return one UploadedRef per image, in the same order."""
        ...


def _content_name(image: RefImage) -> str:
    return image.sha256 + image.extension


def _coerce_ref(item: Any, image: RefImage) -> UploadedRef:
    """An UploadedRef (ours or any model/dict in the server's shape), gaps filled from ``image``."""
    try:
        if isinstance(item, BaseModel) and not isinstance(item, UploadedRef):
            item = item.model_dump()
        ref = item if isinstance(item, UploadedRef) else UploadedRef.model_validate(item)
    except (ValidationError, ValueError, TypeError):
        ref = None
    if ref is None or not ref.url:
        raise UploadError(
            "The server's answer to the reference upload had no usable image URL; nothing can be attached."
        )
    update: dict[str, Any] = {}
    if not ref.name:
        update["name"] = image.safe_name
    if ref.size is None:
        update["size"] = image.size
    if not ref.mime:
        update["mime"] = image.mime
    return ref.model_copy(update=update) if update else ref


class BackendUploader:
    """Upload through the orchestrator's ``POST /upload-reference`` (multipart field ``images``).

    ``send(files)`` receives ``[(name, bytes, mime), ...]`` and returns one result per file in
    the same order; pass the API client's ``upload_references`` method. Errors that are
    already Batch Studio errors (e.g. ``AuthError``) pass through unchanged.
    """

    def __init__(self, send: Callable[[list[tuple[str, bytes, str]]], Sequence[Any]]) -> None:
        self._send = send

    def upload(self, images: Sequence[RefImage]) -> list[UploadedRef]:
        if not images:
            return []
        files = [(img.safe_name, img.data, img.mime) for img in images]
        try:
            results = list(self._send(files))
        except BatchStudioError:
            raise
        except Exception as exc:  # an unexpected failure in the transport: say so, reveal nothing
            raise UploadError(
                f"The reference upload to the server failed ({type(exc).__name__}); nothing was attached."
            ) from exc
        if len(results) != len(images):
            raise UploadError(
                f"The server stored {len(results)} of the {len(images)} reference images sent; "
                "nothing was attached. Try again."
            )
        return [_coerce_ref(item, img) for item, img in zip(results, images)]


class GcsSignedUrlUploader:
    """Upload straight to our own Cloud Storage bucket by V4 signed URLs.

    For each image: sign a PUT URL for ``<prefix><sha256>.<ext>`` with the image's mime type,
    PUT the bytes with httpx, then sign a GET URL valid for ``url_ttl`` (at most 7 days) and
    return it as the reference URL. Object names are content-addressed, so uploading the same
    picture twice rewrites the same object with the same bytes. ``credentials`` must be able
    to sign (e.g. ``google.oauth2.service_account.Credentials``). ``api_endpoint`` points the
    URLs somewhere other than ``https://storage.googleapis.com`` (an emulator, a proxy).
    Messages never contain a signed URL or anything from the credentials.
    """

    def __init__(
        self,
        bucket: str,
        credentials: Any,
        *,
        http: httpx.Client | None = None,
        api_endpoint: str | None = None,
        prefix: str = "refs/",
        url_ttl: timedelta = _SIGNED_URL_MAX_TTL,
    ) -> None:
        if not bucket or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]", bucket):
            raise ValueError("bucket must be a Cloud Storage bucket name (lower case, digits, . _ -)")
        if not timedelta(seconds=1) <= url_ttl <= _SIGNED_URL_MAX_TTL:
            raise ValueError("url_ttl must be between 1 second and 7 days (the V4 signed URL limit)")
        if prefix and (prefix.startswith("/") or ".." in prefix.split("/")):
            raise ValueError("prefix must be a relative object name prefix such as 'refs/'")
        self.bucket = bucket
        self.prefix = prefix
        self.url_ttl = url_ttl
        self.api_endpoint = (api_endpoint or "https://storage.googleapis.com").rstrip("/")
        self._credentials = credentials
        self._http = http
        self._bucket_obj: Any = None

    def _blob(self, object_name: str) -> Any:
        if self._bucket_obj is None:
            from google.cloud import storage  # imported late: only this uploader needs it

            project = getattr(self._credentials, "project_id", None) or "batch-studio"
            client = storage.Client(project=project, credentials=self._credentials)
            self._bucket_obj = client.bucket(self.bucket)
        return self._bucket_obj.blob(object_name)

    def object_name(self, image: RefImage) -> str:
        return self.prefix + _content_name(image)

    def _sign(self, blob: Any, method: str, ttl: timedelta, content_type: str | None, name: str) -> str:
        try:
            return blob.generate_signed_url(
                version="v4",
                method=method,
                expiration=ttl,
                content_type=content_type,
                api_access_endpoint=self.api_endpoint,
            )
        except Exception as exc:
            raise UploadError(
                f"Could not sign an upload URL for '{name}': the configured Google credentials "
                f"cannot sign URLs ({type(exc).__name__}). A service-account key is needed."
            ) from None

    def upload(self, images: Sequence[RefImage]) -> list[UploadedRef]:
        if not images:
            return []
        http = self._http or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        try:
            return [self._upload_one(http, img) for img in images]
        finally:
            if self._http is None:
                http.close()

    def _upload_one(self, http: httpx.Client, image: RefImage) -> UploadedRef:
        name = image.safe_name
        blob = self._blob(self.object_name(image))
        put_url = self._sign(blob, "PUT", _PUT_URL_TTL, image.mime, name)
        try:
            response = http.put(put_url, content=image.data, headers={"Content-Type": image.mime})
        except httpx.HTTPError as exc:
            raise UploadError(
                f"Could not reach the storage bucket to upload '{name}' ({type(exc).__name__}); "
                "it was not stored. Check the connection and try again."
            ) from None
        if not 200 <= response.status_code < 300:
            code = re.search(r"<Code>([A-Za-z]{1,64})</Code>", response.text or "")
            why = f", {code.group(1)}" if code else ""
            raise UploadError(
                f"The storage bucket refused '{name}' (HTTP {response.status_code}{why}); it was not stored."
            )
        get_url = self._sign(blob, "GET", self.url_ttl, None, name)
        return UploadedRef(
            name=name, url=get_url, gcs_uri=f"gs://{self.bucket}/{blob.name}", size=image.size, mime=image.mime
        )


class LocalStoreUploader:
    """Store images in a directory (content-addressed) served at ``public_base_url``; for offline use."""

    def __init__(self, root: Path | str, public_base_url: str) -> None:
        self.root = Path(root)
        self.public_base_url = public_base_url.rstrip("/")

    def path_for(self, image: RefImage) -> Path:
        return self.root / _content_name(image)

    def upload(self, images: Sequence[RefImage]) -> list[UploadedRef]:
        out: list[UploadedRef] = []
        for image in images:
            target = self.path_for(image)
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                if not (target.is_file() and target.read_bytes() == image.data):
                    fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
                    try:
                        with os.fdopen(fd, "wb") as fh:
                            fh.write(image.data)
                        os.replace(tmp, target)
                    except BaseException:
                        Path(tmp).unlink(missing_ok=True)
                        raise
            except OSError as exc:
                raise UploadError(
                    f"Could not store '{image.safe_name}' in the local reference folder "
                    f"({exc.strerror or type(exc).__name__})."
                ) from None
            out.append(
                UploadedRef(
                    name=image.safe_name,
                    url=f"{self.public_base_url}/{target.name}",
                    size=image.size,
                    mime=image.mime,
                )
            )
        return out


# ----------------------------------------------------------------------------- both steps


def upload_references(
    files: Sequence[tuple[str, bytes]],
    uploader: Uploader,
    *,
    already: int = 0,
    max_pixels: int | None = None,
) -> UploadReport:
    """Check ``files``, upload the accepted ones, and report refusals next to the uploads.

    Nothing is sent when nothing is accepted. A failed upload does not raise: it comes back
    as ``report.error`` (a ``BatchStudioError``) with the refusals still reported.
    """
    checked = check_references(files, already=already, max_pixels=max_pixels)
    if not checked.accepted:
        return UploadReport(accepted=[], uploaded=[], refused=checked.refused)
    try:
        uploaded = list(uploader.upload(checked.accepted))
    except BatchStudioError as exc:
        return UploadReport(accepted=checked.accepted, uploaded=[], refused=checked.refused, error=exc)
    if len(uploaded) != len(checked.accepted):
        err = UploadError(
            f"Only {len(uploaded)} of {len(checked.accepted)} reference images were stored; "
            "nothing was attached. Try again."
        )
        return UploadReport(accepted=checked.accepted, uploaded=[], refused=checked.refused, error=err)
    return UploadReport(accepted=checked.accepted, uploaded=uploaded, refused=checked.refused)
