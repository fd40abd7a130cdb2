"""Reference images: check them on our side, then upload them somewhere a batch row can point at.

Two steps, kept apart so nothing leaves the machine until the files are known to be good:

1. ``check_references(files)`` decides, before any network call, which files are acceptable
   reference images and says in plain words why the others are refused: JPG or PNG *by
   content* (whatever the name says), at most 10 MB each, at most ``MAX_REF_PIXELS`` (40 MP)
   each, whole (not cut short, every PNG CRC right), at most ``MAX_REF_IMAGES`` in all
   counting those already attached, a plain file name (no folders, no NUL). Sizes in pixels
   come from the file's header before anything is decoded (``batchcore.adapters.imagecheck``); a JPEG
   is only decoded at reduced scale. Accepted files get a safe name, their real mime type,
   their size in pixels, a sha256 and a small PNG thumbnail for the page's chips.
2. An *uploader* stores the accepted images and returns one ``UploadedRef`` each, whose
   ``url`` can go into a batch row's ``ref_pack_public_urls[].url``:

   * ``BackendUploader(send)``     the orchestrator's ``POST /upload-reference`` (the default);
   * ``GcsSignedUrlUploader(...)`` our own bucket by V4 signed PUT URL (the brief's plan);
   * ``LocalStoreUploader(...)``   a directory served elsewhere, for offline use.

``upload_references(files, uploader)`` does both and reports refusals (the file is not
acceptable) apart from failures (the file is fine but storing it failed): ``report.failed``
can be sent again as it is with ``upload_checked(report.failed, uploader)``.

Bytes are passed through, not copied: ``bytes`` (what Streamlit's ``UploadedFile.getvalue()``
returns, without a copy) and read-only ``memoryview`` s are kept as they are from the upload
widget to the HTTP body; only a writable buffer is copied once, so what was checked is what is sent.
Every message is plain text meant to be shown as text (never as markdown or HTML).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from batchcore.adapters import imagecheck
from batchcore.adapters.imagecheck import MAX_REF_PIXELS, THUMBNAIL_PX, ImageRefused, as_buffer
from batchcore.domain.pricing import MAX_REF_IMAGES
from batchcore.errors import BatchStudioError, UploadError
from batchcore.wire.models import (
    UploadedRef,  # name, url, thumbnail_url ("" when none), gcs_uri, size, mime
)

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_REF_BYTES",
    "MAX_REF_IMAGES",
    "MAX_REF_PIXELS",
    "THUMBNAIL_PX",
    "BackendUploader",
    "CheckResult",
    "FailedUpload",
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
    "upload_checked",
    "upload_references",
]

MAX_REF_BYTES = 10 * 1024 * 1024
"""The orchestrator's per-file limit for ``/upload-reference`` (10 MB); we apply it to every path."""

MAX_NAME_CHARS = 80
"""Longest safe name (extension included)."""

_EXT_FOR_MIME = {"image/png": ".png", "image/jpeg": ".jpg"}

_MB = 1024 * 1024
_PUT_CHUNK = _MB  # a PUT body given as a memoryview goes out in slices of this size
_SIGNED_URL_MAX_TTL = timedelta(days=7)  # the V4 signing limit
_PUT_URL_TTL = timedelta(minutes=15)
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RefImage:
    """A reference image that passed every check; ``data`` is exactly what will be uploaded.

    ``data`` is the caller's own ``bytes`` (or read-only ``memoryview``), not a copy.
    """

    safe_name: str
    original_name: str
    data: bytes | memoryview = field(repr=False)
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
    """A file that was refused; ``reason`` is a sentence a person understands (plain text)."""

    name: str
    reason: str


@dataclass(frozen=True)
class FailedUpload:
    """An accepted image whose upload failed; ``image`` can be sent again as it is.

    ``name`` is the image's safe name, ``reason`` a plain-text sentence naming it, ``error``
    the exception behind it (an ``AuthError`` means: fix the key before trying again).
    """

    name: str
    reason: str
    image: RefImage = field(repr=False)
    error: BatchStudioError = field(repr=False)


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
    """What ``upload_references`` / ``upload_checked`` did.

    * ``accepted``: the images that passed the checks and were sent (in order);
    * ``uploaded`` / ``uploaded_images``: what was stored, pairwise (``attached`` zips them):
      with an uploader that stores image by image, some can be stored while others fail, so
      never zip ``accepted`` with ``uploaded``;
    * ``refused``: files that are not acceptable (sending them again cannot help);
    * ``failed``: accepted images that were not stored, each with its reason; offer them
      again with ``upload_checked(report.failed, uploader, already=...)``;
    * ``error``: the first upload failure (its ``str`` is a sentence for the page), or None.
    """

    accepted: list[RefImage]
    uploaded: list[UploadedRef]
    refused: list[Refusal]
    error: BatchStudioError | None = None
    failed: list[FailedUpload] = field(default_factory=list)
    uploaded_images: list[RefImage] | None = None

    def __post_init__(self) -> None:
        if self.uploaded_images is None:  # built by hand with everything stored: pairs follow `accepted`
            images = list(self.accepted) if len(self.accepted) == len(self.uploaded) else []
            object.__setattr__(self, "uploaded_images", images)

    @property
    def ok(self) -> bool:
        """True when every file was accepted and uploaded."""
        return self.error is None and not self.refused and not self.failed

    @property
    def urls(self) -> list[str]:
        return [u.url for u in self.uploaded]

    @property
    def attached(self) -> list[tuple[RefImage, UploadedRef]]:
        """(image, stored ref) for every image that was stored, in the order sent."""
        return list(zip(self.uploaded_images or [], self.uploaded))

    @property
    def retryable(self) -> list[RefImage]:
        """The images of ``failed``, ready for ``upload_checked``."""
        return [f.image for f in self.failed]


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


def _name_problem(name: str) -> str | None:
    """Why a file name cannot be taken as it is (a NUL, folders), or None.

    Browsers send a plain file name; a NUL or a folder in it means a forged or broken upload.
    """
    if "\x00" in name:
        return "has a NUL character in its file name; rename the file and try again."
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        return (
            "has folder names in its file name ('/' or '\\'); only a plain file name is accepted. "
            "Rename the file and try again."
        )
    return None


def square_preview(data: bytes | memoryview, px: int = THUMBNAIL_PX) -> bytes:
    """``data`` (a PNG, JPEG, GIF or WebP) fitted into a transparent ``px`` × ``px`` PNG, so
    previews of landscape and portrait images line up; b"" if it cannot be read or is over
    ``MAX_REF_PIXELS``. Sizes come from the header first; a JPEG is decoded at reduced scale."""
    return imagecheck.preview(data, px, square=True)


def _limit_refusal(max_files: int, already: int) -> str:
    return f"was not added: at most {max_files} reference images are allowed" + (
        f" and {already} are already attached." if already else "."
    )


def check_references(
    files: Sequence[tuple[str, bytes | bytearray | memoryview]],
    *,
    already: int = 0,
    max_files: int = MAX_REF_IMAGES,
    max_bytes: int = MAX_REF_BYTES,
    max_pixels: int | None = None,
) -> CheckResult:
    """Decide which ``(name, bytes)`` files are acceptable reference images. No network.

    Files are taken in order. ``already`` counts reference images the batch already has, so
    the total stays within ``max_files``; refused files do not use up a place, and once the
    limit is reached every further file is refused naming the limit (without being read).
    ``max_files``, ``max_bytes`` and ``max_pixels`` can lower the limits, never raise them
    above ``MAX_REF_IMAGES`` (6, the server's own), ``MAX_REF_BYTES`` (10 MB) and
    ``MAX_REF_PIXELS`` (40 MP). The same picture twice is accepted once. Names are made safe
    and unique. No file name or content makes this raise.
    """
    max_files = max(0, min(int(max_files), MAX_REF_IMAGES))
    max_bytes = max(0, min(int(max_bytes), MAX_REF_BYTES))
    already = max(0, int(already))
    accepted: list[RefImage] = []
    refused: list[Refusal] = []
    taken: set[str] = set()
    seen: dict[str, str] = {}
    room = max(0, max_files - already)

    for name, raw in files:
        original = name.decode("utf-8", "replace") if isinstance(name, (bytes, bytearray)) else str(name)
        shown = _display(original)

        def refuse(reason: str, shown: str = shown) -> None:
            refused.append(Refusal(name=shown, reason=f"'{shown}' {reason}"))

        if len(accepted) >= room:
            refuse(_limit_refusal(max_files, already))
            continue
        problem = _name_problem(original)
        if problem:
            refuse(problem)
            continue
        try:
            data = as_buffer(raw)
        except TypeError:
            refuse("could not be read (it is not a file's bytes).")
            continue
        if not len(data):
            refuse("is empty (0 bytes).")
            continue
        if len(data) > max_bytes:
            refuse(f"is {_human_size(len(data))}; each reference image must be at most {_human_size(max_bytes)}.")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:  # before decoding: the same picture is not checked twice
            refuse(f"is the same picture as '{seen[digest]}', which is already in the set.")
            continue
        try:
            facts = imagecheck.inspect(data, max_pixels=max_pixels)
        except ImageRefused as r:
            refuse(r.reason)
            continue
        safe = _unique(sanitize_name(original, facts.extension), taken)
        taken.add(safe.lower())
        seen[digest] = shown
        accepted.append(
            RefImage(
                safe_name=safe,
                original_name=original,
                data=data,
                mime=facts.mime,
                width=facts.width,
                height=facts.height,
                sha256=digest,
                size=len(data),
                thumbnail=facts.thumbnail,
            )
        )
    return CheckResult(accepted=accepted, refused=refused)


# ----------------------------------------------------------------------------- uploaders


class Uploader(Protocol):
    """Stores images. May also offer ``upload_each(images)`` returning, per image in order,
    its ``UploadedRef`` or the ``BatchStudioError`` that stopped it, so that one failure does
    not discard the images that were stored (GCS and local uploaders do)."""

    def upload(self, images: Sequence[RefImage]) -> list[UploadedRef]:
        """Store every image; return one UploadedRef per image, in the same order."""
        ...


def _content_name(image: RefImage) -> str:
    return image.sha256 + image.extension


def _guard_count(images: Sequence[RefImage]) -> None:
    """The server answers 500 to more than 6 files: no uploader sends more, whoever calls it."""
    if len(images) > MAX_REF_IMAGES:
        raise UploadError(
            f"At most {MAX_REF_IMAGES} reference images can be uploaded at once and {len(images)} "
            "were given, so nothing was sent."
        )


def _as_bytes(data: bytes | memoryview) -> bytes:
    return data if isinstance(data, bytes) else data.tobytes()


def _put_body(data: bytes | memoryview) -> tuple[bytes | Iterator[bytes], dict[str, str]]:
    """The PUT body without a copy: bytes as they are; a view in 1 MB slices with its length
    given, so the request is not chunked (Cloud Storage's XML API wants a Content-Length)."""
    if isinstance(data, bytes):
        return data, {}
    view = data

    def slices() -> Iterator[bytes]:
        for start in range(0, len(view), _PUT_CHUNK):
            yield view[start : start + _PUT_CHUNK].tobytes()

    return slices(), {"Content-Length": str(len(view))}


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
        _guard_count(images)
        files = [(img.safe_name, _as_bytes(img.data), img.mime) for img in images]
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


class _Unreachable(UploadError):
    """The storage could not be reached at all (as opposed to refusing one object)."""


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
            from google.cloud import (
                storage,  # imported late: only this uploader needs it
            )

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
        """Store every image or raise the first failure (``upload_each`` keeps going instead)."""
        if not images:
            return []
        _guard_count(images)
        http = self._http or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        try:
            return [self._upload_one(http, img) for img in images]
        finally:
            if self._http is None:
                http.close()

    def upload_each(self, images: Sequence[RefImage]) -> list[UploadedRef | BatchStudioError]:
        """Per image, its ref or its error. After the bucket proved unreachable the rest are not tried."""
        if not images:
            return []
        _guard_count(images)
        http = self._http or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        out: list[UploadedRef | BatchStudioError] = []
        unreachable = False
        try:
            for img in images:
                if unreachable:
                    out.append(UploadError(
                        f"'{img.safe_name}' was not sent: the storage bucket could not be reached "
                        "for an earlier image. Check the connection and try again."
                    ))
                    continue
                try:
                    out.append(self._upload_one(http, img))
                except _Unreachable as exc:
                    unreachable = True
                    out.append(exc)
                except UploadError as exc:
                    out.append(exc)
        finally:
            if self._http is None:
                http.close()
        return out

    def _upload_one(self, http: httpx.Client, image: RefImage) -> UploadedRef:
        name = image.safe_name
        blob = self._blob(self.object_name(image))
        put_url = self._sign(blob, "PUT", _PUT_URL_TTL, image.mime, name)
        body, length = _put_body(image.data)
        try:
            response = http.put(put_url, content=body, headers={"Content-Type": image.mime, **length})
        except httpx.HTTPError as exc:
            raise _Unreachable(
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
        """Store every image or raise the first failure."""
        _guard_count(images)
        return [self._store(image) for image in images]

    def upload_each(self, images: Sequence[RefImage]) -> list[UploadedRef | BatchStudioError]:
        """Per image, its ref or its error."""
        _guard_count(images)
        out: list[UploadedRef | BatchStudioError] = []
        for image in images:
            try:
                out.append(self._store(image))
            except UploadError as exc:
                out.append(exc)
        return out

    def _store(self, image: RefImage) -> UploadedRef:
        target = self.path_for(image)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not _holds(target, image):
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
        return UploadedRef(
            name=image.safe_name,
            url=f"{self.public_base_url}/{target.name}",
            size=image.size,
            mime=image.mime,
        )


def _holds(target: Path, image: RefImage) -> bool:
    """True when ``target`` already holds exactly ``image`` (size, then sha256 read in chunks)."""
    if not target.is_file() or target.stat().st_size != image.size:
        return False
    with target.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest() == image.sha256


# ----------------------------------------------------------------------------- both steps


def _store_all(uploader: Uploader, images: list[RefImage]) -> list[UploadedRef | BatchStudioError]:
    """Per image, what storing it gave: its ref, or the error that stopped it. Never raises."""
    each = getattr(uploader, "upload_each", None)
    try:
        if callable(each):
            outcomes = list(each(images))
            if len(outcomes) == len(images) and all(
                isinstance(o, (UploadedRef, BatchStudioError)) for o in outcomes
            ):
                return outcomes
        else:
            outcomes = list(uploader.upload(images))
            if len(outcomes) == len(images) and all(isinstance(o, UploadedRef) for o in outcomes):
                return outcomes
        stored = sum(isinstance(o, UploadedRef) for o in outcomes)
        error: BatchStudioError = UploadError(
            f"Only {stored} of {len(images)} reference images were stored; nothing was attached. Try again."
        )
    except BatchStudioError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - an uploader's own bug must not become a traceback on the page
        error = UploadError(
            f"The reference upload failed ({type(exc).__name__}); nothing was attached. Try again."
        )
    return [error] * len(images)


def _failure_reason(image: RefImage, error: BatchStudioError) -> str:
    text = str(error)
    quoted = f"'{image.safe_name}'"
    return text if quoted in text else f"{quoted} was not uploaded: {text}"


def upload_checked(
    images: Sequence[RefImage | FailedUpload],
    uploader: Uploader,
    *,
    already: int = 0,
) -> UploadReport:
    """Upload images that already passed ``check_references``, e.g. ``report.failed`` again.

    At most ``MAX_REF_IMAGES`` minus ``already`` are sent; each further image is refused
    naming the limit. A failure never raises: it is in ``report.failed`` (per image, with
    its reason) and ``report.error`` (the first one); what was stored is in ``report.attached``.
    """
    items = [i.image if isinstance(i, FailedUpload) else i for i in images]
    already = max(0, int(already))
    room = max(0, MAX_REF_IMAGES - already)
    send, extra = items[:room], items[room:]
    refused = [
        Refusal(name=img.safe_name, reason=f"'{img.safe_name}' {_limit_refusal(MAX_REF_IMAGES, already)}")
        for img in extra
    ]
    if not send:
        return UploadReport(accepted=[], uploaded=[], refused=refused, uploaded_images=[])
    outcomes = _store_all(uploader, send)
    uploaded: list[UploadedRef] = []
    uploaded_images: list[RefImage] = []
    failed: list[FailedUpload] = []
    for image, outcome in zip(send, outcomes):
        if isinstance(outcome, UploadedRef):
            uploaded.append(outcome)
            uploaded_images.append(image)
        else:
            failed.append(FailedUpload(name=image.safe_name, reason=_failure_reason(image, outcome),
                                       image=image, error=outcome))
    return UploadReport(
        accepted=send,
        uploaded=uploaded,
        refused=refused,
        error=failed[0].error if failed else None,
        failed=failed,
        uploaded_images=uploaded_images,
    )


def upload_references(
    files: Sequence[tuple[str, bytes | bytearray | memoryview]],
    uploader: Uploader,
    *,
    already: int = 0,
    max_pixels: int | None = None,
) -> UploadReport:
    """Check ``files``, upload the accepted ones, and report refusals next to the uploads.

    Nothing is sent when nothing is accepted; never more than ``MAX_REF_IMAGES`` minus
    ``already``. A failed upload does not raise: ``report.failed`` lists the images that can
    be sent again, ``report.error`` is the first failure, and the refusals are still reported.
    """
    checked = check_references(files, already=already, max_pixels=max_pixels)
    if not checked.accepted:
        return UploadReport(accepted=[], uploaded=[], refused=checked.refused, uploaded_images=[])
    report = upload_checked(checked.accepted, uploader, already=already)
    return replace(report, refused=checked.refused + report.refused)
