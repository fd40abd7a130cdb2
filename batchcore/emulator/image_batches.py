"""``POST /batch/images``: dry-run, the synchronous live answer (``head``) and the brief's
queued job (``brief``), with billing into the ledger."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .ledger import Charge
from .messages import EmuResponse, js_stringify, js_utf8, json_response
from .prices import IMAGE_PRICE, RATES, estimate_images
from .validation import ImageItem, parse_image_batch

if TYPE_CHECKING:
    from .core import Emulator, RequestContext

__all__ = ["ImageJob", "batch_id_for", "batch_images", "failure_message", "image_job_status"]

_RATE = RATES["gemini_image"]  # the server's float rate; the ledger bills Decimal


def batch_id_for(items: list[dict[str, Any]], now: datetime) -> str:
    """``generateJobId``: ``batch_<unix s>_<12 hex>`` of the rows and a 5-minute window."""
    ms = math.floor(now.timestamp() * 1000)
    content = js_stringify({"userId": "default", "items": items, "timeWindow": ms // 300_000})
    return f"batch_{ms // 1000}_{hashlib.sha256(js_utf8(content)).hexdigest()[:12]}"


def _normalised(items: tuple[ImageItem, ...]) -> list[dict[str, Any]]:
    return [
        {"scene_id": i.scene_id.strip().lower(), "prompt": i.prompt.strip(),
         "ref_pack_public_urls": sorted(i.refs), "variants": i.variants}
        for i in items
    ]


def failure_message(scene_id: str, what: str = "image") -> str:
    return f"{what.capitalize()} generation failed for {scene_id}: the model returned no {what} (emulated failure)"


@dataclass
class ImageJob:
    """A brief-profile batch job: generated and billed when accepted, revealed step by step."""

    job_id: str
    batch_id: str
    created: datetime
    rows: list[dict[str, Any]]
    polls: int = 0
    status_override: str | None = None
    images: list[list[str]] = field(default_factory=list)

    def phase(self, now: datetime, seconds_per_step: float) -> int:
        """0 queued; 1..n running (``phase-1`` rows done); n+1 finished."""
        elapsed = (now - self.created).total_seconds()
        by_time = math.floor(elapsed / seconds_per_step) if seconds_per_step > 0 else len(self.rows) + 1
        return min(len(self.rows) + 1, max(self.polls - 1, by_time))


def batch_images(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    body, bad_json = emu.read_json(ctx)
    if bad_json is not None:
        return bad_json
    batch = parse_image_batch(body, own_base_url="" if emu.config.strict else ctx.req.base_url)
    if batch is None:
        return emu.invalid_schema(ctx)
    now = emu.now()
    batch_id = batch_id_for(_normalised(batch.items), now)
    estimated = estimate_images(i.variants for i in batch.items)
    if batch.run_mode == "live":
        exact = IMAGE_PRICE * sum(i.variants for i in batch.items)
        refused = emu.over_budget(ctx, now, exact, estimated, f"/batch/images/{batch_id}")
        if refused is not None:
            return refused
    else:
        return json_response({
            "batchId": batch_id,
            "runMode": "dry_run",
            "estimatedCost": estimated,
            "message": "Dry run completed - no images generated",
            "items": [
                {"scene_id": i.scene_id, "variants": i.variants, "estimatedCost": i.variants * _RATE}
                for i in batch.items
            ],
        })
    if emu.config.profile == "brief":
        return _live_brief(emu, ctx, batch.items, batch_id, estimated)
    return _live_head(emu, ctx, batch.items, batch_id, estimated)


def _generate_row(emu: Emulator, ctx: RequestContext, batch_id: str, index: int, item: ImageItem) -> tuple[list[str] | None, str | None]:
    """Make (register) one row's pictures and bill them; ``(None, error)`` when it fails."""
    if emu.should_fail(ctx, index, item.scene_id, item.prompt):
        return None, failure_message(item.scene_id)
    tint = emu.tint_of(ctx.req.base_url)
    ids = [emu.assets.add_image(item.scene_id, item.prompt, v, item.refs, tint) for v in range(1, item.variants + 1)]
    emu.ledger.add(Charge(
        kind="images", count=item.variants, amount=IMAGE_PRICE * item.variants,
        batch_hash=ctx.req.header("x-batch-hash"), batch_id=batch_id, scene_id=item.scene_id,
        at=emu.now(), key_id=ctx.key_id,
    ))
    return ids, None


def _spend_latency(emu: Emulator, ctx: RequestContext, item: ImageItem) -> None:
    """A row's emulated generation time (``latency_ms`` per image), spent as a real model's
    is: making the row's pictures, then waiting out what is left of it. So the answer comes
    after the same time as before, and the pictures are ready when it does (nothing is
    rendered later, on the client's first request). A render slower than the budget makes
    the call slower, as it would on a real server."""
    began = time.monotonic()
    tint = emu.tint_of(ctx.req.base_url)
    for variant in range(1, item.variants + 1):
        emu.assets.render_ahead(item.scene_id, item.prompt, variant, item.refs, tint)
    budget = emu.config.latency_ms * item.variants / 1000
    emu.config.sleep(max(0.0, budget - (time.monotonic() - began)))


def _image_links(emu: Emulator, base: str, scene_id: str, ids: list[str]) -> list[dict[str, str]]:
    return [
        {"gcsUri": f"gs://emulator-bucket/images/{scene_id}/variant_{n}.png",
         "signedUrl": emu.assets.url(base, a), "thumbnailUrl": emu.assets.url(base, a, thumb=True)}
        for n, a in enumerate(ids, start=1)
    ]


def _live_head(emu: Emulator, ctx: RequestContext, items: tuple[ImageItem, ...], batch_id: str, estimated: float) -> EmuResponse:
    base = ctx.req.base_url
    started = emu.now()
    state: dict[str, Any] = {
        "batchId": batch_id, "status": "running", "progress": 0,
        "items": [{"sceneId": i.scene_id, "status": "pending"} for i in items],
        "startedAt": emu.iso(started), "updatedAt": emu.iso(started),
    }
    with emu.lock:
        emu.batches[batch_id] = state
    jobs: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    word = ctx.unknown_status
    for index, item in enumerate(items):
        with emu.lock:
            state["items"][index]["status"] = "processing"
        if emu.config.latency_ms:
            _spend_latency(emu, ctx, item)
        ids, error = _generate_row(emu, ctx, batch_id, index, item)
        job_id = f"{batch_id}_{item.scene_id}_{index}"
        with emu.lock:
            row = state["items"][index]
            if ids is None:
                jobs.append({"jobId": job_id, "sceneId": item.scene_id, "status": word or "failed", "error": error})
                row.update(status="failed", error=error)
            else:
                links = _image_links(emu, base, item.scene_id, ids)
                jobs.append({"jobId": job_id, "sceneId": item.scene_id, "status": word or "completed"})
                results.append({"sceneId": item.scene_id, "images": links})
                row.update(status="completed", imageUrls=[link["signedUrl"] for link in links])
            state["progress"] = (index + 1) / len(items)
            state["updatedAt"] = emu.iso(emu.now())
    ok = sum(1 for j in jobs if "error" not in j)
    with emu.lock:
        state["status"] = "completed" if ok else "failed"
    payload: dict[str, Any] = {
        "batchId": batch_id,
        "runMode": "live",
        "estimatedCost": estimated,
        "actualCost": ok * _RATE * (items[0].variants if items else 1),
        "accepted": ok,
        "rejected": [j["sceneId"] for j in jobs if "error" in j],
        "jobs": jobs,
    }
    if results:
        payload["results"] = results
    return json_response(payload)


def _live_brief(emu: Emulator, ctx: RequestContext, items: tuple[ImageItem, ...], batch_id: str, estimated: float) -> EmuResponse:
    now = emu.now()
    serial = emu.next_serial()
    job_id = f"job_{math.floor(now.timestamp())}_{hashlib.sha256(f'{batch_id}/{serial}'.encode()).hexdigest()[:10]}"
    rows = []
    for index, item in enumerate(items):
        ids, error = _generate_row(emu, ctx, batch_id, index, item)
        rows.append({"scene_id": item.scene_id, "assets": ids, "error": error})
    job = ImageJob(job_id, batch_id, now, rows, status_override=ctx.unknown_status)
    with emu.lock:
        emu.jobs[job_id] = job
    return json_response({"batch_job": {"id": job_id, "status": ctx.unknown_status or "queued", "images": []}})


def image_job_status(emu: Emulator, ctx: RequestContext, job: ImageJob, *, count_poll: bool = True) -> dict[str, Any]:
    """The brief's ``{status, progress, results}`` for a job; each poll advances one step."""
    base = ctx.req.base_url
    with emu.lock:
        if count_poll:
            job.polls += 1
        phase = job.phase(emu.now(), emu.config.seconds_per_step)
    n = len(job.rows)
    done = n if phase > n else max(0, phase - 1)
    if phase == 0:
        status = "queued"
    elif phase <= n:
        status = "running"
    else:
        status = "completed" if any(r["assets"] for r in job.rows) else "failed"
    results = []
    for row in job.rows[:done]:
        if row["assets"]:
            results.append({
                "scene_id": row["scene_id"], "status": "completed",
                "images": [{"url": emu.assets.url(base, a), "thumbnail_url": emu.assets.url(base, a, thumb=True)} for a in row["assets"]],
            })
        else:
            results.append({"scene_id": row["scene_id"], "status": "failed", "images": [], "error": row["error"]})
    return {
        "jobId": job.job_id,
        "batchId": job.batch_id,
        "status": job.status_override or ctx.unknown_status or status,
        "progress": round(100 * done / n) if n else 100,
        "results": results,
        "createdAt": emu.iso(job.created),
        "updatedAt": emu.iso(emu.now()),
    }


