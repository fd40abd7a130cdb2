"""What the backend can do, decided from what it last answered (pure functions).

Today's real server answers ``POST /batch/videos`` with 501 Not Implemented. Pressing
Generate Video again would only repeat it, so after a 501 the button is off with the reason,
until something could have changed: another backend (``ORCHESTRATOR_URL``), or an hour
later (the backend may have been redeployed). A whole-batch refusal is shown once, in the
submission's outcome, not again under every clip.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from batchcore.domain.workflow import Submission, VideoClip, WorkflowState, all_submissions

__all__ = ["NOT_IMPLEMENTED", "VIDEO_RETRY_AFTER", "clip_notes", "videos_unavailable"]

#: how a 501 is named in every message about it (``problems.reason_phrase(501)``)
NOT_IMPLEMENTED = "501 Not Implemented"
#: after a 501, how long before Generate Video is offered again on the same backend
VIDEO_RETRY_AFTER = timedelta(hours=1)


def _refused_as_not_implemented(sub: Submission) -> bool:
    return sub.kind == "videos" and sub.state == "rejected" and NOT_IMPLEMENTED in sub.message


def videos_unavailable(state: WorkflowState, deployment: str, now: datetime) -> str:
    """Why Generate Video is off because this backend answered 501 to the last video
    submission ("" when it is not: no such answer, another backend, or an hour has passed)."""
    videos = [s for s in all_submissions(state) if s.kind == "videos"]
    if not videos:
        return ""
    last = max(videos, key=lambda s: s.started_at)
    if not _refused_as_not_implemented(last):
        return ""
    if last.deployment and deployment and last.deployment != deployment:
        return ""
    when = last.finished_at or last.started_at
    again = when + VIDEO_RETRY_AFTER
    if now >= again:
        return ""
    return (f"Videos are unavailable on this backend: it answered {NOT_IMPLEMENTED} at "
            f"{when:%H:%M} UTC (nothing was billed). Generate Video comes back at "
            f"{again:%H:%M} UTC, when the backend may have been updated, or with another "
            "backend.")


def clip_notes(videos: Mapping[str, VideoClip], submissions: Mapping[str, Submission]
               ) -> dict[str, str]:
    """The error to print under each clip; an error that is already the whole submission's
    outcome (shown once, above) is left out rather than repeated under every clip."""
    notes = {}
    for scene, clip in videos.items():
        if not clip.error:
            continue
        sub = submissions.get(clip.batch_hash)
        if sub is not None and sub.state in ("rejected", "failed", "not_sent",
                                             "outcome_unknown") and clip.error in sub.message:
            continue
        notes[scene] = clip.error
    return notes
