"""The orchestrator's answers, normalised into one set of models.

Two shapes reach us (see ``docs/backend-contract.md``):

* the real server's: ``POST /batch/images`` answers ``{batchId, jobs, results[].images[]}``
  synchronously (every row is done when the answer arrives);
* the brief's: ``{batch_job: {id, status, images}}``, then ``GET /status/:id`` →
  ``{status, progress, results}`` until the job is done.

Every model here accepts either raw shape (a ``mode="before"`` validator translates it)
as well as its own ``model_dump()``; extra fields are ignored. The ``parse_*`` functions
turn anything that does not fit into :class:`~batchcore.errors.ResponseFormatError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from batchcore.domain.pricing import PRICE_PER_IMAGE, to_decimal
from batchcore.domain.rows import BatchRow, visible
from batchcore.domain.workflow import GeneratedImage
from batchcore.errors import ResponseFormatError

__all__ = [
    "DryRunItem",
    "DryRunResult",
    "Health",
    "ImageOut",
    "JobOut",
    "JobStatus",
    "LiveResult",
    "StatusResult",
    "UploadedRef",
    "VideoBatchResult",
    "VideoItem",
    "VideoJobOut",
    "counted_cost",
    "generated_images",
    "normalize_progress",
    "normalize_status",
    "parse_dry_run",
    "parse_health",
    "parse_live",
    "parse_status",
    "parse_uploads",
    "parse_videos",
]


# --- status words and progress --------------------------------------------------------


class JobStatus(StrEnum):
    """A job's state, whatever word the server used for it."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        """True when the job will not change any more (completed, failed or canceled)."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})

_STATUS_WORDS: dict[str, JobStatus] = {
    **dict.fromkeys(
        ("queued", "pending", "starting", "ready_to_queue", "waiting", "accepted", "submitted"),
        JobStatus.QUEUED,
    ),
    **dict.fromkeys(("running", "processing", "in_progress", "started", "active"), JobStatus.RUNNING),
    **dict.fromkeys(
        ("completed", "complete", "succeeded", "success", "successful", "done", "finished"),
        JobStatus.COMPLETED,
    ),
    **dict.fromkeys(("failed", "failure", "error", "errored"), JobStatus.FAILED),
    **dict.fromkeys(("canceled", "cancelled", "aborted"), JobStatus.CANCELED),
}


def normalize_status(word: Any) -> JobStatus:
    """Map any status word (``"In Progress"``, ``"SUCCEEDED"``, ``"cancelled"`` …) to a
    :class:`JobStatus`; anything unrecognised (or not text) is ``UNKNOWN``. Never raises."""
    if isinstance(word, JobStatus):
        return word
    if not isinstance(word, str):
        return JobStatus.UNKNOWN
    key = re.sub(r"[\s\-]+", "_", word.strip().lower())
    return _STATUS_WORDS.get(key, JobStatus.UNKNOWN)


def normalize_progress(value: Any) -> float | None:
    """Progress as a 0–1 fraction, whether sent as a fraction (0.65), a percentage (65)
    or text (``"65%"``); ``None`` when absent or unreadable. Never raises.

    A value of at most 1 is read as a fraction, a larger one as a percentage; the result
    is clamped to 0–1.
    """
    if value is None or isinstance(value, bool):
        return None
    percent = False
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            percent, text = True, text[:-1].strip()
        try:
            number = float(text)
        except ValueError:
            return None
    elif isinstance(value, (int, float, Decimal)):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return None
    else:
        return None
    if math.isnan(number):
        return None
    if percent or number > 1:
        number /= 100
    return min(1.0, max(0.0, number))


# --- helpers for reading raw payloads -------------------------------------------------

_IMAGE_URL_KEYS = ("signedUrl", "signed_url", "url", "public_url", "publicUrl", "imageUrl", "image_url")
_THUMB_KEYS = ("thumbnailUrl", "thumbnail_url", "thumbUrl", "thumb_url")
_GCS_KEYS = ("gcsUri", "gcs_uri")
_VIDEO_URL_KEYS = ("videoUrl", "video_url", "signedUrl", "signed_url", "url", "public_url", "publicUrl")
_SCENE_KEYS = ("scene_id", "sceneId")
_JOB_ID_KEYS = ("job_id", "jobId", "id")
_BATCH_ID_KEYS = ("batch_id", "batchId", "id")
_COST_KEYS = ("estimated_cost", "estimatedCost", "estimated_cost_usd", "estimatedCostUsd", "cost")
_ACTUAL_COST_KEYS = ("reported_actual_cost", "actualCost", "actual_cost")


def _first(data: Mapping[str, Any], keys: Iterable[str], default: Any = None) -> Any:
    for key in keys:
        value = data.get(key)
        if value is not None and value != "":
            return value
    return default


#: an id the client can put in ``/status/<id>`` and show: what the server's own ids use
_POLLABLE_ID = re.compile(r"^[A-Za-z0-9._:~-]{1,200}$")


def _job_id(value: Any) -> str:
    """A job id from an answer; one that cannot be asked about (a path, spaces, markup, a
    huge text) makes the answer unreadable instead of being polled again and again."""
    text = _text(value)
    if text and not _POLLABLE_ID.match(text):
        shown = visible(text, 40)
        raise ValueError(f'the server gave the job id "{shown}", which cannot be asked about '
                         "(ids are letters, digits and . _ : ~ -, at most 200)")
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):  # e.g. {"message": "..."} or {"code": ..., "detail": ...}
        return _text(_first(value, ("message", "detail", "title", "error", "code"), ""))
    return str(value)


def _money(value: Any) -> Decimal | None:
    """A server amount as an exact Decimal; ``None`` when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, (int, float, str)):
        try:
            amount = to_decimal(value.strip().lstrip("$") if isinstance(value, str) else value)
        except (InvalidOperation, ValueError):
            return None
        return amount if amount.is_finite() else None
    return None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _is_mapping(data: Any) -> bool:
    return isinstance(data, Mapping)


def _status_pair(data: Mapping[str, Any], default: str = "") -> dict[str, Any]:
    """``status`` (normalised) and ``status_word`` (as the server wrote it)."""
    if "status_word" in data:  # already normalised (our own dump)
        return {"status": data.get("status", JobStatus.UNKNOWN), "status_word": data["status_word"]}
    raw = data.get("status", data.get("state", default))
    word = _text(raw)
    return {"status": normalize_status(word) if word else normalize_status(default), "status_word": word or default}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- images ---------------------------------------------------------------------------


class ImageOut(_Model):
    """One returned image. ``variant`` is 1-based, in the order the server listed them."""

    url: str = ""
    thumbnail_url: str = ""
    gcs_uri: str = ""
    variant: int = Field(default=1, ge=1)
    scene_id: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"url": data}
        if not _is_mapping(data):
            raise ValueError("an image must be an object or a URL")
        out: dict[str, Any] = {
            "url": _text(_first(data, _IMAGE_URL_KEYS, "")),
            "thumbnail_url": _text(_first(data, _THUMB_KEYS, "")),
            "gcs_uri": _text(_first(data, _GCS_KEYS, "")),
            "scene_id": _text(_first(data, _SCENE_KEYS, "")),
        }
        if isinstance(data.get("variant"), int) and not isinstance(data.get("variant"), bool):
            out["variant"] = data["variant"]
        return out

    @property
    def display_url(self) -> str:
        """The best URL to show small: the thumbnail, else the image itself."""
        return self.thumbnail_url or self.url


def _images(raw: Any, scene_id: str = "") -> tuple[ImageOut, ...]:
    """Images in order, numbered 1, 2, 3 … by position (the server sends no variant)."""
    out = []
    for index, item in enumerate(_list(raw), start=1):
        image = ImageOut.model_validate(item)
        update: dict[str, Any] = {"variant": index}
        if scene_id and not image.scene_id:
            update["scene_id"] = scene_id
        out.append(image.model_copy(update=update))
    return tuple(out)


def _images_by_scene(images: Sequence[ImageOut]) -> dict[str, list[ImageOut]]:
    grouped: dict[str, list[ImageOut]] = {}
    for image in images:
        grouped.setdefault(image.scene_id, []).append(image)
    # variants are numbered by order within each scene
    return {
        scene: [img.model_copy(update={"variant": i}) for i, img in enumerate(imgs, start=1)]
        for scene, imgs in grouped.items()
    }


# --- health ---------------------------------------------------------------------------


class Health(_Model):
    """``GET /healthz``: ``{status: "healthy", timestamp, service, version}``."""

    status: str = ""
    service: str = ""
    version: str = ""
    timestamp: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data) or not data.get("status"):
            raise ValueError("a health answer needs a status")
        return {k: _text(data.get(k)) for k in ("status", "service", "version", "timestamp")}

    @property
    def ok(self) -> bool:
        """True when the server says it is healthy."""
        return self.status.strip().lower() in {"healthy", "ok", "pass", "up", "ready"}


# --- dry-run --------------------------------------------------------------------------


class DryRunItem(_Model):
    """One row of a dry-run answer."""

    scene_id: str = ""
    variants: int | None = None
    estimated_cost: Decimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data):
            raise ValueError("a dry-run item must be an object")
        variants = data.get("variants")
        return {
            "scene_id": _text(_first(data, _SCENE_KEYS, "")),
            "variants": variants if isinstance(variants, int) and not isinstance(variants, bool) else None,
            "estimated_cost": _money(_first(data, _COST_KEYS)),
        }


class DryRunResult(_Model):
    """The answer to a dry-run: nothing was generated or billed.

    ``estimated_cost`` is what the server said (``None`` if it said nothing); our own
    ``image_cost(rows)`` is the number that counts.
    """

    batch_id: str = ""
    estimated_cost: Decimal | None = None
    items: tuple[DryRunItem, ...] = ()
    message: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data):
            raise ValueError("a dry-run answer must be a JSON object")
        body = data.get("batch_job") if _is_mapping(data.get("batch_job")) else data
        known = ("batchId", "batch_id", "estimatedCost", "estimated_cost", "items", "batch_job")
        if not any(k in data for k in known):
            raise ValueError("a dry-run answer needs a batchId, an estimatedCost or a batch_job")
        cost = _money(_first(body, _COST_KEYS))
        if cost is None:
            cost = _money(_first(data, _COST_KEYS))
        items = body.get("items") if "items" in body else data.get("items")
        return {
            "batch_id": _text(_first(body, _BATCH_ID_KEYS, "")),
            "estimated_cost": cost,
            "items": _list(items),
            "message": _text(_first(body, ("message",), "") or _first(data, ("message",), "")),
        }


# --- live images ----------------------------------------------------------------------


class JobOut(_Model):
    """One scene's job in a live answer, with its images in variant order."""

    job_id: str = ""
    scene_id: str = ""
    status: JobStatus = JobStatus.UNKNOWN
    status_word: str = ""
    error: str = ""
    images: tuple[ImageOut, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data):
            raise ValueError("a job must be an object")
        scene = _text(_first(data, _SCENE_KEYS, ""))
        images = data.get("images")
        if images is None:
            images = _first(data, ("outputs", "results", "imageUrls", "image_urls"))
        return {
            "job_id": _job_id(_first(data, _JOB_ID_KEYS, "")),
            "scene_id": scene,
            **_status_pair(data),
            "error": _text(data.get("error")),
            "images": _images(images, scene),
        }


class LiveResult(_Model):
    """The answer to a live image call, whichever shape the server used.

    ``pending`` is true for the brief's asynchronous shape: poll :meth:`job_status` with
    ``batch_id`` until it is done. ``reported_actual_cost`` is the server's ``actualCost``,
    kept for display only — it is computed wrongly; :func:`counted_cost` is what counts.
    """

    batch_id: str = ""
    status: JobStatus = JobStatus.UNKNOWN
    status_word: str = ""
    estimated_cost: Decimal | None = None
    reported_actual_cost: Decimal | None = None
    accepted: int | None = None
    jobs: tuple[JobOut, ...] = ()
    rejected: tuple[str, ...] = ()
    pending: bool = False
    message: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data):
            raise ValueError("a live answer must be a JSON object")
        if "status_word" in data and "pending" in data:  # our own dump
            return data
        if _is_mapping(data.get("batch_job")):
            return _brief_live(data)
        if not any(k in data for k in ("batchId", "batch_id", "jobs", "results")):
            raise ValueError("a live answer needs a batchId, jobs or a batch_job")
        return _real_live(data)

    @property
    def images(self) -> tuple[ImageOut, ...]:
        """Every returned image, scene by scene."""
        return tuple(image for job in self.jobs for image in job.images)

    @property
    def failed_jobs(self) -> tuple[JobOut, ...]:
        return tuple(j for j in self.jobs if j.status in (JobStatus.FAILED, JobStatus.CANCELED))

    @property
    def partial(self) -> bool:
        """Some scenes completed and some did not (or were rejected)."""
        done = any(j.status is JobStatus.COMPLETED for j in self.jobs)
        return done and (bool(self.failed_jobs) or bool(self.rejected))


def _overall_status(jobs: Sequence[JobOut], rejected: Sequence[str]) -> JobStatus:
    states = {j.status for j in jobs}
    if not jobs:
        return JobStatus.FAILED if rejected else JobStatus.UNKNOWN
    if states <= _TERMINAL:
        return JobStatus.COMPLETED if JobStatus.COMPLETED in states else JobStatus.FAILED
    if JobStatus.RUNNING in states:
        return JobStatus.RUNNING
    if JobStatus.QUEUED in states:
        return JobStatus.QUEUED
    return JobStatus.UNKNOWN


def _real_live(data: Mapping[str, Any]) -> dict[str, Any]:
    batch_id = _text(_first(data, ("batchId", "batch_id"), ""))
    jobs = [JobOut.model_validate(j) for j in _list(data.get("jobs"))]
    by_scene: dict[str, list[ImageOut]] = {}
    scene_order: list[str] = []
    for result in _list(data.get("results")):
        if not _is_mapping(result):
            raise ValueError("each result must be an object")
        scene = _text(_first(result, _SCENE_KEYS, ""))
        if scene not in by_scene:
            scene_order.append(scene)
        by_scene.setdefault(scene, []).extend(_images(result.get("images"), scene))
    merged: list[JobOut] = []
    for job in jobs:
        extra = by_scene.pop(job.scene_id, [])
        imgs = list(job.images) + extra
        merged.append(job.model_copy(update={"images": _renumber(imgs, job.scene_id)}))
    for scene in scene_order:  # results without a job entry still count
        if scene in by_scene:
            merged.append(JobOut(scene_id=scene, status=JobStatus.COMPLETED, status_word="",
                                 images=_renumber(by_scene.pop(scene), scene)))
    rejected = tuple(_text(r) for r in _list(data.get("rejected")))
    status = _overall_status(merged, rejected)
    if "status" in data:
        status = normalize_status(_text(data["status"]))
    accepted = data.get("accepted")
    return {
        "batch_id": batch_id,
        "status": status,
        "status_word": _text(data.get("status")),
        "estimated_cost": _money(_first(data, _COST_KEYS)),
        "reported_actual_cost": _money(_first(data, _ACTUAL_COST_KEYS)),
        "accepted": accepted if isinstance(accepted, int) and not isinstance(accepted, bool) else None,
        "jobs": tuple(merged),
        "rejected": rejected,
        "pending": not status.terminal and status is not JobStatus.UNKNOWN,
        "message": _text(data.get("message")),
    }


def _renumber(images: Sequence[ImageOut], scene_id: str) -> tuple[ImageOut, ...]:
    return tuple(
        img.model_copy(update={"variant": i, "scene_id": img.scene_id or scene_id})
        for i, img in enumerate(images, start=1)
    )


def _brief_live(data: Mapping[str, Any]) -> dict[str, Any]:
    job = data["batch_job"]
    batch_id = _job_id(_first(job, ("id", "batchId", "batch_id", "jobId", "job_id"), ""))
    pair = _status_pair(job)
    jobs: list[JobOut]
    if _list(job.get("jobs")):
        jobs = [JobOut.model_validate(j) for j in _list(job.get("jobs"))]
    else:
        images = [ImageOut.model_validate(i) for i in _list(job.get("images"))]
        jobs = [
            JobOut(job_id=batch_id, scene_id=scene, status=pair["status"],
                   status_word=pair["status_word"], images=tuple(imgs))
            for scene, imgs in _images_by_scene(images).items()
        ]
    status: JobStatus = pair["status"]
    return {
        "batch_id": batch_id,
        **pair,
        "estimated_cost": _money(_first(job, _COST_KEYS)) or _money(_first(data, _COST_KEYS)),
        "reported_actual_cost": _money(_first(job, _ACTUAL_COST_KEYS)),
        "jobs": tuple(jobs),
        "rejected": tuple(_text(r) for r in _list(job.get("rejected"))),
        # anything not clearly finished must be polled
        "pending": not status.terminal,
        "message": _text(job.get("message") or data.get("message")),
    }


# --- status polling -------------------------------------------------------------------


class StatusResult(_Model):
    """``GET /status/:id``: where a job is, and whatever it has produced so far.

    ``progress`` is a 0–1 fraction (``None`` if the server did not say). ``images`` are
    image results (variant by order within each scene); ``outputs`` are the URLs of any
    other outputs, e.g. videos. On today's real server this route is a placeholder that
    always says "running": do not rely on it for truth.
    """

    job_id: str = ""
    status: JobStatus = JobStatus.UNKNOWN
    status_word: str = ""
    progress: float | None = Field(default=None, ge=0, le=1)
    images: tuple[ImageOut, ...] = ()
    results: tuple[JobOut, ...] = ()
    outputs: tuple[str, ...] = ()
    error: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data):
            raise ValueError("a status answer must be a JSON object")
        if "status_word" in data:
            return data
        body = data.get("batch_job") if _is_mapping(data.get("batch_job")) else data
        if "status" not in body and "state" not in body:
            raise ValueError("a status answer needs a status")
        job_id = _text(_first(body, _JOB_ID_KEYS, "") or _first(data, _JOB_ID_KEYS, ""))
        images: list[ImageOut] = []
        results: list[JobOut] = []
        outputs: list[str] = []
        for entry in _list(body.get("results")) + _list(body.get("images")):
            if _is_mapping(entry) and "images" in entry:
                scene = _text(_first(entry, _SCENE_KEYS, ""))
                scene_images = _images(entry.get("images"), scene)
                images.extend(scene_images)
                default = "completed" if scene_images else ""
                results.append(JobOut(
                    job_id=_text(_first(entry, _JOB_ID_KEYS, "")) or job_id, scene_id=scene,
                    **_status_pair(entry, default), error=_text(entry.get("error")),
                    images=scene_images,
                ))
            elif _is_mapping(entry) and _first(entry, _VIDEO_URL_KEYS[:2]):
                outputs.append(_text(_first(entry, _VIDEO_URL_KEYS)))
            else:
                images.append(ImageOut.model_validate(entry))
        for entry in _list(body.get("outputs")) + _list(body.get("videos")):
            url = _text(_first(entry, _VIDEO_URL_KEYS, "")) if _is_mapping(entry) else _text(entry)
            if url:
                outputs.append(url)
        numbered = [img for imgs in _images_by_scene(images).values() for img in imgs]
        return {
            "job_id": job_id,
            **_status_pair(body),
            "progress": normalize_progress(body.get("progress")),
            "images": tuple(numbered),
            "results": tuple(results),
            "outputs": tuple(outputs),
            "error": _text(body.get("error")),
        }

    @property
    def done(self) -> bool:
        """True when polling can stop."""
        return self.status.terminal

    @property
    def failed_results(self) -> tuple[JobOut, ...]:
        """Scenes the server reported as failed (with their errors)."""
        return tuple(r for r in self.results if r.status in (JobStatus.FAILED, JobStatus.CANCELED))


# --- videos ---------------------------------------------------------------------------


class VideoItem(BaseModel):
    """One clip to generate (a request): an approved image and how to animate it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scene_id: str = Field(min_length=1, max_length=50)
    prompt: str = Field(min_length=1, max_length=1000)
    approved_image_url: str = Field(min_length=1)
    veo_model: Literal["veo3", "veo3_fast"] = "veo3_fast"
    aspect: Literal["16:9", "9:16"] = "16:9"
    resolution: Literal[720, 1080] = 720
    duration_s: Literal[8] = 8
    fps: Literal[24] = 24

    def to_request(self) -> dict[str, Any]:
        """Exactly the fields the server's schema knows."""
        return self.model_dump(mode="json")


class VideoJobOut(_Model):
    """One clip's job in a video answer."""

    job_id: str = ""
    scene_id: str = ""
    status: JobStatus = JobStatus.UNKNOWN
    status_word: str = ""
    video_url: str = ""
    thumbnail_url: str = ""
    error: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"video_url": data, "status": JobStatus.UNKNOWN, "status_word": ""}
        if not _is_mapping(data):
            raise ValueError("a video job must be an object")
        if "status_word" in data:
            return data
        return {
            "job_id": _text(_first(data, _JOB_ID_KEYS, "")),
            "scene_id": _text(_first(data, _SCENE_KEYS, "")),
            **_status_pair(data),
            "video_url": _text(_first(data, _VIDEO_URL_KEYS, "")),
            "thumbnail_url": _text(_first(data, _THUMB_KEYS, "")),
            "error": _text(data.get("error")),
        }


class VideoBatchResult(_Model):
    """The answer to a video call (today's real server answers 501 instead)."""

    batch_id: str = ""
    status: JobStatus = JobStatus.UNKNOWN
    status_word: str = ""
    estimated_cost: Decimal | None = None
    jobs: tuple[VideoJobOut, ...] = ()
    pending: bool = True
    message: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data):
            raise ValueError("a video answer must be a JSON object")
        if "status_word" in data and "pending" in data:
            return data
        body = data.get("batch_job") if _is_mapping(data.get("batch_job")) else data
        if body is data and not any(
            k in data for k in ("batchId", "batch_id", "jobs", "videos", "items")
        ):
            raise ValueError("a video answer needs a batchId, jobs or a batch_job")
        raw_jobs = _first(body, ("videos", "jobs", "items", "results"), [])
        jobs = tuple(VideoJobOut.model_validate(j) for j in _list(raw_jobs))
        pair = _status_pair(body)
        if not pair["status_word"]:
            pair = {"status": _overall_status(jobs, ()), "status_word": ""}  # type: ignore[arg-type]
        status: JobStatus = pair["status"]
        return {
            "batch_id": _text(_first(body, ("id", "batchId", "batch_id"), "")),
            **pair,
            "estimated_cost": _money(_first(body, _COST_KEYS)) or _money(_first(data, _COST_KEYS)),
            "jobs": jobs,
            "pending": not status.terminal,
            "message": _text(body.get("message") or data.get("message")),
        }


# --- uploads --------------------------------------------------------------------------


class UploadedRef(_Model):
    """A reference image stored by ``POST /upload-reference``; ``url`` can go into a row."""

    name: str = ""
    url: str
    thumbnail_url: str = ""
    gcs_uri: str = ""
    size: int | None = None
    mime: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not _is_mapping(data):
            raise ValueError("an uploaded image must be an object")
        if "mime" in data and "name" in data:
            return data
        size = data.get("size")
        return {
            "name": _text(_first(data, ("originalName", "original_name", "name", "filename"), "")),
            "url": _text(_first(data, _IMAGE_URL_KEYS, "")) or None,
            "thumbnail_url": _text(_first(data, _THUMB_KEYS, "")),
            "gcs_uri": _text(_first(data, _GCS_KEYS, "")),
            "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
            "mime": _text(_first(data, ("mimeType", "mime_type", "mimetype", "contentType", "mime"), "")),
        }


# --- parsing entry points -------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], payload: Any, what: str) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[:1]
        reason = first[0]["msg"] if first else "unexpected content"
        raise ResponseFormatError(
            f"The orchestrator answered the {what} request, but not in a shape Batch Studio "
            f"understands ({reason}). Nothing is shown; check the server version."
        ) from None


def parse_health(payload: Any) -> Health:
    return _parse(Health, payload, "health")


def parse_dry_run(payload: Any) -> DryRunResult:
    return _parse(DryRunResult, payload, "dry-run")


def parse_live(payload: Any) -> LiveResult:
    return _parse(LiveResult, payload, "image generation")


def parse_status(payload: Any, job_id: str = "") -> StatusResult:
    result = _parse(StatusResult, payload, "status")
    return result if result.job_id or not job_id else result.model_copy(update={"job_id": job_id})


def parse_videos(payload: Any) -> VideoBatchResult:
    return _parse(VideoBatchResult, payload, "video generation")


def parse_uploads(payload: Any) -> list[UploadedRef]:
    """``{success, images: [...]}`` (or a bare list) → the stored references, in order."""
    if isinstance(payload, Mapping):
        images = _first(payload, ("images", "files", "uploads", "references"))
        if images is None:
            raise ResponseFormatError(
                "The orchestrator answered the upload, but listed no stored images."
            )
    elif isinstance(payload, list):
        images = payload
    else:
        raise ResponseFormatError("The orchestrator answered the upload in an unknown shape.")
    return [_parse(UploadedRef, item, "upload") for item in _list(images)]


# --- what the page needs from a result ------------------------------------------------


def generated_images(
    result: LiveResult | StatusResult, rows: Sequence[BatchRow] = ()
) -> list[GeneratedImage]:
    """The result's images as :class:`GeneratedImage`, variant numbered 1, 2, 3 … by order
    within each scene, each with its row's prompt."""
    prompts = {row.scene_id: row.prompt for row in rows}
    if isinstance(result, LiveResult):
        pairs = [(job.job_id, job.scene_id, job.images) for job in result.jobs]
        batch_id = result.batch_id
    else:
        grouped = _images_by_scene(result.images)
        pairs = [(result.job_id, scene, tuple(imgs)) for scene, imgs in grouped.items()]
        batch_id = result.job_id
    out: list[GeneratedImage] = []
    for job_id, scene, images in pairs:
        for number, image in enumerate(images, start=1):
            out.append(GeneratedImage(
                scene_id=scene or image.scene_id,
                variant=number,
                url=image.url,
                thumbnail_url=image.thumbnail_url,
                job_id=job_id,
                batch_id=batch_id,
                prompt=prompts.get(scene or image.scene_id, ""),
            ))
    return out


def counted_cost(result: LiveResult | StatusResult) -> Decimal:
    """Our own count: returned images × $0.002. It wins over the server's ``actualCost``."""
    return PRICE_PER_IMAGE * len(result.images)
