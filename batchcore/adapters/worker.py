"""The paid calls, sent once, and the polling that follows: run in a job-runner thread.

``run_images`` / ``run_videos`` send the one paid request and, when the server answers
asynchronously (the brief's shape, video jobs), poll until the work is done; a failing status
check never fails the job (the work stays billed: it is logged and retried with backoff).
Each point worth saving is announced with ``job.checkpoint()``; the service layer folds it
into the stored workspace with ``outcomes.checkpoint_fold``. ``resume_polling`` polls work
the server accepted before a restart; it never sends anything paid.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from batchcore.adapters.jobs import Job
from batchcore.domain.outcomes import TERMINAL, ImageRunResult, VideoPlan, VideoRunResult
from batchcore.domain.rows import BatchRow, plural
from batchcore.domain.statuslog import LogEntry, log_entry
from batchcore.domain.workflow import Submission
from batchcore.errors import OrchestratorError
from batchcore.wire.models import JobStatus, LiveResult, StatusResult, VideoBatchResult, VideoJobOut
from batchcore.wire.problems import SCHEMA_REFUSAL

__all__ = ["resume_polling", "run_images", "run_videos"]


def _emit(job: Job, entry: LogEntry) -> None:
    job.events.append(entry)


# --- dry-run ----------------------------------------------------------------------------


def run_images(
    client: Any, rows: Sequence[BatchRow], batch_hash: str, job: Job, *,
    poll_every: float = 2.0, poll_for: float = 1800.0, sleep: Callable[[float], None] = time.sleep,
) -> ImageRunResult:
    """The paid call, sent exactly once; then polling if the server answered asynchronously."""
    _emit(job, log_entry("submitted", f"{plural(len(rows), 'row')} sent for live generation",
                         job_id=batch_hash[:12]))
    live = client.generate_images(rows, batch_hash=batch_hash)
    job.accepted, job.batch_id = True, live.batch_id
    if not live.pending:
        for out in live.jobs:
            _emit(job, _job_line(out.job_id, out.scene_id, out.status, out.error, len(out.images)))
        return ImageRunResult(live=live)
    poll_id = next((j.job_id for j in live.jobs if j.job_id), live.batch_id)
    job.poll_ids = {poll_id: ""}
    _emit(job, log_entry("accepted", "the server accepted the batch (billed); fetching results",
                         job_id=poll_id))
    job.checkpoint()
    return _poll_images(client, live, poll_id, job, poll_every=poll_every, poll_for=poll_for,
                        sleep=sleep)


#: waits between status checks after one failed: 2, 4, 8, … seconds, at most a minute
def _backoff(failures: int, base: float) -> float:
    return min(max(base, 0.0) * (2 ** min(failures, 6)), 60.0)


def _status_or_none(client: Any, poll_id: str, job: Job, failures: int,
                    scene_id: str = "") -> Any:
    """One status check; a failure is logged (the work stays billed) and gives None."""
    try:
        status = client.job_status(poll_id)
    except OrchestratorError as exc:
        if getattr(exc, "type", "") == SCHEMA_REFUSAL:
            # the server says this id can never be asked about: polling again cannot help
            job.unpollable = True
        if failures == 0:
            job.fetch_problem = f"billed — results not fetched yet: {exc} Retrying; nothing is resent."
            _emit(job, log_entry("fetch_failed", job.fetch_problem, job_id=poll_id,
                                 scene_id=scene_id))
            job.checkpoint()
        return None
    if job.fetch_problem:
        job.fetch_problem = ""
        job.checkpoint()
    return status


def _poll_images(
    client: Any, live: LiveResult, poll_id: str, job: Job, *,
    poll_every: float, poll_for: float, sleep: Callable[[float], None],
) -> ImageRunResult:
    deadline = time.monotonic() + poll_for
    last_word = ""
    failures = 0
    last: StatusResult | None = None
    while True:
        status = _status_or_none(client, poll_id, job, failures)
        if status is None:
            failures += 1
            if job.unpollable or time.monotonic() > deadline:
                return ImageRunResult(live=live, final=last, timed_out=True)
            sleep(_backoff(failures, poll_every))
            continue
        if failures:
            _emit(job, log_entry("fetching", "the status check works again", job_id=poll_id))
        failures, last = 0, status
        changed = status.progress != job.progress
        job.progress = status.progress
        if status.status_word != last_word or status.status in TERMINAL:
            pct = "" if status.progress is None else f" {status.progress:.0%}"
            _emit(job, log_entry(status.status.value, f"{status.status_word}{pct}".strip(),
                                 job_id=poll_id))
            last_word = status.status_word
            changed = True
        if status.status in TERMINAL:
            return ImageRunResult(live=live, final=status)
        if changed:
            job.checkpoint()
        if time.monotonic() > deadline:
            return ImageRunResult(live=live, final=status, timed_out=True)
        sleep(poll_every)


def _job_line(job_id: str, scene_id: str, status: JobStatus, error: str, images: int) -> LogEntry:
    if status == JobStatus.COMPLETED:
        message = f"{images} image{'s' if images != 1 else ''}"
    else:
        message = error or status.value
    return log_entry(status.value, message, job_id=job_id, scene_id=scene_id)


def run_videos(
    client: Any, plan: VideoPlan, batch_hash: str, job: Job, *,
    poll_every: float = 2.0, poll_for: float = 1800.0, sleep: Callable[[float], None] = time.sleep,
) -> VideoRunResult:
    """The paid video call, sent once, then polling every clip's job until it is done."""
    batch = client.generate_videos(plan.items, confirm_count=plan.clips, batch_hash=batch_hash)
    job.accepted, job.batch_id = True, batch.batch_id
    job.poll_ids = {j.job_id: j.scene_id for j in batch.jobs if j.job_id}
    open_jobs = {j.job_id: j.scene_id for j in batch.jobs if j.job_id}
    for j in batch.jobs:
        _emit(job, log_entry(j.status.value, j.error or "accepted", job_id=j.job_id,
                             scene_id=j.scene_id))
        if j.status in TERMINAL or not batch.pending:
            open_jobs.pop(j.job_id, None)
    job.checkpoint()
    return _poll_videos(client, batch, open_jobs, job, poll_every=poll_every,
                        poll_for=poll_for, sleep=sleep)


def _poll_videos(
    client: Any, batch: VideoBatchResult, open_jobs: dict[str, str], job: Job, *,
    poll_every: float, poll_for: float, sleep: Callable[[float], None],
) -> VideoRunResult:
    finals: dict[str, StatusResult] = {}
    deadline = time.monotonic() + poll_for
    failures = 0
    while open_jobs:
        if job.unpollable or time.monotonic() > deadline:
            return VideoRunResult(batch=batch, finals=finals, timed_out=True)
        # One status call per open clip per round: stay well under the server's
        # 100 requests/minute however many clips are open.
        sleep(max(poll_every, 0.8 * len(open_jobs)) if not failures
              else _backoff(failures, max(poll_every, 0.8 * len(open_jobs))))
        failed_round = False
        for job_id, scene in list(open_jobs.items()):
            status = _status_or_none(client, job_id, job, failures, scene)
            if status is None:
                failed_round = True
                continue
            previous = finals.get(job_id)
            finals[job_id] = status
            if previous is None or previous.status_word != status.status_word:
                _emit(job, log_entry(status.status.value, status.error or status.status_word,
                                     job_id=job_id, scene_id=scene))
            if status.status in TERMINAL:
                del open_jobs[job_id]
        failures = failures + 1 if failed_round else 0
        job.checkpoint()
    return VideoRunResult(batch=batch, finals=finals)


def resume_polling(
    client: Any, submission: Submission, job: Job, *,
    poll_every: float = 2.0, poll_for: float = 1800.0, sleep: Callable[[float], None] = time.sleep,
) -> ImageRunResult | VideoRunResult:
    """Poll the server's jobs of a submission sent before a restart; nothing is sent again."""
    job.batch_id, job.poll_ids = submission.batch_id, dict(submission.poll_ids)
    _emit(job, log_entry("resumed", "polling again after a restart; nothing was resent",
                         job_id=submission.batch_id or submission.batch_hash[:12]))
    if submission.kind == "images":
        poll_id = next(iter(submission.poll_ids))
        live = LiveResult(batch_id=submission.batch_id or poll_id, pending=True)
        return _poll_images(client, live, poll_id, job, poll_every=poll_every,
                            poll_for=poll_for, sleep=sleep)
    batch = VideoBatchResult(
        batch_id=submission.batch_id,
        jobs=tuple(VideoJobOut(job_id=j, scene_id=s, status=JobStatus.QUEUED)
                   for j, s in submission.poll_ids.items()),
        pending=True,
    )
    return _poll_videos(client, batch, dict(submission.poll_ids), job, poll_every=poll_every,
                        poll_for=poll_for, sleep=sleep)

