"""Retrying failed rows: which scenes come back as a new batch, and that it needs a new dry-run."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.hashing import batch_hash
from batchcore.domain.pricing import MAX_ROWS, MAX_VARIANTS
from batchcore.domain.retry_rows import (
    RetryRow,
    SkippedScene,
    failed_rows,
    plan_retry,
    retry_batch_text,
)
from batchcore.domain.rows import BatchRow, ParseResult, parse_batch
from batchcore.domain.workflow import (
    GeneratedImage,
    WorkflowState,
    begin_image_submission,
    can_generate,
    current_hash,
    finish_submission,
    make_receipt,
    record_dry_run,
    with_draft,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
ROWS = [
    BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=2),
    BatchRow(scene_id="SCENE-002", prompt="Cozy living room | fireplace", variants=3,
             ref_urls=("https://x/ref.png",)),
    BatchRow(scene_id="SCENE-003", prompt="Home office with plants", variants=1),
]


def imgs(scene: str, n: int) -> tuple[GeneratedImage, ...]:
    return tuple(GeneratedImage(scene_id=scene, variant=v, url=f"u{v}") for v in range(1, n + 1))


def test_failed_scenes_without_images_are_retried_in_batch_order():
    """Scenes that failed with no images come back with their variants, in the batch's order."""
    rows = failed_rows(ROWS, {"SCENE-003": "timeout", "SCENE-001": "job failed"})
    assert rows == [ROWS[0], ROWS[2]]


def test_retry_text_is_batch_text_of_just_those_rows():
    """The retry text parses back to exactly the failed rows (minus reference URLs)."""
    text = retry_batch_text(ROWS, ["SCENE-002"])
    assert text == "SCENE-002 | Cozy living room | fireplace | 3"
    assert parse_batch(text).rows == [ROWS[1].model_copy(update={"ref_urls": ()})]
    assert failed_rows(ROWS, ["SCENE-002"])[0].ref_urls == ("https://x/ref.png",)


def test_a_single_scene_id_string_is_one_scene():
    """Passing one scene id as a string means that scene, not its characters."""
    assert failed_rows(ROWS, "SCENE-003") == [ROWS[2]]


def test_annotated_text_explains_each_failure_in_ignored_comments():
    """With annotate, each row has a # comment with its error, and parsing ignores it."""
    text = retry_batch_text(ROWS, {"SCENE-001": "rejected:\n content policy", "SCENE-003": None},
                            annotate=True)
    assert text.splitlines() == [
        "# SCENE-001 failed: rejected: content policy",
        "SCENE-001 | Modern kitchen with morning light | 2",
        "# SCENE-003 failed: no reason given",
        "SCENE-003 | Home office with plants | 1",
    ]
    assert parse_batch(text) == ParseResult(rows=[ROWS[0], ROWS[2]])


def test_a_failed_scene_with_all_its_images_is_not_retried():
    """If every variant came back despite the failure, nothing is missing: it is skipped."""
    plan = plan_retry(ROWS, {"SCENE-003": "thumbnail failed"}, {"SCENE-003": imgs("SCENE-003", 1)},
                      include_partial=True)
    assert plan.rows == []
    assert plan.skipped == (SkippedScene(
        scene_id="SCENE-003", error="thumbnail failed",
        reason="All 1 image of SCENE-003 came back, so it is not generated again."),)


def test_a_partial_scene_is_skipped_by_default_so_nothing_paid_for_is_redone():
    """A scene with some images is not retried by default; the reason says how many came back."""
    plan = plan_retry(ROWS, {"SCENE-002": "2 of 3 failed"}, {"SCENE-002": imgs("SCENE-002", 1)})
    assert plan.rows == []
    assert plan.skipped[0].reason.startswith("1 of 3 images of SCENE-002 came back; approve one")
    assert "generate the missing 2" in plan.skipped[0].reason


def test_a_partial_scene_can_be_retried_for_its_missing_variants_only():
    """With include_partial, a partial scene is retried for only the variants that are missing."""
    plan = plan_retry(ROWS, {"SCENE-002": "2 of 3 failed"}, {"SCENE-002": 1}, include_partial=True)
    assert plan.retry == (RetryRow(row=ROWS[1].model_copy(update={"variants": 2}),
                                   error="2 of 3 failed", images_kept=1),)
    assert retry_batch_text(ROWS, ["SCENE-002"], {"SCENE-002": 1}, include_partial=True) == \
        "SCENE-002 | Cozy living room | fireplace | 2"


def test_failures_of_scenes_not_in_the_batch_are_reported_not_dropped():
    """A failed scene id that is not a row of the batch is listed as unknown."""
    plan = plan_retry(ROWS, {"SCENE-404": "?", "SCENE-001": "x"})
    assert plan.unknown == ("SCENE-404",)
    assert plan.rows == [ROWS[0]]


def test_nothing_failed_means_nothing_to_retry():
    """No failures: no rows and empty text."""
    assert failed_rows(ROWS, {}) == []
    assert retry_batch_text(ROWS, [], annotate=True) == ""


def test_retry_of_some_rows_is_a_new_batch_needing_its_own_dry_run():
    """The retry batch has a different hash, and cannot be generated without a new dry-run."""
    state = with_draft(WorkflowState(), "batch", ParseResult(rows=ROWS))
    state = record_dry_run(state, make_receipt("batch", ROWS, now=NOW))
    state, _ = begin_image_submission(state, current_hash(state, NOW), NOW)
    state = finish_submission(state, current_hash(state, NOW), "partial", now=NOW)
    retry = parse_batch(retry_batch_text(ROWS, ["SCENE-001", "SCENE-003"]))
    assert batch_hash("batch", retry.rows, NOW) != batch_hash("batch", ROWS, NOW)
    state = with_draft(state, "batch", retry)
    gate = can_generate(state, current_hash(state, NOW), NOW)
    assert not gate and gate.code == "changed"


def test_retry_of_every_row_still_needs_a_new_dry_run():
    """Even when all rows failed (same rows, same hash), the used receipt forces a new dry-run."""
    rows = [r.model_copy(update={"ref_urls": ()}) for r in ROWS]
    state = with_draft(WorkflowState(), "batch", ParseResult(rows=rows))
    state = record_dry_run(state, make_receipt("batch", rows, now=NOW))
    state, _ = begin_image_submission(state, current_hash(state, NOW), NOW)
    state = finish_submission(state, current_hash(state, NOW), "partial", now=NOW)
    state = with_draft(state, "batch", parse_batch(retry_batch_text(rows, [r.scene_id for r in rows])))
    gate = can_generate(state, current_hash(state, NOW), NOW)
    assert not gate and gate.code == "used"


rows_strategy = st.lists(
    st.builds(lambda i, v: BatchRow(scene_id=f"S{i}", prompt=f"prompt {i}", variants=v),
              st.integers(0, 99), st.integers(1, MAX_VARIANTS)),
    min_size=1, max_size=MAX_ROWS, unique_by=lambda r: r.scene_id,
)


@given(rows_strategy, st.data(), st.booleans())
def test_retry_rows_are_exactly_the_failed_rows_still_missing_images(rows, data, include_partial):
    """Every failed scene is retried, skipped with a reason, or unknown; none is lost or invented."""
    failed = data.draw(st.sets(st.sampled_from([r.scene_id for r in rows] + ["X1", "X2"])))
    got = {r.scene_id: data.draw(st.integers(0, r.variants)) for r in rows}
    plan = plan_retry(rows, sorted(failed), got, include_partial=include_partial)
    retried = {r.row.scene_id for r in plan.retry}
    skipped = {s.scene_id for s in plan.skipped}
    assert retried | skipped | set(plan.unknown) == failed
    assert not retried & skipped
    by_id = {r.scene_id: r for r in rows}
    for item in plan.retry:
        original = by_id[item.row.scene_id]
        assert item.row.variants == original.variants - got[original.scene_id] >= 1
        assert include_partial or got[original.scene_id] == 0
    order = [r.scene_id for r in rows]
    assert [r.scene_id for r in plan.rows] == [s for s in order if s in retried]
    assert parse_batch(retry_batch_text(rows, failed, got, include_partial=include_partial)).rows == \
        plan.rows
