"""What paid work came to, as pure folds over the workflow state.

``after_*`` take a :class:`WorkflowState` and an outcome (an answer, an error, a finished
job) and return the new state: images, approvals kept or dropped, submissions moved along
the ledger's states (``docs/ledger.md``), log lines. ``checkpoint_fold`` turns what a
running job has learnt into such a fold. The I/O that produces the outcomes lives in
``batchcore.adapters.worker``; the service layer wires the two. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from batchcore.domain import clock
from batchcore.domain.pricing import PRICE_PER_IMAGE, VIDEO_PRICES, format_money, video_cost
from batchcore.domain.rows import BatchRow, plural
from batchcore.domain.statuslog import log_entry
from batchcore.domain.workflow import (
    Mode,
    GeneratedImage,
    Submission,
    SubmissionState,
    VideoClip,
    WorkflowState,
    append_log,
    approved_scenes,
    check_video_confirmation,
    finish_submission,
    in_flight,
    make_receipt,
    mark_accepted,
    note_fetch_problem,
    note_progress,
    record_dry_run,
    record_images,
    with_submission,
)
from batchcore.errors import (
    AlreadySubmitted,
    ApiError,
    BatchStudioError,
    ConfirmationMismatch,
    GuardrailError,
    InputError,
    NotImplementedByBackend,
    OutcomeUnknown,
    ResponseFormatError,
    TransportError,
)
from batchcore.wire.models import (
    DryRunResult,
    JobStatus,
    LiveResult,
    StatusResult,
    VideoBatchResult,
    VideoItem,
    generated_images,
)

if TYPE_CHECKING:  # only for annotations: the job runner is an adapter
    from batchcore.adapters.jobs import Job

__all__ = [
    "ImageRunResult",
    "ClipState",
    "VideoChoice",
    "VideoPlan",
    "VideoRunResult",
    "after_dry_run",
    "after_image_error",
    "after_images",
    "after_video_error",
    "after_videos",
    "apply_job",
    "begin_video_submission",
    "checkpoint_fold",
    "drain_events",
    "error_outcome",
    "nothing_to_send",
    "plan_videos",
    "reconcile_orphans",
    "video_batch_hash",
    "video_choices",
]

TERMINAL = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}


_now = clock.moment


def after_dry_run(
    state: WorkflowState, mode: Mode, rows: Sequence[BatchRow], result: DryRunResult,
    now: datetime | None = None,
) -> WorkflowState:
    """Keep the receipt of a completed dry-run and log it with both costs."""
    moment = _now(now)
    receipt = make_receipt(mode, rows, now=moment, server_estimated_cost=result.estimated_cost,
                           batch_id=result.batch_id)
    note = f"{receipt.images} image{'s' if receipt.images != 1 else ''} would cost " \
           f"{format_money(receipt.estimated_cost)}"
    if receipt.server_estimated_cost is not None and \
            receipt.server_estimated_cost != receipt.estimated_cost:
        note += f" (the server estimated {format_money(receipt.server_estimated_cost)})"
    entry = log_entry("dry_run", f"{note}; hash {receipt.batch_hash[:12]}",
                      job_id=result.batch_id, now=moment)
    return append_log(record_dry_run(state, receipt), entry)


# --- live images ------------------------------------------------------------------------


class ImageRunResult(BaseModel):
    """What a live image run ended with: the first answer and, if it was async, the last poll."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    live: LiveResult
    final: StatusResult | None = None
    timed_out: bool = False


def after_images(
    state: WorkflowState, batch_hash: str, rows: Sequence[BatchRow], outcome: ImageRunResult,
    now: datetime | None = None,
) -> WorkflowState:
    """Record a finished live run: images per scene, failed rows, and what it really cost."""
    moment = _now(now)
    if outcome.timed_out:  # billed: keep what already arrived, offer to fetch the rest
        arrived = generated_images(outcome.final, rows) if outcome.final is not None else []
        return _not_fetched(record_images(state, arrived), batch_hash, outcome.live.batch_id,
                            moment)
    source: LiveResult | StatusResult = outcome.final or outcome.live
    images = generated_images(source, rows)
    counted = PRICE_PER_IMAGE * len(images)
    got = {img.scene_id for img in images}
    failed = [r.scene_id for r in rows if r.scene_id not in got]
    state_word: SubmissionState
    if not images:
        state_word, summary = "failed", "no images came back"
    elif failed:
        state_word, summary = "partial", (f"{len(failed)} of {plural(len(rows), 'row')} "
                                           "failed")
    else:
        state_word, summary = "completed", "every row completed"
    reported = outcome.live.reported_actual_cost
    cost_note = f"cost {format_money(counted)} by our count"
    if reported is not None and reported != counted:
        cost_note += f" (the server reported {format_money(reported)})"
    new = record_images(state, images)
    new = finish_submission(new, batch_hash, state_word, batch_id=outcome.live.batch_id,
                            actual_cost=counted, message=summary, produced=len(images),
                            now=moment)
    errors = _row_errors(outcome)
    entries = [
        log_entry("failed", errors.get(scene) or errors.get("") or "no image returned",
                  job_id=outcome.live.batch_id, scene_id=scene, now=moment)
        for scene in failed
    ]
    entries.append(log_entry(state_word, f"{len(images)} images; {summary}; {cost_note}",
                             job_id=outcome.live.batch_id, now=moment))
    return append_log(new, *entries)


def _row_errors(outcome: ImageRunResult) -> dict[str, str]:
    final_rows = outcome.final.results if outcome.final is not None else ()
    errors = {j.scene_id: j.error for j in (*outcome.live.jobs, *final_rows) if j.error}
    for scene in outcome.live.rejected:
        errors.setdefault(scene, "rejected by the server")
    if outcome.final is not None and outcome.final.error:
        errors.setdefault("", outcome.final.error)
    return errors


def _maybe_billed(error: BaseException) -> bool:
    """Did the paid call perhaps go through? A lost answer, or an unreadable answer to it."""
    return isinstance(error, OutcomeUnknown) or (
        isinstance(error, ResponseFormatError) and bool(getattr(error, "batch_hash", ""))
    )


def error_outcome(error: BaseException) -> tuple[SubmissionState, str]:
    """How a paid call that raised ended, as (submission state, message).

    * ``not_sent``: it provably never left (connection refused, DNS, refused on our side);
    * ``rejected``: the server answered with an error status (it took nothing);
    * ``outcome_unknown``: it was sent and no readable answer came (maybe billed), and any
      error we do not understand (we never assume it was not billed).
    """
    if _maybe_billed(error):
        return "outcome_unknown", str(error)
    if isinstance(error, NotImplementedByBackend):
        return "rejected", ("The backend does not generate videos yet (501 Not Implemented); "
                            f"nothing was billed. {error}")
    if isinstance(error, ApiError):
        return "rejected", f"{error} The server refused it, so nothing was billed."
    if isinstance(error, (TransportError, InputError, GuardrailError)):
        return "not_sent", f"{error} Nothing was sent; you can generate it again."
    if isinstance(error, BatchStudioError):
        return "outcome_unknown", str(error)
    return "outcome_unknown", (
        f"Unexpected error ({type(error).__name__}) while sending; it may or may not have been "
        "processed and billed. Nothing will be resent.")


def after_image_error(
    state: WorkflowState, batch_hash: str, error: BaseException, now: datetime | None = None
) -> WorkflowState:
    """Record a live run that raised: not sent, rejected, or outcome unknown (maybe billed).

    A submission the server had already accepted stays billed (see ``finish_submission``).
    """
    moment = _now(now)
    word, message = error_outcome(error)
    sub = state.submissions.get(batch_hash)
    if sub is not None and sub.state == "accepted":
        return _not_fetched(state, batch_hash, sub.batch_id, moment, problem=message)
    new = finish_submission(state, batch_hash, word, message=message, now=moment)
    return append_log(new, log_entry(word, message, job_id=batch_hash[:12], now=moment))


def _not_fetched(state: WorkflowState, batch_hash: str, batch_id: str, moment: datetime,
                 problem: str = "") -> WorkflowState:
    """Accepted (billed) work whose results we stopped fetching: kept billed and counted,
    offered "Fetch results again" — never a resend."""
    new = mark_accepted(state, batch_hash, batch_id=batch_id)
    text = "billed — results not fetched yet" + (f": {problem}" if problem else "") + \
        ". Use Fetch results again; nothing will be resent."
    new = note_fetch_problem(new, batch_hash, text, stalled=True)
    return append_log(new, log_entry("not_fetched", text, job_id=batch_id or batch_hash[:12],
                                     now=moment))


# --- videos -----------------------------------------------------------------------------


#: what a scene's approved image already has, as the video step says it
ClipState = Literal["none", "made", "in_flight", "unknown", "failed"]

_CLIP_NOTES: dict[str, str] = {
    "none": "",
    "made": "clip made",
    "in_flight": "clip in flight",
    "unknown": "outcome unknown: not offered again (check the backend first)",
    "failed": "the last try failed",
}


@dataclass(frozen=True)
class VideoChoice:
    """One approved scene in the video step: its image and whether that image already has a
    clip. New scenes (and failed tries) are sent by default; a made clip is left out unless
    the person chooses to make it again; one in flight or of unknown outcome is never
    offered (nothing is sent twice)."""

    image: GeneratedImage
    clip: ClipState = "none"
    #: the batch hash of the clip made from this image ("" when none is made)
    made_by: str = ""
    model: str = ""

    @property
    def scene_id(self) -> str:
        return self.image.scene_id

    @property
    def by_default(self) -> bool:
        return self.clip in ("none", "failed")

    @property
    def can_make_again(self) -> bool:
        return self.clip == "made"

    @property
    def note(self) -> str:
        if self.clip == "made" and self.model:
            return f"clip made ({self.model})"
        return _CLIP_NOTES[self.clip]


def _clip_state(clip: VideoClip) -> ClipState:
    if clip.status == "done":
        return "made"
    if clip.status == "error":
        return "failed"
    if clip.status == "outcome_unknown":
        return "unknown"
    return "in_flight"


def video_choices(state: WorkflowState) -> list[VideoChoice]:
    """Every approved scene, in result order, with what its approved image already has (a
    clip of an earlier pick of the scene does not count: the new pick has none)."""
    out: list[VideoChoice] = []
    for image in approved_scenes(state):
        clip = state.videos.get(image.scene_id)
        if clip is None or clip.image_url != image.url:
            out.append(VideoChoice(image=image))
            continue
        word = _clip_state(clip)
        out.append(VideoChoice(image=image, clip=word, model=clip.model,
                               made_by=clip.batch_hash if word == "made" else ""))
    return out


class VideoPlan(BaseModel):
    """The clips a video submission would make, and their cost: one per approved scene that
    has no clip yet, plus the made ones chosen to be made again (``again``)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[VideoItem, ...]
    model: str
    cost: Decimal
    #: ``scene:batch hash`` of each made clip this plan makes again (part of its hash, so a
    #: deliberate second purchase is a new call and a double click on it is not)
    again: tuple[str, ...] = ()
    #: approved scenes left out because their image has a clip (made, in flight or unknown)
    left_out: tuple[str, ...] = ()

    @property
    def clips(self) -> int:
        return len(self.items)


def plan_videos(
    state: WorkflowState, model: str = "veo3_fast", aspect: str = "16:9", resolution: int = 720,
    again: Iterable[str] = (),
) -> VideoPlan:
    """One clip per approved image that has none yet, and per scene in ``again`` whose clip
    is made (made again on purpose, billed again), with the exact total cost for ``model``.
    Clips in flight or of unknown outcome are never planned again."""
    if model not in VIDEO_PRICES:
        raise ValueError(f"Unknown video model {model!r}.")
    wanted = set(again)
    choices = video_choices(state)
    send = [c for c in choices if c.by_default or (c.can_make_again and c.scene_id in wanted)]
    items = tuple(
        VideoItem.model_validate({
            "scene_id": c.image.scene_id, "prompt": c.image.prompt or c.image.scene_id,
            "approved_image_url": c.image.url, "veo_model": model, "aspect": aspect,
            "resolution": resolution})
        for c in send
    )
    return VideoPlan(
        items=items, model=model, cost=video_cost(model, len(items)),
        again=tuple(f"{c.scene_id}:{c.made_by}" for c in send if c.can_make_again),
        left_out=tuple(c.scene_id for c in choices if c not in send))


def nothing_to_send(plan: VideoPlan) -> str:
    """Why a plan with no clips sends nothing, in one sentence."""
    if plan.left_out:
        return ("Every approved scene already has a clip (made or in flight), so nothing would "
                "be sent. To pay for a made clip again, choose it under “Make these clips again”.")
    return "Approve at least one image before generating video."


def video_batch_hash(plan: VideoPlan) -> str:
    """A stable hash of exactly what would be sent (and of the clips it makes again), so the
    same plan is never sent twice."""
    import hashlib

    body = "videos" + "".join(i.model_dump_json() for i in plan.items)
    if plan.again:
        body += "again:" + ",".join(plan.again)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def begin_video_submission(
    state: WorkflowState, plan: VideoPlan, typed: str, now: datetime | None = None,
    *, runner: str = "", sid: str = "",
) -> tuple[WorkflowState, str]:
    """Check the typed count, then mark the videos in flight (the spend cap is checked by
    the ledger when the submission is saved with its reservation)."""
    if in_flight(state, "videos"):
        raise AlreadySubmitted("Videos are already being generated; wait for them to finish.")
    if plan.clips == 0:
        raise ConfirmationMismatch(nothing_to_send(plan))
    check_video_confirmation(typed, plan.clips)
    hash_ = video_batch_hash(plan)
    earlier = state.submissions.get(hash_)
    if earlier is not None and earlier.state in ("completed", "partial", "outcome_unknown"):
        raise AlreadySubmitted(
            "These exact clips were already submitted; change the approvals or the model "
            "to make new ones."
        )
    moment = _now(now)
    sub = Submission(batch_hash=hash_, kind="videos", cost=plan.cost, started_at=moment,
                     runner=runner, sid=sid)
    clips = {i.scene_id: VideoClip(scene_id=i.scene_id, batch_hash=hash_, model=plan.model,
                                   status="submitting", image_url=i.approved_image_url)
             for i in plan.items}
    new = with_submission(state, sub).model_copy(update={"videos": {**state.videos, **clips}})
    entry = log_entry("submitted", f"{plan.clips} clip{'s' if plan.clips != 1 else ''} with "
                      f"{plan.model}, {format_money(plan.cost)}", job_id=hash_[:12], now=moment)
    return append_log(new, entry), hash_


class VideoRunResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch: VideoBatchResult
    finals: dict[str, StatusResult] = {}
    timed_out: bool = False


def after_videos(
    state: WorkflowState, batch_hash: str, outcome: VideoRunResult, now: datetime | None = None
) -> WorkflowState:
    """Record the clips: their URLs when done, their errors when not.

    The cost counts every clip the server accepted (a failed clip may or may not be billed;
    the cap errs on the side of counting it); planned clips it did not accept cost nothing.
    """
    moment = _now(now)
    videos = dict(state.videos)
    planned = [k for k, v in state.videos.items() if v.batch_hash == batch_hash]
    accepted = {j.scene_id for j in outcome.batch.jobs}
    done = failed = 0
    for j in outcome.batch.jobs:
        final = outcome.finals.get(j.job_id)
        status = final.status if final else j.status
        url = (final.outputs[0] if final and final.outputs else j.video_url)
        error = (final.error if final else "") or j.error
        old = videos.get(j.scene_id) or VideoClip(scene_id=j.scene_id)
        if status == JobStatus.COMPLETED and url:
            word = "done"
        elif status == JobStatus.COMPLETED:
            word, error = "error", error or "The server finished this clip without a video URL."
        elif status in (JobStatus.FAILED, JobStatus.CANCELED):
            word = "error"
        else:
            word = status.value
        done += word == "done"
        failed += word == "error"
        videos[j.scene_id] = old.model_copy(update={
            "job_id": j.job_id, "batch_id": outcome.batch.batch_id, "status": word,
            "url": url or "", "error": error,
        })
    for scene in planned:
        if scene not in accepted and videos[scene].status == "submitting":
            videos[scene] = videos[scene].model_copy(update={
                "status": "error", "error": "The server did not accept this clip; not billed."})
    sub = state.submissions[batch_hash]
    clips = max(len(planned), len(outcome.batch.jobs), 1)
    price = sub.cost / clips
    if outcome.timed_out:
        return _not_fetched(state.model_copy(update={"videos": videos}), batch_hash,
                            outcome.batch.batch_id, moment)
    outcome_word: SubmissionState
    if done and done == clips:
        outcome_word = "completed"
    elif done:
        outcome_word = "partial"
    else:
        outcome_word = "failed"
    actual = price * len(outcome.batch.jobs)
    note = f"cost {format_money(actual)}"
    if failed:
        note += (", counting the failed clip in case it was billed" if failed == 1 else
                 f", counting the {failed} failed clips in case they were billed")
    new = state.model_copy(update={"videos": videos})
    new = finish_submission(new, batch_hash, outcome_word, batch_id=outcome.batch.batch_id,
                            actual_cost=actual, message=f"{done} clip(s) ready",
                            produced=done, now=moment)
    return append_log(new, log_entry(outcome_word, f"{done} of {clips} clips ready; {note}",
                                     job_id=outcome.batch.batch_id, now=moment))


def after_video_error(
    state: WorkflowState, batch_hash: str, error: BaseException, now: datetime | None = None
) -> WorkflowState:
    """A video submission that raised: its clips show the error; unknown outcomes say so."""
    moment = _now(now)
    new = after_image_error(state, batch_hash, error, now=moment)
    if new.submissions[batch_hash].state == "accepted":  # billed: the clips keep their state
        return new
    word = "outcome_unknown" if new.submissions[batch_hash].state == "outcome_unknown" else "error"
    message = new.submissions[batch_hash].message
    videos = {k: (v.model_copy(update={"status": word, "error": message})
                  if v.batch_hash == batch_hash and v.status == "submitting" else v)
              for k, v in new.videos.items()}
    return new.model_copy(update={"videos": videos})


# --- the page's glue ------------------------------------------------------------------


def checkpoint_fold(job: Job) -> Callable[[WorkflowState], WorkflowState]:
    """A pure fold of what a running job has learnt since the last checkpoint: its status
    lines, that the server accepted it (billed), the ids to poll it by (so it can be
    polled again after a restart), its progress. Each line is taken from the job once."""
    entries = job.take_events()
    key, accepted, batch_id = job.batch_hash, job.accepted, job.batch_id
    poll_ids, progress, problem = dict(job.poll_ids), job.progress, job.fetch_problem

    def fold(state: WorkflowState) -> WorkflowState:
        state = append_log(state, *entries) if entries else state
        sub = state.submissions.get(key)
        if sub is None:
            return state
        if accepted:
            state = mark_accepted(state, key, batch_id=batch_id, poll_ids=poll_ids)
        elif poll_ids and sub.poll_ids != poll_ids:
            state = state.model_copy(update={"submissions": {**state.submissions, key: (
                sub.model_copy(update={"poll_ids": poll_ids,
                                       "batch_id": sub.batch_id or batch_id}))}})
        state = note_progress(state, key, progress)
        if accepted and state.submissions[key].fetch_problem != problem:
            state = note_fetch_problem(state, key, problem)
        scene_job = {scene: j for j, scene in poll_ids.items() if scene}
        if scene_job:
            videos = {k: (v.model_copy(update={"job_id": scene_job[k], "status": "queued"})
                          if v.batch_hash == key and k in scene_job and v.status == "submitting"
                          else v)
                      for k, v in state.videos.items()}
            state = state.model_copy(update={"videos": videos})
        return state

    return fold


def drain_events(state: WorkflowState, job: Job) -> WorkflowState:
    """Fold in what a running job has learnt since the last call (see checkpoint_fold)."""
    return checkpoint_fold(job)(state)


def apply_job(state: WorkflowState, job: Job, rows: Sequence[BatchRow] = (),
              now: datetime | None = None) -> WorkflowState:
    """Fold a finished job into the state (its remaining lines, then its outcome)."""
    state = drain_events(state, job)
    if job.kind == "images":
        if job.error is not None:
            return after_image_error(state, job.batch_hash, job.error, now)
        return after_images(state, job.batch_hash, rows, job.result, now)
    if job.error is not None:
        return after_video_error(state, job.batch_hash, job.error, now)
    return after_videos(state, job.batch_hash, job.result, now)


def reconcile_orphans(
    state: WorkflowState, running_keys: set[str], now: datetime | None = None,
    alive: Callable[[Submission], bool] | None = None,
) -> tuple[WorkflowState, list[Submission]]:
    """In-flight submissions nobody is running any more (the app restarted).

    Those the server gave job ids for come back in the list, to be polled again (nothing
    is resent). The others — a synchronous paid call cut off by the restart — may or may
    not have been billed: they are marked outcome unknown and shown, never resubmitted.
    ``alive(sub)`` says whether another process may still be running it (then it is left).
    """
    resumable: list[Submission] = []
    for sub in in_flight(state):
        if sub.batch_hash in running_keys or (alive is not None and alive(sub)):
            continue
        if sub.poll_ids:
            resumable.append(sub)
            continue
        if sub.state == "reserved":  # saved, but the app stopped before sending it
            state = after_video_error(state, sub.batch_hash, TransportError(
                "The app stopped before this paid call was sent."), now)
            continue
        if sub.state == "accepted":  # billed, but there is no id to fetch it by
            state = _not_fetched(state, sub.batch_hash, sub.batch_id, _now(now),
                                 problem="the app restarted and the server gave no id to poll")
            continue
        message = (
            f"The app restarted while this {sub.kind} call was in flight (batch hash "
            f"{sub.batch_hash[:12]}). It may or may not have been processed and billed; "
            "check the backend before trying again. Nothing was resent."
        )
        state = after_image_error(state, sub.batch_hash, OutcomeUnknown(
            message, batch_hash=sub.batch_hash), now)
        if sub.kind == "videos":
            state = state.model_copy(update={"videos": {
                k: (v.model_copy(update={"status": "outcome_unknown", "error": message})
                    if v.batch_hash == sub.batch_hash and v.status in ("submitting", "queued",
                                                                       "running") else v)
                for k, v in state.videos.items()}})
    return state, resumable
