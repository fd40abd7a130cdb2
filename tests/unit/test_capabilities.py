"""What the backend can do, from what it last answered (batchcore.domain.capabilities)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from batchcore.domain.capabilities import VIDEO_RETRY_AFTER, clip_notes, videos_unavailable
from batchcore.domain.workflow import Submission, VideoClip, WorkflowState

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
REFUSED = ("The backend does not generate videos yet (501 Not Implemented); nothing was billed. "
           "The orchestrator refused the request (501 Not Implemented).")


def video(state: str = "rejected", message: str = REFUSED, *, at: datetime = NOW,
          deployment: str = "mock", hash_: str = "h1") -> Submission:
    return Submission(batch_hash=hash_, kind="videos", state=state, cost=Decimal("0.10"),
                      started_at=at, finished_at=at, message=message, deployment=deployment)


def with_subs(*subs: Submission) -> WorkflowState:
    return WorkflowState(submissions={s.batch_hash: s for s in subs})


def test_a_501_turns_generate_video_off_with_the_reason_and_when_it_comes_back():
    """After a 501 on this backend the reason names the answer, its time and when it is offered again."""
    why = videos_unavailable(with_subs(video()), "mock", NOW + timedelta(minutes=5))
    assert why.startswith("Videos are unavailable on this backend: it answered 501 Not "
                          "Implemented at 14:00 UTC (nothing was billed).")
    assert "comes back at 15:00 UTC" in why


def test_it_comes_back_after_an_hour_or_on_another_backend():
    """An hour later, or with another ORCHESTRATOR_URL, Generate Video is offered again."""
    state = with_subs(video(deployment="https://a.example"))
    assert videos_unavailable(state, "https://a.example", NOW + VIDEO_RETRY_AFTER) == ""
    assert videos_unavailable(state, "https://b.example", NOW) == ""
    assert videos_unavailable(state, "https://a.example", NOW) != ""


def test_only_the_last_video_submission_counts_and_only_a_501():
    """Other refusals, images, or a later video submission that worked do not turn it off."""
    assert videos_unavailable(WorkflowState(), "mock", NOW) == ""
    assert videos_unavailable(with_subs(video(message="400 Bad Request")), "mock", NOW) == ""
    later = video("completed", "", at=NOW + timedelta(minutes=1), hash_="h2")
    assert videos_unavailable(with_subs(video(), later), "mock", NOW + timedelta(minutes=2)) == ""
    images = video().model_copy(update={"kind": "images"})
    assert videos_unavailable(with_subs(images), "mock", NOW) == ""


def test_a_whole_batch_refusal_is_not_repeated_under_every_clip():
    """Clips whose error is the submission's outcome get no note; a clip's own error keeps its note."""
    sub = video()
    clips = {s: VideoClip(scene_id=s, batch_hash="h1", status="error", error=REFUSED)
             for s in ("A", "B", "C", "D")}
    assert clip_notes(clips, {"h1": sub}) == {}
    own = {"A": VideoClip(scene_id="A", batch_hash="h1", status="error", error="clip A failed"),
           "B": VideoClip(scene_id="B", batch_hash="h1", status="done")}
    assert clip_notes(own, {"h1": video("partial", "1 of 2 clips failed")}) == {"A": "clip A failed"}
