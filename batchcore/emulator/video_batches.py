"""``POST /batch/videos``: the planned schema (or today's 501), one job per clip, billed per
clip, each job going queued → running → done | error on ``GET /status/<jobId>``."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .image_batches import batch_id_for, failure_message
from .ledger import Charge
from .messages import EmuResponse, json_response
from .prices import VIDEO_PRICES, estimate_videos, video_rate
from .validation import VideoItem, parse_video_batch

if TYPE_CHECKING:
    from .core import Emulator, RequestContext

__all__ = ["VideoJob", "batch_videos", "video_job_status"]

@dataclass
class VideoJob:
    """One clip: billed when accepted, rendered (PyAV) the first time its URL is fetched."""

    job_id: str
    batch_id: str
    scene_id: str
    created: datetime
    asset_id: str | None
    error: str | None
    polls: int = 0
    status_override: str | None = None

    def phase(self, now: datetime, seconds_per_step: float) -> int:
        """0 queued, 1 running, 2 finished."""
        elapsed = (now - self.created).total_seconds()
        by_time = math.floor(elapsed / seconds_per_step) if seconds_per_step > 0 else 2
        return min(2, max(self.polls - 1, by_time))


def batch_videos(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    if emu.config.videos == "501":
        return emu.problem(ctx, 501, "not-implemented", "Not Implemented", "Video generation is not yet implemented")
    body, bad_json = emu.read_json(ctx)
    if bad_json is not None:
        return bad_json
    batch = parse_video_batch(body)
    if batch is None:
        return emu.invalid_schema(ctx)
    if batch.confirm_count != len(batch.items):
        return emu.invalid_schema(
            ctx, f"confirmCount ({batch.confirm_count}) must equal the number of items ({len(batch.items)})"
        )
    now = emu.now()
    batch_id = batch_id_for(
        [{"scene_id": i.scene_id.strip().lower(), "prompt": i.prompt.strip(), "approved_image_url": i.approved_image_url, "veo_model": i.veo_model} for i in batch.items],
        now,
    )
    estimated = estimate_videos(i.veo_model for i in batch.items)
    if batch.run_mode == "dry_run":
        return json_response({
            "batchId": batch_id,
            "runMode": "dry_run",
            "estimatedCost": estimated,
            "message": "Dry run completed - no videos generated",
            "items": [
                {"scene_id": i.scene_id, "veo_model": i.veo_model, "status": "ready_to_queue", "estimatedCost": video_rate(i.veo_model)}
                for i in batch.items
            ],
        })
    exact = sum((VIDEO_PRICES[i.veo_model] for i in batch.items), Decimal(0))
    refused = emu.over_budget(ctx, now, exact, estimated, f"/batch/videos/{batch_id}")
    if refused is not None:
        return refused
    jobs = []
    base = ctx.req.base_url
    for index, item in enumerate(batch.items):
        serial = emu.next_serial()
        job_id = f"job_{math.floor(now.timestamp())}_{hashlib.sha256(f'{batch_id}/{serial}'.encode()).hexdigest()[:10]}"
        asset_id: str | None = None
        error: str | None = None
        if emu.should_fail(ctx, index, item.scene_id, item.prompt):
            error = failure_message(item.scene_id, "video")
        else:
            asset_id = _register_clip(emu, base, item, job_id)
            emu.ledger.add(Charge(
                kind="videos", count=1, amount=VIDEO_PRICES[item.veo_model],
                batch_hash=ctx.req.header("x-batch-hash"), batch_id=batch_id,
                scene_id=item.scene_id, at=emu.now(), key_id=ctx.key_id,
            ))
        job = VideoJob(job_id, batch_id, item.scene_id, now, asset_id, error, status_override=ctx.unknown_status)
        with emu.lock:
            emu.jobs[job_id] = job
        jobs.append({"jobId": job_id, "sceneId": item.scene_id, "status": ctx.unknown_status or "queued"})
    return json_response({
        "batchId": batch_id,
        "runMode": "live",
        "estimatedCost": estimated,
        "accepted": len(jobs),
        "jobs": jobs,
    })


def _register_clip(emu: Emulator, base: str, item: VideoItem, job_id: str) -> str:
    cfg = emu.config
    width, height = cfg.video_size
    size = (width, height) if item.aspect == "16:9" else (height, width)
    still_id = emu.assets.id_from_url(item.approved_image_url, base)

    def still() -> bytes | None:
        return emu.assets.bytes_of(still_id) if still_id else None

    return emu.assets.add_video(
        still, f"{item.scene_id} · {item.veo_model}", size, cfg.video_seconds, cfg.video_fps,
        token=f"{job_id}/{item.approved_image_url}/{size}",
    )


def video_job_status(emu: Emulator, ctx: RequestContext, job: VideoJob, *, count_poll: bool = True) -> dict[str, Any]:
    with emu.lock:
        if count_poll:
            job.polls += 1
        phase = job.phase(emu.now(), emu.config.seconds_per_step)
    status = ("queued", "running", "error" if job.error else "done")[phase]
    payload: dict[str, Any] = {
        "jobId": job.job_id,
        "batchId": job.batch_id,
        "sceneId": job.scene_id,
        "status": job.status_override or ctx.unknown_status or status,
        "progress": (0.0, 0.5, 1.0)[phase],
        "startedAt": emu.iso(job.created),
        "outputs": [],
        "error": None,
    }
    if phase == 2:
        payload["completedAt"] = emu.iso(emu.now())
        if job.error:
            payload["error"] = job.error
        elif job.asset_id:
            payload["outputs"] = [{"url": emu.assets.url(ctx.req.base_url, job.asset_id), "mimeType": emu.assets.mime(job.asset_id)}]
    return payload
