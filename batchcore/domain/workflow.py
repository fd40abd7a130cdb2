"""The workflow state and the decisions made on it.

``WorkflowState`` is plain, frozen, JSON-serialisable data; every function here takes a
state and returns a new one (or a decision) and does no I/O. The page keeps one state,
calls these, and draws the result (functional core, imperative shell).

The gate for a paid image call is :func:`can_generate`; :func:`begin_image_submission`
applies it again and *consumes* the dry-run receipt in the same step, so one dry-run
allows exactly one live submission and a second click cannot submit twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from batchcore.domain import clock
from batchcore.domain.hashing import batch_hash, day_bucket
from batchcore.domain.pricing import format_money, image_cost, to_decimal, total_images
from batchcore.domain.rows import BatchRow, LineError, ParseResult
from batchcore.domain.statuslog import LogEntry
from batchcore.errors import AlreadySubmitted, ConfirmationMismatch, DryRunRequired

__all__ = [
    "Approval",
    "Draft",
    "DryRunReceipt",
    "Gate",
    "GeneratedImage",
    "Inputs",
    "Mode",
    "Reference",
    "Submission",
    "SubmissionState",
    "VideoClip",
    "WorkflowState",
    "BILLED_STATES",
    "OPEN_STATES",
    "UNBILLED_STATES",
    "all_submissions",
    "append_log",
    "approve",
    "approved_scenes",
    "begin_image_submission",
    "can_generate",
    "check_video_confirmation",
    "current_hash",
    "describe_receipt",
    "finish_submission",
    "in_flight",
    "make_receipt",
    "mark_accepted",
    "mark_sent",
    "note_fetch_problem",
    "note_progress",
    "resume_fetching",
    "unfetched",
    "record_dry_run",
    "record_images",
    "take_of",
    "unapprove",
    "video_confirmation_ok",
    "with_draft",
    "with_submission",
]

Mode = Literal["single", "batch"]
#: The honest states of a paid submission (see ``docs/ledger.md``)::
#:
#:     reserved ──► sent ──► accepted ──► completed | partial | failed
#:        │           ├────► rejected          (the server answered with an error: not billed)
#:        │           └────► outcome_unknown   (sent, no readable answer: maybe billed)
#:        └────────────────► not_sent          (provably never left: the receipt is given back)
#:
#: ``accepted`` and the three after it are billed and never downgraded.
SubmissionState = Literal["reserved", "sent", "accepted", "completed", "partial", "failed",
                          "rejected", "not_sent", "outcome_unknown"]
#: States whose outcome is still to come.
OPEN_STATES = frozenset({"reserved", "sent", "accepted"})
#: States in which the server took the work: billed, whatever happens after.
BILLED_STATES = frozenset({"accepted", "completed", "partial", "failed"})
#: States in which nothing was billed: the dry-run receipt is given back.
UNBILLED_STATES = frozenset({"rejected", "not_sent"})


_now = clock.moment


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Draft(_Frozen):
    """What the person is about to send: the mode and the checked rows (or their errors)."""

    mode: Mode = "batch"
    rows: tuple[BatchRow, ...] = ()
    errors: tuple[LineError, ...] = ()


class DryRunReceipt(_Frozen):
    """Proof that a dry-run of exactly these rows (this hash) completed, and what it cost."""

    batch_hash: str
    mode: Mode
    rows: tuple[BatchRow, ...]
    images: int
    estimated_cost: Decimal
    server_estimated_cost: Decimal | None = None
    batch_id: str = ""
    created_at: datetime
    day: int
    used_by: str = ""  # set when a live submission consumed this receipt


class Submission(_Frozen):
    """One paid call: images or videos, from confirmation until its outcome is known."""

    batch_hash: str
    kind: Literal["images", "videos"]
    state: SubmissionState = "reserved"
    cost: Decimal
    started_at: datetime
    finished_at: datetime | None = None
    batch_id: str = ""
    actual_cost: Decimal | None = None
    message: str = ""
    #: the process that sent it (``jobs.process_token()``), to tell a restart from a replica
    runner: str = ""
    #: job ids the server gave to poll (job id → scene id, "" for the whole batch); a
    #: submission with poll ids can be resumed after a restart instead of being abandoned
    poll_ids: dict[str, str] = Field(default_factory=dict)
    #: images (or clips) that came back, counted when it finished; later runs that replace a
    #: scene's images do not change it
    produced: int | None = None
    #: accepted, but its results could not be fetched (yet): why, and whether polling stopped
    fetch_problem: str = ""
    stalled: bool = False
    #: the server's progress (0–1) while it is being polled
    progress: float | None = None
    #: who confirmed it (the signed-in email, or "") and on which backend ("mock" or its URL)
    owner: str = ""
    deployment: str = ""

    @field_validator("state", mode="before")
    @classmethod
    def _legacy_state(cls, value: Any) -> Any:
        # states saved before the ledger had honest states: "in_flight" meant sent
        return "sent" if value == "in_flight" else value

    #: a unique id, given when it is reserved (older saved submissions have none)
    sid: str = ""

    @property
    def key(self) -> str:
        """This submission's identity in the spend ledger (a hash may be submitted again)."""
        return self.sid or f"{self.batch_hash}@{self.started_at.isoformat()}"

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


class GeneratedImage(_Frozen):
    """One generated image: ``variant`` is 1-based, in the order the server returned them."""

    scene_id: str
    variant: int
    url: str
    thumbnail_url: str = ""
    job_id: str = ""
    batch_id: str = ""
    prompt: str = ""


class Approval(_Frozen):
    """The one image chosen for a scene's video."""

    image: GeneratedImage
    approved_at: datetime


class Gate(_Frozen):
    """A decision: ``allowed``, or a ``code`` and a ``reason`` a person understands."""

    allowed: bool
    code: str = "ok"
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


class Inputs(_Frozen):
    """What the person typed, kept so a refresh restores the page exactly."""

    mode: Mode = "batch"
    batch_text: str = ""
    parsed_text: str | None = None  # the batch text as it was when Parse was last pressed
    grid: tuple[dict[str, Any], ...] = ()  # the rows as edited in the grid after Parse
    single_prompt: str = ""
    single_variants: int = 1
    single_scene_id: str = ""


class Reference(_Frozen):
    """An uploaded reference image: its name and the URL rows send as a reference."""

    name: str
    url: str
    thumbnail_url: str = ""
    size: int = 0
    mime: str = ""
    sha256: str = ""


class VideoClip(_Frozen):
    """One video job for an approved scene, from submission until its clip is ready."""

    scene_id: str
    job_id: str = ""
    batch_hash: str = ""
    batch_id: str = ""
    model: str = "veo3_fast"
    status: str = "queued"
    url: str = ""
    error: str = ""
    image_url: str = ""


class WorkflowState(_Frozen):
    """Everything a workspace remembers; serialisable with ``model_dump_json``."""

    inputs: Inputs = Field(default_factory=Inputs)
    references: tuple[Reference, ...] = ()
    draft: Draft = Field(default_factory=Draft)
    receipts: dict[str, DryRunReceipt] = Field(default_factory=dict)
    submissions: dict[str, Submission] = Field(default_factory=dict)
    images: dict[str, tuple[GeneratedImage, ...]] = Field(default_factory=dict)
    approvals: dict[str, Approval] = Field(default_factory=dict)
    log: tuple[LogEntry, ...] = ()
    videos: dict[str, VideoClip] = Field(default_factory=dict)
    #: earlier finished submissions of a hash that was submitted again (after a new dry-run);
    #: kept so spend and history still count them
    past_submissions: tuple[Submission, ...] = ()
    #: the signed-in person it belongs to ("" without sign-in: the whole team's)
    owner: str = ""


def all_submissions(state: WorkflowState) -> list[Submission]:
    """Every paid submission this workspace ever made, earlier repeats of a hash included."""
    return [*state.past_submissions, *state.submissions.values()]


def with_submission(state: WorkflowState, submission: Submission) -> WorkflowState:
    """Start tracking ``submission``; a finished one of the same hash moves to the past."""
    earlier = state.submissions.get(submission.batch_hash)
    past = state.past_submissions + ((earlier,) if earlier is not None else ())
    return state.model_copy(update={
        "submissions": {**state.submissions, submission.batch_hash: submission},
        "past_submissions": past,
    })


# --- the draft -------------------------------------------------------------------------


def with_draft(state: WorkflowState, mode: Mode, parsed: ParseResult) -> WorkflowState:
    """Replace the draft with freshly parsed (or grid-edited) rows."""
    draft = Draft(mode=mode, rows=tuple(parsed.rows), errors=tuple(parsed.errors))
    return state.model_copy(update={"draft": draft})


def current_hash(state: WorkflowState, now: datetime | None = None) -> str:
    """The batch hash of the draft today."""
    return batch_hash(state.draft.mode, state.draft.rows, _now(now))


# --- dry-run receipts and the live gate --------------------------------------------------


def make_receipt(
    mode: Mode,
    rows: Sequence[BatchRow],
    *,
    now: datetime | None = None,
    server_estimated_cost: Decimal | float | None = None,
    batch_id: str = "",
) -> DryRunReceipt:
    """A receipt for a completed dry-run of ``rows``; our own cost is the one that counts."""
    moment = _now(now)
    server = None if server_estimated_cost is None else to_decimal(server_estimated_cost)
    return DryRunReceipt(
        batch_hash=batch_hash(mode, rows, moment),
        mode=mode,
        rows=tuple(rows),
        images=total_images(rows),
        estimated_cost=image_cost(rows),
        server_estimated_cost=server,
        batch_id=batch_id,
        created_at=moment,
        day=day_bucket(moment),
    )


def record_dry_run(state: WorkflowState, receipt: DryRunReceipt) -> WorkflowState:
    """Keep a dry-run receipt (a newer dry-run of the same hash replaces the older one)."""
    return state.model_copy(update={"receipts": {**state.receipts, receipt.batch_hash: receipt}})


def in_flight(state: WorkflowState, kind: str | None = None) -> list[Submission]:
    """Submissions still being worked on (optionally of one kind): reserved, sent, or
    accepted and still being fetched (an accepted one whose polling stopped is not)."""
    return [
        s for s in state.submissions.values()
        if s.open and not s.stalled and (kind is None or s.kind == kind)
    ]


def unfetched(state: WorkflowState) -> list[Submission]:
    """Billed submissions whose results have not been fetched: offered "Fetch results
    again" (never a resend)."""
    return [s for s in state.submissions.values() if s.state == "accepted" and s.stalled]


def parse_is_stale(inputs: Inputs) -> bool:
    """The Batch box was changed after Parse: what is drafted is not what the box says, so
    nothing may be dry-run or generated until Parse is pressed again (the one rule the
    dry-run, the Generate gate and the page's draft all ask)."""
    return inputs.mode == "batch" and inputs.parsed_text is not None \
        and inputs.parsed_text != inputs.batch_text


def can_generate(state: WorkflowState, hash_: str, now: datetime | None = None) -> Gate:
    """May the draft with hash ``hash_`` be generated live now? If not, say why."""
    draft = state.draft
    if draft.errors:
        n = len(draft.errors)
        return Gate(allowed=False, code="errors",
                    reason=f"Fix the {n} error{'s' if n != 1 else ''} in the batch first.")
    if not draft.rows:
        return Gate(allowed=False, code="empty", reason="There is nothing to generate yet.")
    if in_flight(state, "images"):
        return Gate(allowed=False, code="in_flight",
                    reason="Images are already being generated; wait for them to finish.")
    receipt = state.receipts.get(hash_)
    today = day_bucket(_now(now))
    if receipt is not None and receipt.day == today:
        if receipt.used_by:
            return Gate(allowed=False, code="used",
                        reason="This batch was already generated from its dry-run; "
                               "run Dry-Run Images again to generate it once more.")
        return Gate(allowed=True)
    same_rows = [r for r in state.receipts.values()
                 if r.mode == draft.mode and r.rows == draft.rows]
    if same_rows and all(r.day < today for r in same_rows):
        return Gate(allowed=False, code="expired",
                    reason="The dry-run expired at midnight UTC; run Dry-Run Images again.")
    if state.receipts:
        return Gate(allowed=False, code="changed",
                    reason="The batch changed since the dry-run; run Dry-Run Images again.")
    return Gate(allowed=False, code="no_dry_run",
                reason="No dry-run yet: run Dry-Run Images first to see the cost.")


def begin_image_submission(
    state: WorkflowState, hash_: str, now: datetime | None = None, *, runner: str = "",
    owner: str = "", sid: str = "",
) -> tuple[WorkflowState, DryRunReceipt]:
    """Check the gate and consume the receipt, in one step; raises when not allowed, leaving
    ``state`` as it was. (The spend cap is checked by the ledger when the submission is
    saved with its reservation: ``adapters.store``, ``domain.spend.cap_refusal``.)"""
    gate = can_generate(state, hash_, now)
    if not gate:
        error = AlreadySubmitted if gate.code in ("in_flight", "used") else DryRunRequired
        raise error(gate.reason)
    moment = _now(now)
    receipt = state.receipts[hash_].model_copy(update={"used_by": f"submitted {moment.isoformat()}"})
    submission = Submission(batch_hash=hash_, kind="images", cost=receipt.estimated_cost,
                            started_at=moment, runner=runner, owner=owner, sid=sid)
    new = with_submission(state, submission)
    return new.model_copy(update={"receipts": {**state.receipts, hash_: receipt}}), receipt


def finish_submission(
    state: WorkflowState,
    hash_: str,
    outcome: SubmissionState,
    *,
    batch_id: str = "",
    actual_cost: Decimal | None = None,
    message: str = "",
    produced: int | None = None,
    now: datetime | None = None,
) -> WorkflowState:
    """Record how a submission ended.

    Two rules hold whoever calls this: a submission the server accepted is never
    downgraded (a later "unknown", "rejected" or "not sent" keeps it billed, marked as
    not fetched), and a submission that provably billed nothing gives its dry-run receipt
    back, so the same batch can be generated without a new dry-run.
    """
    old = state.submissions[hash_]
    if old.state in BILLED_STATES and outcome in ("rejected", "not_sent", "outcome_unknown"):
        return note_fetch_problem(state, hash_, message, stalled=True)
    done = old.model_copy(update={
        "state": outcome, "finished_at": _now(now), "batch_id": batch_id or old.batch_id,
        "actual_cost": actual_cost, "message": message, "produced": produced,
        "fetch_problem": "", "stalled": False, "progress": None,
    })
    new = state.model_copy(update={"submissions": {**state.submissions, hash_: done}})
    if outcome in UNBILLED_STATES and old.kind == "images":
        new = _give_back_receipt(new, hash_)
    return new


def _give_back_receipt(state: WorkflowState, hash_: str) -> WorkflowState:
    receipt = state.receipts.get(hash_)
    if receipt is None or not receipt.used_by:
        return state
    back = receipt.model_copy(update={"used_by": ""})
    return state.model_copy(update={"receipts": {**state.receipts, hash_: back}})


def mark_sent(state: WorkflowState, hash_: str) -> WorkflowState:
    """reserved → sent: saved just before the paid request leaves."""
    sub = state.submissions.get(hash_)
    if sub is None or sub.state != "reserved":
        return state
    return _replace(state, sub.model_copy(update={"state": "sent"}))


def mark_accepted(
    state: WorkflowState, hash_: str, *, batch_id: str = "", poll_ids: dict[str, str] | None = None,
) -> WorkflowState:
    """sent → accepted: the server took the work (billed); keep what is needed to fetch it."""
    sub = state.submissions.get(hash_)
    if sub is None or sub.state not in ("reserved", "sent", "accepted"):
        return state
    update: dict[str, Any] = {"state": "accepted", "batch_id": batch_id or sub.batch_id}
    if poll_ids:
        update["poll_ids"] = dict(poll_ids)
    return _replace(state, sub.model_copy(update=update))


def note_fetch_problem(
    state: WorkflowState, hash_: str, problem: str, *, stalled: bool = False,
) -> WorkflowState:
    """An accepted submission whose results could not be fetched: it stays billed and
    counted; ``stalled`` when polling stopped (offer "Fetch results again")."""
    sub = state.submissions.get(hash_)
    if sub is None:
        return state
    return _replace(state, sub.model_copy(update={"fetch_problem": problem, "stalled": stalled}))


def resume_fetching(state: WorkflowState, hash_: str) -> WorkflowState:
    """"Fetch results again": the stalled submission is polled again (nothing is resent)."""
    sub = state.submissions.get(hash_)
    if sub is None or sub.state != "accepted":
        return state
    return _replace(state, sub.model_copy(update={"stalled": False}))


def note_progress(state: WorkflowState, hash_: str, progress: float | None) -> WorkflowState:
    sub = state.submissions.get(hash_)
    if sub is None or sub.progress == progress:
        return state
    return _replace(state, sub.model_copy(update={"progress": progress}))


def _replace(state: WorkflowState, sub: Submission) -> WorkflowState:
    return state.model_copy(update={"submissions": {**state.submissions, sub.batch_hash: sub}})


# --- images and approvals -------------------------------------------------------------


def take_of(image: GeneratedImage) -> str:
    """Which batch (take) made ``image``: its batch id, else its job id's batch part."""
    return image.batch_id or image.job_id.rsplit("_", 2)[0]


def record_images(state: WorkflowState, images: Iterable[GeneratedImage]) -> WorkflowState:
    """Show these images for their scenes, after the scene's earlier takes: a later batch
    never hides earlier paid images of the same scene id. Images of a take already shown
    (the same batch fetched again) replace it; an approval stays while its image does."""
    by_scene: dict[str, list[GeneratedImage]] = {}
    for image in images:
        by_scene.setdefault(image.scene_id, []).append(image)
    merged = dict(state.images)
    for scene, new in by_scene.items():
        takes = {take_of(i) for i in new}
        kept = tuple(i for i in state.images.get(scene, ()) if take_of(i) not in takes)
        merged[scene] = kept + tuple(new)
    approvals = {k: a for k, a in state.approvals.items() if a.image in merged.get(k, ())}
    return state.model_copy(update={"images": merged, "approvals": approvals})


def approve(state: WorkflowState, image: GeneratedImage, now: datetime | None = None) -> WorkflowState:
    """Approve ``image`` for its scene; it replaces any image approved for that scene."""
    known = state.images.get(image.scene_id, ())
    if image not in known:
        raise ValueError(f"Image #{image.variant} of {image.scene_id} is not among the results.")
    approval = Approval(image=image, approved_at=_now(now))
    return state.model_copy(update={"approvals": {**state.approvals, image.scene_id: approval}})


def unapprove(state: WorkflowState, scene_id: str) -> WorkflowState:
    """Withdraw the approval of a scene (nothing happens if it had none)."""
    return state.model_copy(
        update={"approvals": {k: v for k, v in state.approvals.items() if k != scene_id}}
    )


def approved_scenes(state: WorkflowState) -> list[GeneratedImage]:
    """The approved image of every scene, in scene order of the results."""
    order = list(state.images)
    return [state.approvals[s].image for s in sorted(state.approvals, key=_index_in(order))]


def _index_in(order: list[str]):
    return lambda scene: (order.index(scene) if scene in order else len(order), scene)


# --- video confirmation ---------------------------------------------------------------


def video_confirmation_ok(typed: str | None, clip_count: int) -> bool:
    """The typed text, stripped, must equal the clip count written in digits."""
    return clip_count > 0 and (typed or "").strip() == str(clip_count)


def check_video_confirmation(typed: str | None, clip_count: int) -> None:
    """Raise ``ConfirmationMismatch`` unless ``typed`` is exactly the clip count."""
    if not video_confirmation_ok(typed, clip_count):
        raise ConfirmationMismatch(
            f"Type the exact number of clips ({clip_count}) to confirm; "
            f"you typed {(typed or '').strip()!r}."
        )


# --- the status log ---------------------------------------------------------------------


def append_log(state: WorkflowState, *entries: LogEntry) -> WorkflowState:
    """Append entries to the log; nothing is ever removed or rewritten."""
    return state.model_copy(update={"log": state.log + tuple(entries)})


def describe_receipt(receipt: DryRunReceipt) -> str:
    """``3 rows, 6 images, $0.012`` for a receipt."""
    n = len(receipt.rows)
    return (f"{n} row{'s' if n != 1 else ''}, {receipt.images} image"
            f"{'s' if receipt.images != 1 else ''}, {format_money(receipt.estimated_cost)}")
