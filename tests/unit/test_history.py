"""History: one record per paid submission across workspaces, and money per UTC day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from batchcore import parse_batch
from batchcore.domain.history import batch_history, spend_per_day, spend_totals
from batchcore.domain.workflow import (
    GeneratedImage,
    Submission,
    VideoClip,
    WorkflowState,
    make_receipt,
)

UTC = timezone.utc
DAY1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC)
DAY3 = datetime(2026, 11, 25, 0, 0, 1, tzinfo=UTC)


def _images(batch_id: str, **scenes: int) -> dict[str, tuple[GeneratedImage, ...]]:
    return {scene: tuple(GeneratedImage(scene_id=scene, variant=v, url=f"https://x/{scene}/{v}.png",
                                        batch_id=batch_id) for v in range(1, n + 1))
            for scene, n in scenes.items()}


def _image_workspace(text: str, *, at: datetime, state: str, batch_id: str = "",
                     actual: str | None = None, message: str = "",
                     images: dict | None = None) -> tuple[WorkflowState, str]:
    """A workspace with a dry-run receipt of ``text`` and the image submission it allowed."""
    rows = parse_batch(text).rows
    assert rows, f"the fixture batch {text!r} does not parse"
    receipt = make_receipt("batch", rows, now=at)
    sub = Submission(batch_hash=receipt.batch_hash, kind="images", state=state,
                     cost=receipt.estimated_cost, started_at=at, batch_id=batch_id,
                     actual_cost=None if actual is None else Decimal(actual), message=message)
    ws = WorkflowState(receipts={receipt.batch_hash: receipt},
                       submissions={receipt.batch_hash: sub}, images=images or {})
    return ws, receipt.batch_hash


def _video(hash_: str, *, at: datetime, state: str, cost: str, scenes: list[str],
           batch_id: str = "", actual: str | None = None) -> tuple[Submission, dict[str, VideoClip]]:
    sub = Submission(batch_hash=hash_, kind="videos", state=state, cost=Decimal(cost),
                     started_at=at, batch_id=batch_id,
                     actual_cost=None if actual is None else Decimal(actual))
    clips = {s: VideoClip(scene_id=s, job_id=f"job-{s}", batch_hash=hash_, batch_id=batch_id,
                          status="completed") for s in scenes}
    return sub, clips


@pytest.fixture
def states() -> dict[str, WorkflowState]:
    """Two workspaces: one with a completed image batch and a failed video batch, one with
    an unknown image batch and an in-flight video batch."""
    a, a_hash = _image_workspace(
        "S1 | kitchen | 2\nS2 | hallway | 3\nS3 | office | 1", at=DAY1, state="completed",
        batch_id="batch_a", actual="0.012", message="every row completed",
        images={**_images("batch_a", S1=2, S2=3, S3=1),
                "OLD": _images("batch_old", OLD=4)["OLD"]})
    video_sub, clips = _video("v" * 64, at=DAY2 - timedelta(hours=1), state="failed", cost="0.80",
                              scenes=["S1", "S2"], batch_id="vbatch_a")
    a = a.model_copy(update={"submissions": {**a.submissions, video_sub.batch_hash: video_sub},
                             "videos": clips})

    b, b_hash = _image_workspace("T1 | garden | 2", at=DAY2, state="outcome_unknown",
                                 message="timed out after sending")
    video_b, clips_b = _video("w" * 64, at=DAY3, state="in_flight", cost="1.20",
                              scenes=["T1", "T2", "T3"])
    b = b.model_copy(update={"submissions": {**b.submissions, video_b.batch_hash: video_b},
                             "videos": {**clips_b, "X": VideoClip(scene_id="X", batch_hash="other")}})
    return {"ws-a": a, "ws-b": b}


# --- batch_history ---------------------------------------------------------------------------


def test_batch_history_has_one_record_per_submission_newest_first(states):
    """Every paid submission of every workspace is listed once, sorted newest first."""
    records = batch_history(states)
    assert [(r["workspace"], r["kind"], r["time"]) for r in records] == [
        ("ws-b", "videos", DAY3),
        ("ws-b", "images", DAY2),
        ("ws-a", "videos", DAY2 - timedelta(hours=1)),
        ("ws-a", "images", DAY1),
    ]


def test_a_completed_image_batch_shows_rows_images_and_both_costs(states):
    """A completed image batch shows its receipt's rows, its own images, estimate and actual cost."""
    record = batch_history(states)[-1]
    assert record == {
        "workspace": "ws-a", "time": DAY1, "kind": "images", "batch": "batch_a",
        "rows": 3, "images": 6, "estimated": "$0.012", "actual": "$0.012",
        "outcome": "completed", "note": "every row completed",
    }


def test_images_are_counted_by_batch_id_only(states):
    """Images of another batch in the same workspace are not counted for this batch."""
    record = batch_history(states)[-1]
    assert record["images"] == 6  # the 4 OLD images belong to batch_old


def test_an_image_batch_without_a_batch_id_counts_no_images_and_shows_its_hash(states):
    """Without a server batch id nothing can be attributed: 0 images, the hash's first 12 chars."""
    record = next(r for r in batch_history(states) if r["outcome"] == "outcome_unknown")
    wf = states["ws-b"]
    [hash_] = [h for h, s in wf.submissions.items() if s.kind == "images"]
    assert record["batch"] == hash_[:12]
    assert record["rows"] == 1
    assert record["images"] == 0
    assert record["estimated"] == "$0.004"
    assert record["actual"] == ""
    assert record["note"] == "timed out after sending"


def test_image_batch_ids_equal_to_empty_image_batch_ids_are_not_counted():
    """A submission without a batch id does not count images that also lack one."""
    ws, _ = _image_workspace("A | a | 2", at=DAY1, state="completed",
                             images=_images("", A=2))
    [record] = batch_history({"w": ws})
    assert record["images"] == 0


def test_video_rows_are_counted_from_the_clips_of_that_batch(states):
    """A video submission's rows are its clips (matched by batch hash); its images are 0."""
    records = batch_history(states)
    failed = next(r for r in records if r["kind"] == "videos" and r["workspace"] == "ws-a")
    assert (failed["rows"], failed["images"], failed["batch"]) == (2, 0, "vbatch_a")
    assert (failed["estimated"], failed["actual"], failed["outcome"]) == ("$0.80", "", "failed")
    flying = next(r for r in records if r["kind"] == "videos" and r["workspace"] == "ws-b")
    assert (flying["rows"], flying["outcome"], flying["batch"]) == (3, "sent", "w" * 12)


def test_a_video_batch_never_counts_images_even_with_a_matching_batch_id():
    """Images that share a video batch's id are not shown as that video batch's images."""
    sub, clips = _video("v" * 64, at=DAY1, state="completed", cost="0.40", scenes=["A"],
                        batch_id="same", actual="0.40")
    ws = WorkflowState(submissions={sub.batch_hash: sub}, videos=clips, images=_images("same", A=2))
    [record] = batch_history({"w": ws})
    assert (record["rows"], record["images"], record["actual"]) == (1, 0, "$0.40")


def test_no_submissions_means_no_history():
    """Workspaces without paid calls (or no workspaces) give an empty history."""
    assert batch_history({}) == []
    assert batch_history({"w": WorkflowState()}) == []


# --- spend_per_day ---------------------------------------------------------------------------


def test_spend_per_day_groups_by_utc_date_in_date_order(states):
    """Money is summed per UTC day across workspaces, days in ascending order."""
    per_day = spend_per_day(states)
    assert list(per_day) == ["2026-11-23", "2026-11-24", "2026-11-25"]


def test_spend_per_day_counts_actual_cost_failed_as_zero_and_unknown_at_estimate(states):
    """Completed counts its actual cost, failed without actual 0, unknown and in-flight the estimate."""
    per_day = spend_per_day(states)
    assert per_day["2026-11-23"] == Decimal("0.012")        # completed, actual
    assert per_day["2026-11-24"] == Decimal("0.004")        # failed video 0 + unknown images 0.004
    assert per_day["2026-11-25"] == Decimal("1.20")         # in-flight video, estimate


def test_a_failed_submission_with_an_actual_cost_counts_that_cost():
    """A failed batch that still billed something counts what it billed."""
    sub, clips = _video("v" * 64, at=DAY1, state="failed", cost="0.80", scenes=["A", "B"],
                        actual="0.40")
    ws = WorkflowState(submissions={sub.batch_hash: sub}, videos=clips)
    assert spend_per_day({"w": ws}) == {"2026-11-23": Decimal("0.40")}


def test_actual_cost_wins_over_the_estimate_when_known():
    """A partial batch counts its actual cost, not the (higher) estimate."""
    ws, _ = _image_workspace("A | a | 3", at=DAY1, state="partial", actual="0.002")
    assert spend_per_day({"w": ws}) == {"2026-11-23": Decimal("0.002")}


def test_seconds_either_side_of_midnight_utc_fall_on_different_days():
    """23:59:59 and 00:00:01 UTC are counted on their own days."""
    late, _ = _image_workspace("A | a | 1", at=DAY2, state="completed", actual="0.002")
    early, _ = _image_workspace("B | b | 1", at=DAY3, state="completed", actual="0.002")
    assert spend_per_day({"late": late, "early": early}) == {
        "2026-11-24": Decimal("0.002"), "2026-11-25": Decimal("0.002")}


def test_spend_per_day_of_nothing_is_empty():
    """No workspaces or no submissions give no days at all."""
    assert spend_per_day({}) == {}
    assert spend_per_day({"w": WorkflowState()}) == {}


def test_a_non_utc_start_time_is_counted_on_its_utc_day():
    """A start at 01:00+02:00 (23:00 UTC the day before) counts on the UTC day before."""
    at = datetime(2026, 11, 25, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    ws, _ = _image_workspace("A | a | 1", at=at, state="completed", actual="0.002")
    assert spend_per_day({"w": ws}) == {"2026-11-24": Decimal("0.002")}


def test_spend_totals_over_spend_per_day(states):
    """The page's totals, fed from spend_per_day, split today, the week and all time."""
    totals = spend_totals(spend_per_day(states), date(2026, 11, 25))
    assert totals == {"today": Decimal("1.20"), "week": Decimal("1.216"),
                      "total": Decimal("1.216")}
    later = spend_totals(spend_per_day(states), date(2026, 11, 30))
    assert later == {"today": Decimal(0), "week": Decimal("1.204"), "total": Decimal("1.216")}


def test_the_count_recorded_when_a_batch_finished_outlives_replaced_images():
    """A batch's image count is the one recorded when it finished, even after its images are replaced."""
    ws, hash_ = _image_workspace("S1 | kitchen | 3", at=DAY1, state="completed",
                                 batch_id="batch_1", actual="0.006",
                                 images=_images("batch_2", S1=1))  # a later run replaced them
    ws = ws.model_copy(update={"submissions": {
        hash_: ws.submissions[hash_].model_copy(update={"produced": 3})}})
    assert batch_history({"ws": ws})[0]["images"] == 3


def test_history_counts_an_unknown_outcome_as_the_spend_cap_does():
    """Outcome unknown counts the larger of estimate and actual, like the cap; never less."""
    ws, _ = _image_workspace("S1 | kitchen | 3", at=DAY1, state="outcome_unknown",
                             actual="0.002")
    assert spend_per_day({"ws": ws}) == {"2026-11-23": Decimal("0.006")}


def test_recent_batches_are_newest_first_and_each_text_once():
    """Batches dry-run before come back newest first, the same batch once, references off."""
    from batchcore.domain.history import recent_batches
    from tests import factories

    old = factories.dry_ran(factories.drafted("A | kitchen | 2\nB | hall | 1"), DAY1)
    new = factories.dry_ran(factories.drafted("C | garden | 3"), DAY2)
    again = factories.dry_ran(factories.drafted("A | kitchen | 2\nB | hall | 1"), DAY1)
    batches = recent_batches({"w1": old, "w2": new, "w3": again})
    assert [text for _, text in batches] == ["C | garden | 3", "A | kitchen | 2\nB | hall | 1"]
    assert batches[1][0].endswith("A: kitchen and 1 more row(s)")
