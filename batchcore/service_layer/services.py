"""One function per thing a person does; the page calls these and draws what they return.

Every service takes the :class:`~batchcore.bootstrap.Runtime` (the ports: client, store,
runner) and a :class:`Workspace` (its id, state and stored version) and returns an
:class:`Outcome`: the workspace as it is now, plus the notices to show. Services never
raise for something a person did or a server said; a notice says it.

Money rules, enforced here and nowhere else:

* a paid submission is *reserved* in the store (the deployment-wide daily cap checked and
  the workspace saved in one locked transaction) before anything is sent; if that cannot be
  saved, nothing is sent;
* the background worker writes every step (sent, accepted, each poll, the outcome) to the
  stored workspace itself (load → fold → save with the optimistic version, retried on a
  conflict), whether or not any page is open; a save that fails is retried, kept in memory
  meanwhile, and said on the page, and paid actions are off until it succeeds;
* accepted work is never resent: a failing status check keeps it billed and polling, and
  "Fetch results again" only polls.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import reduce
from typing import Literal, TypeVar, cast

from batchcore.adapters import worker
from batchcore.adapters.client import report_waits
from batchcore.adapters.jobs import Job, token_may_be_alive
from batchcore.adapters.store import (
    Charge,
    LoadResult,
    Reservation,
    StaleWorkspace,
    WorkspaceSummary,
    is_valid_workspace_id,
)
from batchcore.adapters.uploads import BackendUploader, upload_references
from batchcore.bootstrap import Runtime
from batchcore.domain import clock, outcomes, tokens
from batchcore.domain.access import may_open
from batchcore.domain.capabilities import clip_notes as _clip_notes
from batchcore.domain.capabilities import videos_unavailable
from batchcore.domain.exports import decode_manifest
from batchcore.domain.exports import import_manifest as parse_manifest
from batchcore.domain.gallery import (
    GalleryCard,
    find_picture,
    gallery_cards,
    picture_key,
    reroll_text,
    scene_takes,
)
from batchcore.domain.history import recent_batches as history_batches
from batchcore.domain.naming import clean_name, has_content, name_entry, workspace_name
from batchcore.domain.pricing import format_money, image_cost
from batchcore.domain.retry_rows import plan_retry
from batchcore.domain.rows import BatchRow, ParseResult, attach_refs, format_batch, parse_batch
from batchcore.domain.spend import cap_refusal, counted_amount, utc_day
from batchcore.domain.statuslog import LogEntry, log_entry
from batchcore.domain.workflow import (
    GeneratedImage,
    parse_is_stale,
    Gate,
    Inputs,
    Reference,
    Submission,
    WorkflowState,
    all_submissions,
    append_log,
    approve,
    unapprove,
    begin_image_submission,
    can_generate,
    current_hash,
    in_flight,
    mark_sent,
    resume_fetching,
    unfetched,
    with_draft,
)
from batchcore.service_layer.pictures import (
    Linking,
    Picture,
    PictureReply,
    picture_link,
    pictures,
    pictures_settled,
    prefetch,
    serve_picture,
)
from batchcore.errors import (
    AuthError,
    BatchStudioError,
    GuardrailError,
    SpendCapExceeded,
    StoreError,
    TransportError,
)
from batchcore.wire.problems import SHARED_RATE_LIMIT

__all__ = [
    "Fold",
    "Notice",
    "Outcome",
    "SpendView",
    "Workspace",
    "WorkspaceRecorder",
    "BackendCheck",
    "Picture",
    "add_references",
    "approve_image",
    "approve_picture",
    "unapprove_picture",
    "check_backend",
    "clip_notes",
    "confirm_images",
    "confirm_videos",
    "download_asset",
    "deployment_notes",
    "dry_run",
    "failed_rows",
    "may_spend",
    "fetch_asset",
    "fetch_results_again",
    "generate_gate",
    "HistoryView",
    "history_view",
    "recent_batches",
    "recent_workspaces",
    "rename_workspace",
    "reroll_scene",
    "import_manifest",
    "load_batch",
    "new_workspace",
    "open_workspace",
    "pictures",
    "pictures_settled",
    "Linking",
    "PictureReply",
    "picture_link",
    "serve_picture",
    "refuse_input",
    "remove_reference",
    "resume_all",
    "retry_failed_rows",
    "spend_view",
    "sync",
    "update_inputs",
    "video_gate",
    # the video dialog
    "nothing_to_send",
    "plan_videos",
    "video_choices",
    # the app's server: lifespan, probes, metrics, event streams
    "MetricsSnapshot",
    "Readiness",
    "check_event_token",
    "event_token",
    "metrics_snapshot",
    "note_session",
    "open_sessions",
    "readiness",
    "shut_down",
    "start_sweep",
    "stored_version",
]

Fold = Callable[[WorkflowState], WorkflowState]
R = TypeVar("R")
Level = Literal["error", "warning", "info", "success"]


_now = clock.moment


@dataclass(frozen=True)
class Notice:
    """Something to tell the person: ``level`` says how, ``text`` is plain text."""

    level: Level
    text: str


@dataclass(frozen=True)
class Workspace:
    """The workspace a page shows: its id ("" when it is not stored), state and version."""

    id: str
    state: WorkflowState
    version: int | None = None
    owner: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a service did: the workspace now, and what to tell the person."""

    ws: Workspace
    notices: tuple[Notice, ...] = ()
    saved: bool = True
    #: thumbnails made while checking uploads (url → PNG bytes), so chips need no fetch
    thumbnails: dict[str, bytes] = field(default_factory=dict)
    #: True when finished work landed (the page redraws everything)
    changed: bool = False


def _error(text: str) -> tuple[Notice, ...]:
    return (Notice("error", text),)


# --- the spend ledger ----------------------------------------------------------------------


def _charge(rt: Runtime, workspace_id: str, sub: Submission) -> Charge:
    return Charge(workspace_id=workspace_id, key=sub.key,
                  deployment=sub.deployment or rt.deployment, day=utc_day(sub.started_at),
                  kind=sub.kind, state=sub.state, amount=counted_amount(sub), open=sub.open,
                  owner=sub.owner)


def _changed_charges(rt: Runtime, workspace_id: str, old: WorkflowState,
                     new: WorkflowState) -> list[Charge]:
    """The ledger rows a change of state moves (submissions whose state or amounts moved)."""
    before = {s.key: s for s in all_submissions(old)}
    return [_charge(rt, workspace_id, s) for s in all_submissions(new)
            if before.get(s.key) != s]


# --- saving ---------------------------------------------------------------------------------


def _commit(rt: Runtime, ws: Workspace, fold: Fold, *, attempts: int = 4) -> Outcome:
    """Apply ``fold`` and save; on a conflict (another tab, the worker) reload and apply it
    again to the newer state. A failed save is said at once and the state kept in memory."""
    new = fold(ws.state)
    if new == ws.state:
        return Outcome(ws)
    if rt.store is not None and not ws.id:
        return _store_new(rt, ws, new)
    if rt.store is None or not ws.id:
        return Outcome(replace(ws, state=new), _error(
            "This change is kept on this page only: workspaces cannot be saved here. "
            + (rt.store_problem or "")), saved=False)
    for _ in range(attempts):
        try:
            version = rt.store.save(ws.id, new, ws.version,
                                    charges=_changed_charges(rt, ws.id, ws.state, new))
            _saved(rt, ws.id, version)
            return Outcome(Workspace(ws.id, new, version, ws.owner))
        except StaleWorkspace:
            loaded = _load(rt, ws.id)
            if loaded is None or not loaded.ok:
                break
            ws = Workspace(ws.id, loaded.state, loaded.version, ws.owner)
            new = fold(ws.state)
        except StoreError as exc:
            return Outcome(replace(ws, state=new), _error(
                f"This change could not be saved: {exc} It is kept on this page only; "
                "paid actions are off until the workspace can be saved."), saved=False)
    return Outcome(replace(ws, state=new), _error(
        "This change could not be saved: the workspace kept changing in another tab. "
        "It is kept on this page only; reload the page."), saved=False)


def _saved(rt: Runtime, workspace_id: str, version: int) -> None:
    """A workspace was saved: tell the pages watching it (their event streams) at once."""
    rt.changes.publish(workspace_id, str(version))


def _store_new(rt: Runtime, ws: Workspace, new: WorkflowState) -> Outcome:
    """A workspace not stored yet is stored with its first content (a bare visit leaves
    nothing behind); until then it lives on the page only."""
    assert rt.store is not None
    if not has_content(new):
        return Outcome(replace(ws, state=new))
    try:
        return Outcome(Workspace(rt.store.new_workspace(new), new, 1, ws.owner))
    except StoreError as exc:
        return Outcome(replace(ws, state=new), _error(
            f"Workspaces are unavailable: {exc} This change is kept on this page only, so "
            "paid actions are off."), saved=False)


def _load(rt: Runtime, workspace_id: str) -> LoadResult | None:
    if rt.store is None:
        return None
    try:
        return rt.store.load(workspace_id)
    except StoreError:
        return None


class WorkspaceRecorder:
    """Writes what a background job learns into the stored workspace, in order.

    ``record(fold)`` queues the fold and saves every queued fold on top of the stored state
    (load → apply → save with its version; a conflict is retried). When the store fails,
    the folds stay queued in memory (``pending``) and ``problem`` says why; the next
    ``record`` or ``flush`` tries again, and the page shows it meanwhile.
    """

    def __init__(self, rt: Runtime, workspace_id: str) -> None:
        self._rt = rt
        self.workspace_id = workspace_id
        self.pending: list[Fold] = []
        self.problem = ""
        #: the state it saved last (None until it saved one)
        self.saved: WorkflowState | None = None
        self._lock = threading.Lock()

    def record(self, fold: Fold) -> bool:
        with self._lock:
            self.pending.append(fold)
            return self._flush()

    def flush(self) -> bool:
        with self._lock:
            return self._flush()

    def _flush(self) -> bool:
        store = self._rt.store
        if not self.pending:
            return True
        if store is None:
            self.problem = "there is no workspace store"
            return False
        for _ in range(8):
            try:
                loaded = store.load(self.workspace_id)
                if not loaded.ok:
                    self.problem = loaded.problem or "the workspace could not be read"
                    return False
                new = reduce(lambda s, f: f(s), self.pending, loaded.state)
                version = store.save(self.workspace_id, new, loaded.version,
                                     charges=_changed_charges(self._rt, self.workspace_id,
                                                              loaded.state, new))
            except StaleWorkspace:
                continue
            except StoreError as exc:
                self.problem = str(exc)
                return False
            self.pending.clear()
            self.problem = ""
            self.saved = new
            _saved(self._rt, self.workspace_id, version)
            return True
        self.problem = "the workspace kept changing underneath"
        return False

    def flush_until_saved(self, *, tries: int = 10, sleep: Callable[[float], None] = time.sleep
                          ) -> bool:
        """Keep trying (1, 2, 4 … 30 s apart) until the results are saved."""
        delay = 1.0
        for _ in range(tries):
            if self.flush():
                return True
            sleep(delay)
            delay = min(delay * 2, 30.0)
        return False


def _recorder(rt: Runtime, workspace_id: str) -> WorkspaceRecorder:
    with rt.lock:
        rec = rt.recorders.get(workspace_id)
        if rec is None:
            rec = rt.recorders[workspace_id] = WorkspaceRecorder(rt, workspace_id)
        return rec


def _unsaved(rt: Runtime, ws: Workspace) -> WorkspaceRecorder | None:
    rec = rt.recorders.get(ws.id)
    return rec if rec is not None and rec.pending else None


# --- opening, syncing, reconciling -------------------------------------------------------


def new_workspace(rt: Runtime, owner: str = "") -> Outcome:
    """A new, empty workspace. It is stored (and gets its link) with its first content, so
    a visit that changes nothing leaves no empty workspace behind."""
    state = WorkflowState(owner=owner)
    if rt.store is None:
        return Outcome(Workspace("", state, None, owner), _error(rt.store_problem))
    return Outcome(Workspace("", state, None, owner))


def open_workspace(rt: Runtime, workspace_id: str, owner: str = "") -> Outcome:
    """The workspace of a link (``?w=``), or a new one with a sentence saying why."""
    if not workspace_id:
        return new_workspace(rt, owner)
    if rt.store is None:
        return new_workspace(rt, owner)
    try:
        loaded = rt.store.load(workspace_id)
    except StoreError as exc:
        return Outcome(Workspace("", WorkflowState(owner=owner), None, owner), _error(
            f"Workspaces are unavailable: {exc}"), saved=False)
    if not loaded.ok:
        fresh = new_workspace(rt, owner)
        return replace(fresh, notices=(Notice("warning", loaded.problem or ""), *fresh.notices))
    if not may_open(owner, loaded.state.owner):
        fresh = new_workspace(rt, owner)
        return replace(fresh, notices=(Notice(
            "warning", "That workspace belongs to another account; a new workspace was "
            "started."), *fresh.notices))
    ws = Workspace(workspace_id, loaded.state, loaded.version, owner)
    return sync(rt, ws)


def sync(rt: Runtime, ws: Workspace, now: datetime | None = None) -> Outcome:
    """Bring the page's copy up to date: unsaved results retried, the stored version taken
    when another tab or the worker changed it, orphaned paid work reconciled."""
    notices: list[Notice] = []
    rec = _unsaved(rt, ws)
    if rec is not None and not rec.flush():
        notices.append(Notice("error", (
            f"{len(rec.pending)} update(s) from the server could not be saved yet: "
            f"{rec.problem} They are kept in memory and retried; paid actions are off until "
            "they are saved.")))
    changed = False
    if rt.store is not None and ws.id:
        try:
            version = rt.store.version(ws.id)
        except StoreError as exc:
            return Outcome(ws, (*notices, Notice("error", f"The workspace cannot be read: {exc}")),
                           saved=False)
        if version is not None and version != ws.version:
            loaded = _load(rt, ws.id)
            if loaded is not None and loaded.ok:
                changed = _finished(ws.state) != _finished(loaded.state)
                ws = Workspace(ws.id, loaded.state, loaded.version, ws.owner)
    out = _reconcile(rt, ws, now)
    return Outcome(out.ws, (*notices, *out.notices), saved=out.saved,
                   changed=changed or out.changed)


def _finished(state: WorkflowState) -> tuple[tuple[str, str, bool], ...]:
    return tuple((s.key, s.state, s.stalled) for s in all_submissions(state))


def _reconcile(rt: Runtime, ws: Workspace, now: datetime | None = None) -> Outcome:
    """Paid work nobody runs any more (the app restarted): never sent → not sent; sent and
    unanswered → outcome unknown; accepted with ids → polled again (never resent)."""
    if not in_flight(ws.state):
        return Outcome(ws)
    moment = _now(now)
    running = {s.batch_hash for s in in_flight(ws.state)
               if (job := rt.runner.get(job_key(ws.id, s.batch_hash))) is not None
               and job.state == "running"}
    grace = rt.settings.live_read_timeout + 120

    def alive(sub: Submission) -> bool:
        if sub.runner == rt.token:
            return True
        return token_may_be_alive(sub.runner, (moment - sub.started_at).total_seconds(), grace)

    def fold(state: WorkflowState) -> WorkflowState:
        return outcomes.reconcile_orphans(state, running, moment, alive=alive)[0]

    _, resumable = outcomes.reconcile_orphans(ws.state, running, moment, alive=alive)
    out = _commit(rt, ws, fold)
    for sub in resumable:
        _start_resume(rt, out.ws.id, sub)
    return out


#: seconds between two sweeps of :func:`keep_resuming` (the grace of another replica's
#: work is ``LIVE_READ_TIMEOUT`` + 120 s, so a sweep a minute settles it soon after)
RESUME_EVERY = 60.0


def resume_all(rt: Runtime) -> int:
    """After a restart: reconcile every workspace with paid work still open on this
    backend, whether or not a page opens it. Returns how many were looked at."""
    if rt.store is None:
        return 0
    try:
        ids = rt.store.open_workspaces(rt.deployment)
    except StoreError:
        return 0
    for workspace_id in ids:
        loaded = _load(rt, workspace_id)
        if loaded is not None and loaded.ok:
            _reconcile(rt, Workspace(workspace_id, loaded.state, loaded.version))
    return len(ids)


def keep_resuming(rt: Runtime, stop: threading.Event | None = None,
                  every: float = RESUME_EVERY) -> None:
    """:func:`resume_all` now, then every ``every`` seconds until ``stop`` is set.

    Paid work of a replica that died (and was not restarted, or came back as another
    process it cannot prove dead: another host, another container) is left alone while it
    may still be running; once its grace has passed, the next sweep of any replica settles
    it (polled again, or outcome unknown), whether or not a page opens its workspace.
    """
    stop = stop or threading.Event()
    while True:
        try:
            resume_all(rt)
        except Exception:  # noqa: BLE001 - a sweep that failed is tried again next time
            pass
        if stop.wait(every):
            return


def start_sweep(rt: Runtime) -> None:
    """Start :func:`keep_resuming` in the background (once per runtime); it stops with
    ``rt.close()``."""
    with rt.lock:
        if any(t.name == "batch-resume" and t.is_alive() for t in rt.threads):
            return
        thread = threading.Thread(target=keep_resuming, args=(rt, rt.stopping), daemon=True,
                                  name="batch-resume")
        rt.threads.append(thread)
    thread.start()


#: how long paid calls in flight get to finish when the app shuts down (SIGTERM, Ctrl-C)
SHUTDOWN_GRACE = 20.0

SHUTTING_DOWN = ("Nothing was sent: the app is shutting down (a restart or a new version). "
                 "Reload the page in a minute and confirm again.")


def shut_down(rt: Runtime, grace: float = SHUTDOWN_GRACE) -> list[str]:
    """The app stops: new paid confirmations are refused at once (``SHUTTING_DOWN``), paid
    calls in flight get ``grace`` seconds to finish and be saved, then the sweep stops and
    the store closes. A call still running after the grace is settled by the ledger's rules
    at the next start (``resume_all``: polled again, or outcome unknown; never resent).
    Returns the runner keys of the calls still running when it gave up waiting."""
    rt.closing.set()
    rt.changes.close()  # the pages' event streams end; the pages reconnect to the new app
    deadline = time.monotonic() + max(grace, 0.0)
    while rt.runner.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [job.key for job in rt.runner.running()]
    for rec in list(rt.recorders.values()):
        try:
            rec.flush()
        except Exception:  # noqa: BLE001 - what cannot be saved now is settled at the next start
            pass
    rt.close()
    return left


#: past this many remembered sessions, the old ones are forgotten on the next page run
SESSIONS_KEPT = 512


def note_session(rt: Runtime, session_id: str, now: float | None = None) -> None:
    """A browser session ran a page now (counted by /metrics while recent); sessions not
    seen for a while are forgotten here too, so the list stays small without any scrape."""
    if not session_id:
        return
    moment = time.time() if now is None else now
    rt.sessions[session_id] = moment
    if len(rt.sessions) > SESSIONS_KEPT:
        open_sessions(rt, now=moment)


def open_sessions(rt: Runtime, window: float = 300.0, now: float | None = None) -> int:
    """Sessions that ran a page in the last ``window`` seconds (older ones are forgotten)."""
    moment = time.time() if now is None else now
    for sid, seen in list(rt.sessions.items()):
        if moment - seen > window:
            rt.sessions.pop(sid, None)
    return len(rt.sessions)


@dataclass(frozen=True)
class Readiness:
    """May this process take traffic? Each check's word, and why not (``reason``)."""

    ready: bool
    checks: dict[str, str]
    reason: str = ""


def readiness(rt: Runtime) -> Readiness:
    """``store``: reachable with the current schema; ``key``: accepted, refused or mock
    (a refused key is not ready: nothing could be generated); ``shutdown``: not closing."""
    checks: dict[str, str] = {}
    reasons: list[str] = []
    if rt.closing.is_set():
        checks["shutdown"] = "closing"
        reasons.append("the app is shutting down")
    if rt.store is None:
        checks["store"] = "unavailable"
        reasons.append(rt.store_problem or "the workspace store could not be opened")
    else:
        try:
            rt.store.check()
            checks["store"] = "ok"
        except StoreError as exc:
            checks["store"] = "unavailable"
            reasons.append(str(exc))
    if rt.settings.use_mock:
        checks["key"] = "mock"
    else:
        state = rt.backend_check.state if rt.backend_check is not None else "unchecked"
        checks["key"] = state
        if state == "refused":
            reasons.append(rt.backend_check.text)
    return Readiness(ready=not reasons, checks=checks, reason="; ".join(reasons))


@dataclass(frozen=True)
class MetricsSnapshot:
    """What /metrics reports, read now (plain data; the shell formats it)."""

    deployment: str
    spent_today: Decimal
    reserved_today: Decimal
    #: (kind, ledger state) → paid calls today or still open
    calls: dict[tuple[str, str], int]
    jobs_running: int
    jobs_queued: int
    sessions: int
    problem: str = ""


def metrics_snapshot(rt: Runtime, now: datetime | None = None) -> MetricsSnapshot:
    """Spend and reservations today, paid calls by ledger state, jobs and sessions."""
    day = utc_day(_now(now))
    running = rt.runner.running()
    queued = sum(1 for job in running if job.begun is None)
    spent = reserved = Decimal(0)
    calls: dict[tuple[str, str], int] = {}
    problem = ""
    if rt.store is not None:
        try:
            totals = rt.store.ledger_totals(rt.deployment, day)
            spent, reserved = totals.spent, totals.reserved
            calls = {(kind, state): n for kind, state, n in rt.store.ledger_states(
                rt.deployment, day)}
        except StoreError as exc:
            problem = str(exc)
    return MetricsSnapshot(deployment=rt.deployment, spent_today=spent, reserved_today=reserved,
                           calls=calls, jobs_running=len(running) - queued, jobs_queued=queued,
                           sessions=open_sessions(rt), problem=problem)


# --- references and the draft --------------------------------------------------------------


def _with_refs(state: WorkflowState, refs: tuple[Reference, ...]) -> WorkflowState:
    """New references change every row's ref_urls, so the draft (and its hash) changes too."""
    urls = [r.url for r in refs]
    draft = state.draft.model_copy(update={"rows": tuple(attach_refs(state.draft.rows, urls))})
    return state.model_copy(update={"references": refs, "draft": draft})


def add_references(rt: Runtime, ws: Workspace, files: Sequence[tuple[str, bytes]]) -> Outcome:
    """Check the files, upload the good ones, attach them to every row; say what was refused."""
    uploader = rt.uploader or BackendUploader(rt.client.upload_references)
    report = upload_references(files, uploader, already=len(ws.state.references))
    notices = [Notice("warning", r.reason) for r in report.refused]
    for failed in report.failed:
        notices.append(Notice("error", f"{failed.name} was not uploaded: {failed.reason} "
                                       "You can drop it again to retry."))
    if report.error is not None and not report.failed:
        notices.append(Notice("error", f"Upload failed: {report.error}"))
    attached = report.attached
    if not attached:
        return Outcome(ws, tuple(notices))
    new_refs = tuple(
        Reference(name=image.safe_name, url=up.url, thumbnail_url=up.thumbnail_url or "",
                  size=image.size, mime=image.mime, sha256=image.sha256)
        for image, up in attached)
    names = ", ".join(r.name for r in new_refs)

    def fold(state: WorkflowState) -> WorkflowState:
        known = {r.url for r in state.references}
        refs = state.references + tuple(r for r in new_refs if r.url not in known)
        return append_log(_with_refs(state, refs), log_entry(
            "uploaded", f"{len(new_refs)} reference image(s): {names}"))

    out = _commit(rt, ws, fold)
    thumbs = {up.url: image.thumbnail for image, up in attached}
    return replace(out, notices=(*notices, *out.notices), thumbnails=thumbs)


def remove_reference(rt: Runtime, ws: Workspace, url: str) -> Outcome:
    """Detach one reference from every row (the batch hash changes with it)."""
    def fold(state: WorkflowState) -> WorkflowState:
        return _with_refs(state, tuple(r for r in state.references if r.url != url))

    return _commit(rt, ws, fold)


def update_inputs(rt: Runtime, ws: Workspace, inputs: Inputs, parsed: ParseResult) -> Outcome:
    """What the person typed (kept so a refresh restores it) and the checked draft."""
    def fold(state: WorkflowState) -> WorkflowState:
        urls = [r.url for r in state.references]
        checked = ParseResult(rows=attach_refs(parsed.rows, urls), errors=parsed.errors)
        return with_draft(state.model_copy(update={"inputs": inputs}), inputs.mode, checked)

    return _commit(rt, ws, fold)


def parse_text(rt: Runtime, ws: Workspace, text: str, note: str = "") -> Outcome:
    """Parse ``text`` as the batch (Batch mode, the grid filled from it) and save it at once,
    so the parse is kept even when the page run that asked for it is cut short by the next
    click. With ``note`` it is also said in the log (a batch loaded from elsewhere)."""
    result = parse_batch(text)

    def fold(state: WorkflowState) -> WorkflowState:
        inputs = state.inputs.model_copy(update={
            "mode": "batch", "batch_text": text, "parsed_text": text,
            "grid": tuple({"scene_id": r.scene_id, "prompt": r.prompt, "variants": r.variants}
                          for r in result.rows),
        })
        urls = [r.url for r in state.references]
        checked = ParseResult(rows=attach_refs(result.rows, urls), errors=result.errors)
        new = with_draft(state.model_copy(update={"inputs": inputs}), "batch", checked)
        return append_log(new, log_entry("loaded", note)) if note else new

    return _commit(rt, ws, fold)


def load_batch(rt: Runtime, ws: Workspace, text: str, note: str) -> Outcome:
    """Put ``text`` into Batch mode as a new, parsed batch (it needs its own dry-run)."""
    return parse_text(rt, ws, text, note)



def import_manifest(rt: Runtime, ws: Workspace, name: str, data: bytes) -> Outcome:
    """A CSV or JSON manifest as a new batch; every refused record is said."""
    text, how = decode_manifest(data)
    result = parse_manifest(text)
    summary = result.summary(name)
    notices = [Notice("error", str(e)) for e in result.errors]
    if not result.rows:
        out = _commit(rt, ws, lambda s: append_log(s, log_entry("refused", summary)))
        return replace(out, notices=(*notices, Notice("error", f"{summary} {how}"), *out.notices))
    out = load_batch(rt, ws, format_batch(result.rows), summary)
    level: Level = "warning" if result.errors else "success"
    return replace(out, notices=(*notices, Notice(level, f"{summary} {how}"), *out.notices))


def retry_failed_rows(rt: Runtime, ws: Workspace) -> Outcome:
    """A new batch of just the rows the server said failed in the last image run."""
    state = ws.state
    last = _last_image_run(state)
    if last is None or last.state not in ("partial", "failed"):
        return Outcome(ws, (Notice("info", "No failed rows to retry."),))
    rows = state.receipts[last.batch_hash].rows
    failures = {r.scene_id: "failed" for r in rows if r.scene_id not in state.images}
    plan = plan_retry(rows, failures, state.images)
    if not plan.rows:
        return Outcome(ws, (Notice("info", "No failed rows to retry."),))
    names = ", ".join(r.scene_id for r in plan.rows)
    return load_batch(rt, ws, format_batch(plan.rows),
                      f"retry of {len(plan.rows)} failed row(s): {names}")


def _last_image_run(state: WorkflowState) -> Submission | None:
    """The latest finished image submission with its receipt (the one a retry is about)."""
    subs = [s for s in state.submissions.values() if s.kind == "images"
            and s.state in ("completed", "partial", "failed") and s.batch_hash in state.receipts]
    return max(subs, key=lambda s: s.started_at) if subs else None


def queued_work(rt: Runtime, ws: Workspace) -> dict[str, int]:
    """This workspace's paid calls waiting for a free worker here: batch hash → jobs ahead
    (nothing of them has been sent)."""
    out = {}
    for sub in in_flight(ws.state):
        ahead = rt.runner.queued_ahead(job_key(ws.id, sub.batch_hash))
        if ahead is not None:
            out[sub.batch_hash] = ahead
    return out


def failed_rows(ws: Workspace) -> list[str]:
    """Scene ids the server said failed in the last image run (offered for a retry)."""
    state = ws.state
    last = _last_image_run(state)
    if last is None or last.state not in ("partial", "failed"):
        return []  # a later batch ran since: its own outcome is what counts now
    return [r.scene_id for r in state.receipts[last.batch_hash].rows
            if r.scene_id not in state.images]


# --- dry-run and the gate --------------------------------------------------------------------


def dry_run(rt: Runtime, ws: Workspace, now: datetime | None = None,
            on_wait: Callable[[str], object] | None = None) -> Outcome:
    """Dry-Run Images: free; a receipt for today's hash of the draft, with its cost.

    While the server answers 429 the client waits and tries again; ``on_wait`` hears each
    wait ("the server is busy — retrying in N s"), and the outcome says it."""
    state = ws.state
    if parse_is_stale(state.inputs):
        return Outcome(ws, _error("The batch text changed since you pressed Parse: press "
                                  "Parse first, then Dry-Run Images."))
    if not state.draft.rows or state.draft.errors:
        return Outcome(ws, _error("Nothing to dry-run: write a prompt or fix the batch first."))
    moment = _now(now)
    hash_ = current_hash(state, moment)
    rows = list(state.draft.rows)
    mode = state.draft.mode
    waits: list[str] = []

    def heard(seconds: float | None, text: str) -> None:
        waits.append(text)
        if on_wait is not None:
            on_wait(text)

    try:
        with report_waits(heard):
            result = rt.client.dry_run_images(rows, batch_hash=hash_)
    except BatchStudioError as exc:
        why = str(exc)
        out = _commit(rt, ws, lambda s: append_log(s, *_wait_entries(waits, hash_, moment),
                                                   log_entry("failed", f"dry-run: {why}",
                                                             job_id=hash_[:12], now=moment)))
        return replace(out, notices=(*_error(f"Dry-run failed: {why}"), *out.notices))
    out = _commit(rt, ws, lambda s: outcomes.after_dry_run(
        append_log(s, *_wait_entries(waits, hash_, moment)), mode, rows, result, now=moment))
    if waits:
        out = replace(out, notices=(Notice("info", (
            f"The server was busy (429 Too Many Requests) {len(waits)} time(s); the dry-run "
            f"waited and then went through. {SHARED_RATE_LIMIT}")), *out.notices))
    return out


def _wait_entries(waits: Sequence[str], hash_: str, moment: datetime) -> list[LogEntry]:
    return [log_entry("waiting", text, job_id=hash_[:12], now=moment) for text in waits]


def _wait_logger(rec: WorkspaceRecorder, hash_: str) -> Callable[[float | None, str], None]:
    """For a background job: each wait on the server's rate limit goes into the status log."""
    def heard(seconds: float | None, text: str) -> None:
        rec.record(lambda s: append_log(s, log_entry("waiting", text, job_id=hash_[:12])))
    return heard


@dataclass(frozen=True)
class SpendView:
    """Today's money on this backend (the deployment-wide ledger) and this workspace's."""

    mock: bool
    cap: Decimal
    spent: Decimal
    reserved: Decimal
    workspace_cap: Decimal | None
    workspace_spent: Decimal
    durable_note: str = ""
    problem: str = ""

    @property
    def left(self) -> Decimal:
        return max(self.cap - self.spent - self.reserved, Decimal(0))

    def refusal(self, cost: Decimal) -> str:
        """"" when ``cost`` may be spent now; else why not (the cap rule of
        ``domain.spend.cap_refusal``, the deployment's cap first, then the workspace's)."""
        if self.problem:
            return f"The spend ledger cannot be read, so paid actions are off: {self.problem}"
        why = cap_refusal(cost, cap=self.cap, committed=self.spent + self.reserved)
        if not why and self.workspace_cap is not None:
            why = cap_refusal(cost, cap=self.workspace_cap, committed=self.workspace_spent,
                              whose="workspace's")
        return why

    def allows(self, cost: Decimal) -> bool:
        return not self.refusal(cost)

    def describe(self) -> str:
        what = "Mock spend (emulator, not real money)" if self.mock else "Today's spend on this backend"
        text = (f"{what}: {format_money(self.spent)} spent, {format_money(self.reserved)} in "
                f"flight, {format_money(self.left)} left of the {format_money(self.cap)} daily "
                "spend cap shared by every workspace (UTC day).")
        if self.workspace_cap is not None:
            text += (f" This workspace: {format_money(self.workspace_spent)} of its "
                     f"{format_money(self.workspace_cap)} cap.")
        return text


def deployment_notes(rt: Runtime, *, signed_in: bool = False) -> list[str]:
    """What the sidebar says about who may spend and how durable the cap is (real key only)."""
    cfg = rt.settings
    if cfg.use_mock:
        return []
    notes = []
    if not signed_in:
        notes.append("Everyone who can open this app is one team and spends from one shared "
                     "daily cap. Protect a shared deployment with sign-in or the host's "
                     "viewer allow-list (see the README).")
    if not cfg.database_url:
        notes.append("The spend cap and workspaces are kept in a local SQLite file, which a "
                     "hosted app loses on every reboot: set DATABASE_URL to a PostgreSQL "
                     "database.")
    return notes


def spend_view(rt: Runtime, ws: Workspace, now: datetime | None = None) -> SpendView:
    cfg = rt.settings
    durable = ""
    if not cfg.use_mock and not cfg.database_url:
        durable = ("The spend cap and workspaces are kept in a local SQLite file, which a hosted "
                   "app loses on every reboot: set DATABASE_URL to a PostgreSQL database.")
    if rt.store is None:
        return SpendView(cfg.use_mock, cfg.daily_cap, Decimal(0), Decimal(0), cfg.workspace_cap,
                         Decimal(0), durable, problem=rt.store_problem or "no store")
    day = utc_day(_now(now))
    try:
        total = rt.store.ledger_totals(rt.deployment, day)
        mine = rt.store.ledger_totals(rt.deployment, day, ws.id) if ws.id else None
    except StoreError as exc:
        return SpendView(cfg.use_mock, cfg.daily_cap, Decimal(0), Decimal(0), cfg.workspace_cap,
                         Decimal(0), durable, problem=str(exc))
    return SpendView(cfg.use_mock, cfg.daily_cap, total.spent, total.reserved, cfg.workspace_cap,
                     mine.committed if mine else Decimal(0), durable)


def may_spend(rt: Runtime, ws: Workspace) -> Gate:
    """Who may spend, and whether the workspace can be saved (no money moves otherwise)."""
    if rt.store is None or not ws.id:
        return Gate(allowed=False, code="no_store", reason=(
            "Paid actions are off: this workspace cannot be saved. " + (rt.store_problem or "")))
    rec = _unsaved(rt, ws)
    if rec is not None:
        return Gate(allowed=False, code="unsaved", reason=(
            f"Paid actions are off until the last results are saved: {rec.problem}"))
    allow = rt.settings.spend_allowlist
    if allow and ws.owner.lower() not in allow:
        return Gate(allowed=False, code="not_allowed", reason=(
            "Your account may look and dry-run, but not spend: ask an admin to add you to "
            "SPEND_ALLOWLIST."))
    return Gate(allowed=True)


def generate_gate(rt: Runtime, ws: Workspace, spend: SpendView,
                  now: datetime | None = None) -> Gate:
    """May Generate Images be pressed now? If not, why (the button says it)."""
    state = ws.state
    moment = _now(now)
    gate = can_generate(state, current_hash(state, moment), moment)
    if not gate:
        return gate
    if parse_is_stale(state.inputs):
        return Gate(allowed=False, code="stale", reason="Press Parse again first.")
    who = may_spend(rt, ws)
    if not who:
        return who
    if rt.backend_check is not None and rt.backend_check.state == "refused":
        return Gate(allowed=False, code="key", reason=rt.backend_check.text)
    cost = image_cost(state.draft.rows)
    if spend.problem:  # not "over the cap": the ledger cannot be read at all
        return Gate(allowed=False, code="ledger", reason=(
            f"The spend ledger cannot be read, so paid actions are off: {spend.problem}"))
    over = spend.refusal(cost)
    if over:
        return Gate(allowed=False, code="cap", reason=over)
    return gate


# --- paid images ------------------------------------------------------------------------------


Begin = Callable[[WorkflowState], tuple[WorkflowState, str]]


def _reserve(rt: Runtime, ws: Workspace, begin: Begin,
             start: Callable[[str, str], None]) -> tuple[Outcome, bool]:
    """The one way paid work begins: ``begin(state) -> (state, hash)`` checks the rules and
    adds the submission; it is saved with its reservation (the cap checked atomically in
    the store) and only then ``start(workspace_id, hash)`` sends it in the background.
    A conflict (another tab) is retried on the newer state, whose rules then decide; when
    nothing can be saved, nothing is sent. Returns the outcome and whether work started."""
    if rt.closing.is_set():
        return Outcome(ws, _error(SHUTTING_DOWN)), False
    who = may_spend(rt, ws)
    if not who:
        return Outcome(ws, _error(who.reason)), False
    assert rt.store is not None
    for _ in range(4):
        try:
            new, hash_ = begin(ws.state)
        except GuardrailError as exc:
            return Outcome(ws, _error(str(exc))), False
        sub = new.submissions[hash_].model_copy(update={"deployment": rt.deployment,
                                                         "owner": ws.owner})
        new = new.model_copy(update={"submissions": {**new.submissions, hash_: sub}})
        reservation = Reservation(_charge(rt, ws.id, sub), cap=rt.settings.daily_cap,
                                  workspace_cap=rt.settings.workspace_cap)
        try:
            version = rt.store.save(ws.id, new, ws.version, reserve=reservation)
            _saved(rt, ws.id, version)
        except SpendCapExceeded as exc:
            return Outcome(ws, _error(str(exc))), False
        except StaleWorkspace:
            loaded = _load(rt, ws.id)
            if loaded is None or not loaded.ok:
                return Outcome(ws, _error("Nothing was sent: the workspace could not be read.")), \
                    False
            ws = Workspace(ws.id, loaded.state, loaded.version, ws.owner)
            continue
        except StoreError as exc:
            return Outcome(ws, _error(
                f"Nothing was sent: the workspace could not be saved ({exc}). Paid actions "
                "are off until it can be saved."), saved=False), False
        start(ws.id, hash_)
        return Outcome(Workspace(ws.id, new, version, ws.owner)), True
    return Outcome(ws, _error("Nothing was sent: the workspace kept changing in another tab.")), \
        False


def confirm_images(rt: Runtime, ws: Workspace, hash_: str, now: datetime | None = None) -> Outcome:
    """Confirm → the one live call: reserved and saved first, then sent in the background."""
    moment = _now(now)
    sent: dict[str, list[BatchRow]] = {}

    def begin(state: WorkflowState) -> tuple[WorkflowState, str]:
        new, receipt = begin_image_submission(state, hash_, moment, runner=rt.token,
                                              owner=ws.owner, sid=uuid.uuid4().hex)
        sent["rows"] = list(receipt.rows)
        return append_log(new, log_entry(
            "reserved", f"{receipt.images} image(s), {format_money(receipt.estimated_cost)} "
            "reserved under the daily cap", job_id=hash_[:12], now=moment)), hash_

    out, started = _reserve(rt, ws, begin,
                            lambda wid, h: _start_images(rt, wid, h, sent["rows"]))
    if not started:
        return out
    receipt = out.ws.state.receipts[hash_]
    return replace(out, notices=(Notice("info", (
        f"Generating {receipt.images} image(s) for {format_money(receipt.estimated_cost)}"
        " — results are saved as they arrive, even if you close this page.")),))


def _after(on_error: Callable[[WorkflowState, str, BaseException], WorkflowState], seen: Fold,
           hash_: str, exc: BaseException) -> Fold:
    """The fold that records a paid call that raised ``exc`` (after what the job saw)."""
    return lambda s: on_error(seen(s), hash_, exc)


def _send_or_refuse(rec: WorkspaceRecorder, hash_: str, on_error: Callable[..., WorkflowState]
                    ) -> bool:
    """Save "sent" before sending; if it cannot be saved, do not send (and say why)."""
    if rec.record(lambda s: mark_sent(s, hash_)):
        return True
    problem = TransportError(f"The workspace could not be saved ({rec.problem}), so the paid "
                             "call was not sent.")
    rec.record(lambda s: on_error(s, hash_, problem))
    return False


def job_key(workspace_id: str, hash_: str) -> str:
    """The runner's key for a workspace's paid call. Two workspaces may send the same batch
    (same hash) at once, each its own paid call; one workspace never has two open calls of
    one hash (the ledger refuses the second), so this key is never taken twice."""
    return f"{workspace_id}/{hash_}"


def _start(rt: Runtime, workspace_id: str, hash_: str, kind: str,
           call: Callable[[Job], R], on_error: Callable[..., WorkflowState],
           fold_result: Callable[[WorkflowState, R], WorkflowState], *,
           sends: bool = True) -> None:
    """Run one paid job in the background, every step saved into the stored workspace:
    "sent" first when it ``sends`` (not saved → not sent), then each checkpoint, then the
    result or the error, retried until saved."""
    rec = _recorder(rt, workspace_id)

    def work(job: Job) -> None:
        job.on_checkpoint = lambda j: rec.record(outcomes.checkpoint_fold(j))
        if sends and not _send_or_refuse(rec, hash_, on_error):
            _finished_here(rt, workspace_id, rec)
            return
        try:
            with report_waits(_wait_logger(rec, hash_)):
                result = call(job)
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded
            rec.record(_after(on_error, outcomes.checkpoint_fold(job), hash_, exc))
        else:
            seen = outcomes.checkpoint_fold(job)
            rec.record(lambda s: fold_result(seen(s), result))
        _finished_here(rt, workspace_id, rec)
        rec.flush_until_saved()

    rt.runner.start(job_key(workspace_id, hash_), kind, work, batch_hash=hash_)


def _finished_here(rt: Runtime, workspace_id: str, rec: WorkspaceRecorder) -> None:
    """A job's outcome is recorded: start fetching the gallery's pictures and tell the pages
    that watch the workspace, so they show it now (an outcome that could not be saved is
    said by the page, which this brings up at once too)."""
    if rec.saved is not None and not rec.pending:
        prefetch(rt, rec.saved)
    rt.changes.publish(workspace_id, f"finished:{uuid.uuid4().hex[:12]}")


# --- the pages' event streams ------------------------------------------------------------


def event_token(rt: Runtime, ws: Workspace, now: float | None = None) -> str:
    """The capability a page gets to follow its own workspace's changes ("" when it is not
    stored yet: nothing can change it in the background)."""
    if not ws.id:
        return ""
    moment = time.time() if now is None else now
    # signed as of the hour: the page's address stays the same between its reruns, so its
    # stream is not reopened on every one (it is good for 11 to 12 hours)
    return tokens.sign(rt.signing_key, "events", ws.id, now=moment - moment % 3600)


def check_event_token(rt: Runtime, workspace_id: str, token: str,
                      now: float | None = None) -> str:
    """"" when ``token`` lets its holder follow ``workspace_id``; else why not."""
    if not is_valid_workspace_id(workspace_id):
        return "There is no such workspace."
    return tokens.check(rt.signing_key, token, "events", workspace_id,
                        now=time.time() if now is None else now)


def stored_version(rt: Runtime, workspace_id: str) -> int | None:
    """The workspace's stored version now (None when it cannot be read)."""
    if rt.store is None:
        return None
    try:
        return rt.store.version(workspace_id)
    except StoreError:
        return None


def _start_images(rt: Runtime, workspace_id: str, hash_: str, rows: list[BatchRow]) -> None:
    poll = rt.settings.poll_interval
    _start(rt, workspace_id, hash_, "images",
           lambda job: worker.run_images(rt.client, rows, hash_, job, poll_every=poll),
           outcomes.after_image_error,
           lambda s, result: outcomes.after_images(s, hash_, rows, result))


def _start_videos(rt: Runtime, workspace_id: str, hash_: str, plan: outcomes.VideoPlan) -> None:
    poll = rt.settings.poll_interval
    _start(rt, workspace_id, hash_, "videos",
           lambda job: worker.run_videos(rt.client, plan, hash_, job, poll_every=poll),
           outcomes.after_video_error,
           lambda s, result: outcomes.after_videos(s, hash_, result))


def _start_resume(rt: Runtime, workspace_id: str, sub: Submission) -> None:
    """Poll again a submission the server accepted (after a restart, or "Fetch again");
    nothing is sent."""
    poll = rt.settings.poll_interval
    hash_ = sub.batch_hash

    def fold(s: WorkflowState,
             result: outcomes.ImageRunResult | outcomes.VideoRunResult) -> WorkflowState:
        if isinstance(result, outcomes.VideoRunResult):
            return outcomes.after_videos(s, hash_, result)
        rows = s.receipts[hash_].rows if hash_ in s.receipts else ()
        return outcomes.after_images(s, hash_, rows, result)

    _start(rt, workspace_id, hash_, sub.kind,
           lambda job: worker.resume_polling(rt.client, sub, job, poll_every=poll),
           outcomes.after_image_error if sub.kind == "images" else outcomes.after_video_error,
           fold, sends=False)


def fetch_results_again(rt: Runtime, ws: Workspace, hash_: str) -> Outcome:
    """Billed work whose results were not fetched: poll again. Never a resend."""
    sub = ws.state.submissions.get(hash_)
    if sub is None or sub not in unfetched(ws.state):
        return Outcome(ws, (Notice("info", "There is nothing to fetch for this batch."),))
    if not sub.poll_ids:
        return Outcome(ws, _error(
            "The server gave no id to fetch this batch by; check the orchestrator for batch "
            f"{sub.batch_id or sub.batch_hash[:12]}. It stays counted as billed."))
    out = _commit(rt, ws, lambda s: append_log(resume_fetching(s, hash_), log_entry(
        "fetching", "fetching the results again; nothing is resent",
        job_id=sub.batch_id or hash_[:12])))
    if out.saved:
        _start_resume(rt, out.ws.id, out.ws.state.submissions[hash_])
    return out


# --- approvals and videos -------------------------------------------------------------------


def approve_image(rt: Runtime, ws: Workspace, scene_id: str, variant: int) -> Outcome:
    """Approve image #``variant`` of a scene's newest take (it replaces the scene's pick)."""
    takes = scene_takes(ws.state.images.get(scene_id, ()))
    image = next((i for i in (takes[0] if takes else ()) if i.variant == variant), None)
    if image is None:
        return Outcome(ws, _error(f"Image #{variant} of {scene_id} is not among the results."))
    return approve_picture(rt, ws, scene_id, picture_key(image))


def _which(state: WorkflowState, image: GeneratedImage) -> str:
    takes = scene_takes(state.images.get(image.scene_id, ()))
    n = next((k for k, take in enumerate(takes) if image in take), 0)
    return f"variant #{image.variant}" + (f" of take {len(takes) - n}" if n else "")


def approve_picture(rt: Runtime, ws: Workspace, scene_id: str, key: str) -> Outcome:
    """Approve the scene's picture with this gallery key, of any take (it replaces the
    scene's earlier pick; approving the pick again changes nothing)."""
    image = find_picture(ws.state, scene_id, key)
    if image is None:
        return Outcome(ws, _error(f"That picture of {scene_id} is not among the results any "
                                  "more; the gallery shows what there is now."))

    def fold(state: WorkflowState) -> WorkflowState:
        if image not in state.images.get(scene_id, ()):
            return state
        pick = state.approvals.get(scene_id)
        if pick is not None and pick.image == image:
            return state
        return append_log(approve(state, image), log_entry(
            "approved", _which(state, image), job_id=image.job_id, scene_id=scene_id))

    return _commit(rt, ws, fold)


def unapprove_picture(rt: Runtime, ws: Workspace, scene_id: str, key: str) -> Outcome:
    """Withdraw the scene's approval if it is still this picture (logged); an approval
    that has since moved to another picture stays."""

    def fold(state: WorkflowState) -> WorkflowState:
        pick = state.approvals.get(scene_id)
        if pick is None or picture_key(pick.image) != key:
            return state
        return append_log(unapprove(state, scene_id), log_entry(
            "unapproved", _which(state, pick.image), job_id=pick.image.job_id,
            scene_id=scene_id))

    return _commit(rt, ws, fold)


def confirm_videos(rt: Runtime, ws: Workspace, plan: outcomes.VideoPlan, typed: str,
                   now: datetime | None = None) -> Outcome:
    """Confirm the clips after the exact clip count was typed: reserved, then sent."""
    moment = _now(now)

    def begin(state: WorkflowState) -> tuple[WorkflowState, str]:
        return outcomes.begin_video_submission(state, plan, typed, moment, runner=rt.token,
                                               sid=uuid.uuid4().hex)

    out, started = _reserve(rt, ws, begin, lambda wid, h: _start_videos(rt, wid, h, plan))
    if not started:
        return out
    return replace(out, notices=(Notice("info", f"Generating {plan.clips} clip(s) for "
                                                f"{format_money(plan.cost)}."),))


# --- assets -----------------------------------------------------------------------------------


def download_asset(rt: Runtime, url: str) -> bytes:
    """The bytes of an image or clip; raises ``BatchStudioError`` saying why not."""
    return rt.client.fetch_asset(url)


def fetch_asset(rt: Runtime, url: str) -> bytes | None:
    """The bytes of an image or clip the browser cannot load itself, or None."""
    try:
        return rt.client.fetch_asset(url) or None
    except (BatchStudioError, ValueError):
        return None


# --- workspace names, the recent-workspace switcher, History and re-rolls ----------------


def rename_workspace(rt: Runtime, ws: Workspace, name: str,
                     now: datetime | None = None) -> Outcome:
    """Give the workspace a name (kept as a ``renamed`` line of its status log)."""
    clean = clean_name(name)
    if not clean:
        return Outcome(ws, _error("A workspace name cannot be empty."))
    if clean == workspace_name(ws.state):
        return Outcome(ws)
    return _commit(rt, ws, lambda s: append_log(s, name_entry(clean, _now(now))))


@dataclass(frozen=True)
class RecentWorkspace:
    """One line of the sidebar's switcher."""

    workspace_id: str
    name: str
    updated_at: datetime


def _owned(rt: Runtime, owner: str, limit: int) -> list[tuple[WorkspaceSummary, WorkflowState]]:
    """The listed workspaces this person may open, newest first (raises ``StoreError``).
    Damaged ones are left out (History says so from the summaries); states are parsed
    once per stored version by the store."""
    if rt.store is None:
        return []
    return [(summary, state) for summary, state in rt.store.recent(limit)
            if state is not None and (not owner or state.owner == owner)]


def _memo(rt: Runtime, name: str, pairs: list[tuple[WorkspaceSummary, WorkflowState]],
          make: Callable[[], R]) -> R:
    """``make()`` once per set of listed workspace versions (every page run asks again)."""
    key = tuple((s.workspace_id, s.version) for s, _ in pairs)
    with rt.lock:
        kept = rt.views.get(name)
    if kept is not None and kept[0] == key:
        return cast(R, kept[1])
    value = make()
    with rt.lock:
        rt.views[name] = (key, value)
    return value


def recent_batches(rt: Runtime, owner: str = "", limit: int = 8) -> list[tuple[str, str]]:
    """Batches this person dry-ran before (any of their workspaces), to load back in one
    click as a new batch (it needs its own dry-run)."""
    try:
        owned = _owned(rt, owner, 30)
    except StoreError:
        return []
    return _memo(rt, f"recent_batches {owner} {limit}", owned, lambda: history_batches(
        {s.workspace_id: state for s, state in owned}, limit))


def recent_workspaces(rt: Runtime, owner: str = "", limit: int = 8) -> list[RecentWorkspace]:
    """The most recently changed workspaces this person may open, newest first."""
    try:
        owned = _owned(rt, owner, limit)
    except StoreError:
        return []
    return _memo(rt, f"recent_workspaces {owner} {limit}", owned, lambda: [
        RecentWorkspace(s.workspace_id, workspace_name(state), s.updated_at)
        for s, state in owned])


@dataclass(frozen=True)
class HistoryView:
    """What the History page shows: every listed workspace's state, name and card."""

    states: dict[str, WorkflowState]
    cards: list[GalleryCard]
    mock: bool
    problem: str = ""
    summaries: list[WorkspaceSummary] = field(default_factory=list)


def history_view(rt: Runtime, owner: str = "", limit: int = 50) -> HistoryView:
    """Past workspaces (newest first) as gallery cards, and their states for the tables;
    with sign-in, only the person's own. A store that cannot be read is one sentence."""
    if rt.store is None:
        return HistoryView({}, [], rt.settings.use_mock,
                           rt.store_problem or "Workspaces are not saved, so there is no history.")
    try:
        pairs = _owned(rt, owner, limit)
    except StoreError as exc:
        return HistoryView({}, [], rt.settings.use_mock, f"The history cannot be read: {exc}")
    states = {s.workspace_id: state for s, state in pairs}
    cards = gallery_cards(states, {wid: workspace_name(st) for wid, st in states.items()},
                          {s.workspace_id: s.updated_at for s, _ in pairs})
    return HistoryView(states, cards, rt.settings.use_mock,
                       summaries=[s for s, _ in pairs])


def reroll_scene(rt: Runtime, ws: Workspace, scene_id: str) -> Outcome:
    """Put one scene back as a one-row batch: it needs its own dry-run, cost and
    confirmation; the other scenes and their approvals stay as they are."""
    text = reroll_text(ws.state, scene_id)
    if not text:
        return Outcome(ws, _error(f"{scene_id} cannot be re-rolled: its prompt is not known."))
    out = load_batch(rt, ws, text, f"re-roll of {scene_id} (a new dry-run is needed)")
    return replace(out, notices=(Notice("info", (
        f"{scene_id} is loaded as a one-row batch: press Dry-Run Images to see its cost, "
        "then Generate Images to confirm it.")), *out.notices))


# --- refusals the page detects while drawing (issue 11) ----------------------------------------


def refuse_input(rt: Runtime, ws: Workspace, what: str, text: str) -> Outcome:
    """Something entered could not be used (a grid edit of the wrong shape, a file the drop
    zone cannot take): logged, and said as an error that stays until dismissed."""
    out = _commit(rt, ws, lambda s: append_log(s, log_entry("refused", f"{what}: {text}")))
    return replace(out, notices=(Notice("error", text), *out.notices))


@dataclass(frozen=True)
class BackendCheck:
    """Whether the backend accepts the API key: ``accepted``, ``refused`` or ``unknown``."""

    state: Literal["accepted", "refused", "unknown"]
    text: str


def check_backend(rt: Runtime, *, again: bool = False) -> BackendCheck:
    """Ask the backend once (per runtime, or ``again``) whether it accepts the key, with one
    cheap authenticated call; the sidebar says it, and Generate stays off while refused."""
    if rt.backend_check is not None and not again:
        return rt.backend_check
    where = "the built-in emulator" if rt.settings.use_mock else rt.client.base_url
    try:
        rt.client.check_key()
    except AuthError as exc:
        told = (" — ".join(t for t in (exc.title, exc.detail) if t) or str(exc)).rstrip(".")
        check = BackendCheck("refused", f"Key refused by {where}: {told}. Check "
                                        "ORCHESTRATOR_API_KEY; paid steps stay off until it is "
                                        "accepted.")
    except BatchStudioError as exc:
        check = BackendCheck("unknown", f"The key could not be checked: {exc}")
    else:
        check = BackendCheck("accepted", f"Key accepted by {where}.")
    rt.backend_check = check
    return check


def video_gate(rt: Runtime, ws: Workspace, now: datetime | None = None) -> Gate:
    """May Generate Video be pressed? Off while videos are in flight, and after this backend
    answered 501 Not Implemented (see ``capabilities.videos_unavailable``)."""
    if in_flight(ws.state, "videos"):
        return Gate(allowed=False, code="busy",
                    reason="Videos are being generated — see the status log.")
    why = videos_unavailable(ws.state, rt.deployment, _now(now))
    if why:
        return Gate(allowed=False, code="unavailable", reason=why)
    return Gate(allowed=True)


def video_choices(ws: Workspace) -> list[outcomes.VideoChoice]:
    """Every approved scene for the video dialog, with the clip its image already has."""
    return outcomes.video_choices(ws.state)


def plan_videos(ws: Workspace, model: str, aspect: str, resolution: int,
                again: Sequence[str] = ()) -> outcomes.VideoPlan:
    """The clips Confirm would send: approved images without a clip, plus ``again``."""
    return outcomes.plan_videos(ws.state, model, aspect, resolution, again=again)


def nothing_to_send(plan: outcomes.VideoPlan) -> str:
    """What the video dialog says instead of a count to type when the plan sends nothing."""
    return outcomes.nothing_to_send(plan)


def clip_notes(ws: Workspace) -> dict[str, str]:
    """The error to show under each clip (a whole-batch refusal is shown once, not per clip)."""
    return _clip_notes(ws.state.videos, ws.state.submissions)
