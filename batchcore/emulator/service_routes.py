"""The small routes: health, readiness, assets, ``/status/:id`` and ``/progress/:batchId``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .image_batches import ImageJob, image_job_status
from .messages import EmuResponse, fastify_error, json_response
from .video_batches import VideoJob, video_job_status

if TYPE_CHECKING:
    from .core import Emulator, RequestContext

__all__ = ["asset", "health", "progress", "readiness", "status"]

_TERMINAL = {"completed", "failed", "done", "error"}


def health(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    response = json_response({
        "status": "healthy", "timestamp": emu.iso(emu.now()),
        "service": "ai-asset-orchestrator", "version": emu.config.version,
    })
    response.headers.append(("x-orchestrator-emulator", emu.config.profile))
    return response


def readiness(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    return json_response({"status": "ready", "timestamp": emu.iso(emu.now()), "checks": {}})


def asset(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    return emu.assets.serve(ctx.req, ctx.params["name"])


def status(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    from .core import JOB_ID_PATTERN

    job_id = ctx.params["id"]
    if not JOB_ID_PATTERN.match(job_id):
        issues = [{"validation": "regex", "code": "invalid_string", "message": "Invalid", "path": ["jobId"]}]
        return fastify_error(500, json.dumps(issues, indent=2))
    with emu.lock:
        job = emu.jobs.get(job_id)
    if isinstance(job, ImageJob):
        return json_response(image_job_status(emu, ctx, job))
    if isinstance(job, VideoJob):
        return json_response(video_job_status(emu, ctx, job))
    now = emu.now()
    return json_response({
        "jobId": job_id, "status": ctx.unknown_status or "running", "progress": 0.65,
        "startedAt": emu.iso(now), "estimatedCompletion": emu.iso(now + timedelta(seconds=60)),
        "outputs": [], "error": None,
    })


def _progress_state(emu: Emulator, ctx: RequestContext, batch_id: str) -> dict[str, Any] | None:
    with emu.lock:
        state = emu.batches.get(batch_id)
        if state is not None:
            return json.loads(json.dumps(state))  # a snapshot, safe outside the lock
        job = emu.jobs.get(batch_id)
    if isinstance(job, ImageJob):
        view = image_job_status(emu, ctx, job, count_poll=False)
        items = []
        done = {r["scene_id"]: r for r in view["results"]}
        for row in job.rows:
            seen = done.get(row["scene_id"])
            item: dict[str, Any] = {"sceneId": row["scene_id"], "status": seen["status"] if seen else "pending"}
            if seen and seen["images"]:
                item["imageUrls"] = [i["url"] for i in seen["images"]]
            if seen and seen.get("error"):
                item["error"] = seen["error"]
            items.append(item)
        return {"batchId": job.job_id, "status": view["status"], "progress": view["progress"] / 100,
                "items": items, "startedAt": view["createdAt"], "updatedAt": view["updatedAt"]}
    return None


def progress(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    """Server-Sent Events of the batch ledger; unlike the real server, ends when the batch does."""
    batch_id = ctx.params["id"]
    headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache"),
               ("access-control-allow-origin", "*")]
    if _progress_state(emu, ctx, batch_id) is None:
        return EmuResponse(200, headers, iter([b'data: {"error":"Job not found"}\n\n']))
    word = ctx.unknown_status

    def events() -> Iterator[bytes]:
        for n in range(max(1, emu.config.progress_max_events)):
            state = _progress_state(emu, ctx, batch_id) or {"error": "Job not found"}
            if word and "status" in state:
                state["status"] = word
            yield b"data: " + json.dumps(state, separators=(",", ":")).encode() + b"\n\n"
            if "error" in state or state.get("status") in _TERMINAL or word:
                return
            if n + 1 < emu.config.progress_max_events:
                emu.config.sleep(emu.config.progress_interval)

    return EmuResponse(200, headers, events())
