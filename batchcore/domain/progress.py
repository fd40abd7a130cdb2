"""What the person sees while work runs and when it finishes (pure: states in, words out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from batchcore.domain.pricing import format_money
from batchcore.domain.workflow import Submission, WorkflowState, all_submissions, in_flight

__all__ = ["SceneProgress", "WorkProgress", "elapsed_text", "finished_message", "work_progress"]

_DONE = {"completed", "succeeded", "done"}
_FAILED = {"failed", "error", "canceled", "cancelled"}
_WORD = {"reserved": "Reserved", "sent": "Sent, waiting for the server",
         "accepted": "Billed; fetching results"}


@dataclass(frozen=True)
class SceneProgress:
    scene_id: str
    status: str  # waiting | running | completed | failed
    detail: str = ""


@dataclass(frozen=True)
class WorkProgress:
    """One paid submission in flight: what, since when, how far, and each scene's state."""

    kind: str
    headline: str
    elapsed_seconds: float
    fraction: float | None
    scenes: tuple[SceneProgress, ...]

    @property
    def done_scenes(self) -> int:
        return sum(1 for s in self.scenes if s.status in ("completed", "failed"))


def elapsed_text(seconds: float) -> str:
    """``42 s`` or ``3 min 05 s``."""
    s = max(int(seconds), 0)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def _scene_states(state: WorkflowState, sub: Submission) -> tuple[SceneProgress, ...]:
    if sub.kind == "images":
        receipt = state.receipts.get(sub.batch_hash)
        scenes = [r.scene_id for r in receipt.rows] if receipt else []
    else:
        scenes = [v.scene_id for v in state.videos.values() if v.batch_hash == sub.batch_hash]
    last: dict[str, tuple[str, str]] = {}
    for entry in state.log:
        if entry.timestamp >= sub.started_at and entry.scene_id in scenes:
            last[entry.scene_id] = (entry.status, entry.message)
    out = []
    for scene in scenes:
        word, message = last.get(scene, ("", ""))
        if word in _DONE:
            status = "completed"
        elif word in _FAILED:
            status = "failed"
        elif word:
            status = "running"
        else:
            status = "waiting" if sub.state != "accepted" else "running"
        out.append(SceneProgress(scene, status, message))
    return tuple(out)


def _queued_word(ahead: int) -> str:
    jobs = "nothing" if ahead == 0 else f"{ahead} job{'s' if ahead != 1 else ''}"
    return f"Queued, {jobs} ahead — waiting for a free worker, nothing sent yet"


def work_progress(state: WorkflowState, now: datetime, kind: str | None = None,
                  queued: Mapping[str, int] | None = None) -> list[WorkProgress]:
    """Every paid submission still in flight, with per-scene progress and elapsed time.
    ``queued`` maps a submission's batch hash to the number of jobs ahead of it while it waits
    for a worker (it is then said to be queued, not generating)."""
    out = []
    for sub in in_flight(state, kind):
        what = "images" if sub.kind == "images" else "clips"
        ahead = (queued or {}).get(sub.batch_hash) if sub.state == "reserved" else None
        word = _queued_word(ahead) if ahead is not None else _WORD.get(sub.state, sub.state)
        headline = f"{word}: generating {what} ({format_money(sub.cost)})"
        fraction = None if sub.progress is None else min(max(sub.progress, 0.0), 1.0)
        out.append(WorkProgress(sub.kind, headline, (now - sub.started_at).total_seconds(),
                                fraction, _scene_states(state, sub)))
    return out


def finished_message(before: WorkflowState, after: WorkflowState) -> str:
    """One sentence for each submission that finished between two states ("" if none)."""
    was = {s.key: s for s in all_submissions(before) if s.open}
    parts = []
    for sub in all_submissions(after):
        old = was.get(sub.key)
        if old is None or sub.open:
            continue
        what = "Images" if sub.kind == "images" else "Clips"
        if sub.state == "completed":
            n = sub.produced
            parts.append(f"{what} ready" + (f": {n} generated" if n is not None else "") + ".")
        elif sub.state == "partial":
            parts.append(f"{what} partly ready: {sub.message}.")
        else:
            parts.append(f"{what}: {sub.state.replace('_', ' ')}.")
    return " ".join(parts)
