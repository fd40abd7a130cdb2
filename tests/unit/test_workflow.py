"""Workflow decisions: dry-run receipts, the live gate, approvals, video confirmation, the log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from batchcore import BatchRow, GuardrailError, WorkflowState, batch_hash, can_generate, parse_batch
from batchcore.domain.hashing import day_bucket
from batchcore.domain.statuslog import log_entry
from batchcore.domain.workflow import (
    Approval,
    Gate,
    GeneratedImage,
    Submission,
    append_log,
    approve,
    approved_scenes,
    begin_image_submission,
    check_video_confirmation,
    current_hash,
    describe_receipt,
    finish_submission,
    in_flight,
    make_receipt,
    record_images,
    unapprove,
    video_confirmation_ok,
    with_draft,
)
from batchcore.errors import AlreadySubmitted, ConfirmationMismatch, DryRunRequired
from tests import factories

UTC = timezone.utc
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LAST = datetime(2026, 11, 24, 23, 59, 59, 999000, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
TEXT = "A | kitchen | 2\nB | hallway | 3"


def drafted(text: str = TEXT, mode: str = "batch") -> WorkflowState:
    return factories.drafted(text, mode)  # type: ignore[arg-type]


def dry_run(state: WorkflowState, now: datetime = NOON) -> WorkflowState:
    return factories.dry_ran(state, now)


def img(scene: str, variant: int, url: str | None = None) -> GeneratedImage:
    return GeneratedImage(scene_id=scene, variant=variant, url=url or f"https://x/{scene}/{variant}.png")


# --- draft and receipts ---------------------------------------------------------------


def test_with_draft_keeps_mode_rows_and_errors():
    """with_draft stores the mode, the parsed rows and the errors as tuples, returning a new state."""
    base = WorkflowState()
    state = with_draft(base, "single", parse_batch("A | p | 1\nbad"))
    assert state.draft.mode == "single"
    assert [r.scene_id for r in state.draft.rows] == ["A"]
    assert [e.line for e in state.draft.errors] == [2]
    assert base.draft.rows == ()  # the old state is untouched


def test_current_hash_is_the_batch_hash_of_the_draft():
    """current_hash is batch_hash(draft mode, draft rows, now)."""
    state = drafted()
    assert current_hash(state, NOON) == batch_hash("batch", state.draft.rows, NOON)


def test_make_receipt_records_hash_images_cost_and_day():
    """A receipt carries the batch hash, image count, our own Decimal cost and the UTC day."""
    state = drafted()
    receipt = make_receipt("batch", state.draft.rows, now=NOON, server_estimated_cost=0.01,
                           batch_id="b1")
    assert receipt.batch_hash == batch_hash("batch", state.draft.rows, NOON)
    assert receipt.images == 5 and receipt.estimated_cost == Decimal("0.010")
    assert receipt.server_estimated_cost == Decimal("0.01")
    assert receipt.day == day_bucket(NOON) and receipt.created_at == NOON
    assert receipt.used_by == "" and receipt.batch_id == "b1"


def test_make_receipt_defaults_to_now_and_no_server_cost():
    """Without now the receipt is stamped with the current UTC time; server cost stays None."""
    receipt = make_receipt("batch", drafted().draft.rows)
    assert receipt.created_at.tzinfo is not None and receipt.server_estimated_cost is None


def test_receipts_are_keyed_by_hash_and_a_new_one_replaces_the_old():
    """record_dry_run keys receipts by hash; the same batch dry-run again replaces its receipt."""
    state = dry_run(drafted())
    h = current_hash(state, NOON)
    assert list(state.receipts) == [h]
    later = dry_run(state, NOON + timedelta(hours=1))
    assert list(later.receipts) == [h]
    assert later.receipts[h].created_at == NOON + timedelta(hours=1)


def test_describe_receipt():
    """describe_receipt reads '2 rows, 5 images, $0.01', with singulars for one."""
    assert describe_receipt(make_receipt("batch", drafted().draft.rows, now=NOON)) == (
        "2 rows, 5 images, $0.01"
    )
    one = make_receipt("single", drafted("A | p | 1").draft.rows, now=NOON)
    assert describe_receipt(one) == "1 row, 1 image, $0.002"


# --- the gate -------------------------------------------------------------------------


def test_gate_without_dry_run_says_so():
    """With no dry-run at all the gate refuses with code no_dry_run."""
    state = drafted()
    gate = can_generate(state, current_hash(state, NOON), NOON)
    assert not gate and gate.code == "no_dry_run" and "Dry-Run" in gate.reason


def test_gate_allows_after_a_same_day_dry_run_of_the_same_batch():
    """A dry-run of the same batch the same UTC day allows generating."""
    state = dry_run(drafted())
    gate = can_generate(state, current_hash(state, LAST), LAST)
    assert gate and gate.allowed and gate.code == "ok" and gate == Gate(allowed=True)


def test_gate_refuses_a_dry_run_of_another_batch():
    """After editing the batch, the old dry-run does not count: code changed."""
    state = dry_run(drafted())
    edited = with_draft(state, "batch", parse_batch("A | kitchen | 3\nB | hallway | 3"))
    gate = can_generate(edited, current_hash(edited, NOON), NOON)
    assert not gate and gate.code == "changed" and "changed" in gate.reason


def test_gate_refuses_a_dry_run_in_the_other_mode():
    """A batch-mode dry-run does not allow the same rows in single mode."""
    state = dry_run(drafted("A | p | 1"))
    single = with_draft(state, "single", parse_batch("A | p | 1"))
    assert can_generate(single, current_hash(single, NOON), NOON).code == "changed"


def test_gate_refuses_a_dry_run_from_a_previous_day():
    """A dry-run from yesterday (UTC) has expired, even one millisecond after midnight."""
    state = dry_run(drafted(), LAST)
    gate = can_generate(state, current_hash(state, MIDNIGHT), MIDNIGHT)
    assert not gate and gate.code == "expired" and "midnight UTC" in gate.reason


def test_gate_refuses_a_stale_hash_even_if_its_receipt_exists():
    """Asking with yesterday's hash after midnight is refused as expired, not allowed."""
    state = dry_run(drafted(), LAST)
    old_hash = current_hash(state, LAST)
    assert can_generate(state, old_hash, MIDNIGHT).code == "expired"


def test_gate_refuses_a_batch_with_errors():
    """A draft with errors cannot be generated, even with a matching dry-run; the reason counts them."""
    state = dry_run(drafted())
    broken = with_draft(state, "batch", parse_batch(TEXT + "\nbad\nworse"))
    gate = can_generate(broken, current_hash(broken, NOON), NOON)
    assert not gate and gate.code == "errors" and "2 errors" in gate.reason
    one = with_draft(state, "batch", parse_batch(TEXT + "\nbad"))
    assert "1 error " in can_generate(one, current_hash(one, NOON), NOON).reason


def test_gate_refuses_an_empty_draft():
    """An empty draft has nothing to generate."""
    state = WorkflowState()
    gate = can_generate(state, current_hash(state, NOON), NOON)
    assert not gate and gate.code == "empty"


def test_gate_refuses_while_images_are_in_flight():
    """While an image submission is in flight the gate refuses with code in_flight."""
    state = dry_run(drafted())
    h = current_hash(state, NOON)
    state, _ = begin_image_submission(state, h, NOON)
    assert [s.batch_hash for s in in_flight(state)] == [h]
    assert in_flight(state, "images") and not in_flight(state, "videos")
    again = dry_run(state)
    gate = can_generate(again, h, NOON)
    assert not gate and gate.code == "in_flight"


def test_gate_defaults_now_to_the_current_time():
    """Without now the gate judges the receipt against the current UTC day."""
    today = datetime.now(UTC)
    state = dry_run(drafted(), today)
    assert can_generate(state, current_hash(state, today)).code in ("ok", "expired")


# --- live submission consumes the receipt ---------------------------------------------


def test_begin_image_submission_consumes_the_receipt():
    """One dry-run allows exactly one live submission: afterwards the gate says used."""
    state = dry_run(drafted())
    h = current_hash(state, NOON)
    state, receipt = begin_image_submission(state, h, NOON)
    assert receipt.used_by and state.receipts[h].used_by
    sub = state.submissions[h]
    assert sub.kind == "images" and sub.state == "reserved" and sub.cost == Decimal("0.010")
    state = finish_submission(state, h, "completed", batch_id="job-1", actual_cost=Decimal("0.01"),
                              message="ok", now=NOON)
    gate = can_generate(state, h, NOON)
    assert not gate and gate.code == "used" and "Dry-Run" in gate.reason


def test_second_submission_of_the_same_dry_run_is_refused():
    """A second begin on the same receipt raises AlreadySubmitted (in flight, then used)."""
    state = dry_run(drafted())
    h = current_hash(state, NOON)
    state, _ = begin_image_submission(state, h, NOON)
    with pytest.raises(AlreadySubmitted):
        begin_image_submission(state, h, NOON)
    state = finish_submission(state, h, "failed", message="boom")
    with pytest.raises(AlreadySubmitted, match="already generated"):
        begin_image_submission(state, h, NOON)


@pytest.mark.parametrize("outcome", ["completed", "partial", "failed", "outcome_unknown"])
def test_every_outcome_leaves_the_receipt_used(outcome):
    """Whatever the outcome, the consumed receipt is not reused without a new dry-run."""
    state = dry_run(drafted())
    h = current_hash(state, NOON)
    state, _ = begin_image_submission(state, h, NOON)
    state = finish_submission(state, h, outcome, now=NOON)
    assert not in_flight(state)
    assert can_generate(state, h, NOON).code == "used"


def test_a_new_dry_run_after_use_allows_one_more_submission():
    """Running the dry-run again gives a fresh receipt that allows one more submission."""
    state = dry_run(drafted())
    h = current_hash(state, NOON)
    state, _ = begin_image_submission(state, h, NOON)
    state = finish_submission(state, h, "completed", now=NOON)
    state = dry_run(state, NOON + timedelta(minutes=5))
    assert can_generate(state, h, NOON).allowed


@pytest.mark.parametrize("setup, code", [("none", "no_dry_run"), ("expired", "expired"),
                                         ("errors", "errors"), ("empty", "empty")])
def test_begin_without_a_valid_dry_run_raises_dry_run_required(setup, code):
    """Starting a live submission without a valid dry-run raises DryRunRequired with the reason."""
    if setup == "none":
        state, now = drafted(), NOON
    elif setup == "expired":
        state, now = dry_run(drafted(), LAST), MIDNIGHT
    elif setup == "errors":
        state, now = dry_run(drafted()), NOON
        state = with_draft(state, "batch", parse_batch("bad"))
    else:
        state, now = WorkflowState(), NOON
    gate = can_generate(state, current_hash(state, now), now)
    assert gate.code == code
    with pytest.raises(DryRunRequired) as info:
        begin_image_submission(state, current_hash(state, now), now)
    assert str(info.value) == gate.reason
    assert isinstance(info.value, GuardrailError)


def test_finish_submission_keeps_the_batch_id_when_none_is_given():
    """finish_submission records the outcome and keeps an earlier batch id when given none."""
    state = WorkflowState(submissions={"h": Submission(batch_hash="h", kind="images",
                                                         cost=Decimal("0.002"), started_at=NOON,
                                                         batch_id="b0")})
    done = finish_submission(state, "h", "partial", actual_cost=Decimal("0.002"), message="1 failed",
                             now=NOON)
    sub = done.submissions["h"]
    assert (sub.state, sub.batch_id, sub.message, sub.finished_at) == ("partial", "b0", "1 failed", NOON)
    assert finish_submission(state, "h", "completed", batch_id="b1").submissions["h"].batch_id == "b1"


# --- images and approvals -------------------------------------------------------------


def test_approval_is_one_per_scene_and_another_replaces_it():
    """Approving a second image of a scene replaces the first; other scenes keep theirs."""
    state = record_images(WorkflowState(), [img("A", 1), img("A", 2), img("B", 1)])
    state = approve(state, img("A", 1), NOON)
    state = approve(state, img("B", 1), NOON)
    state = approve(state, img("A", 2), NOON)
    assert {k: a.image.variant for k, a in state.approvals.items()} == {"A": 2, "B": 1}
    assert isinstance(state.approvals["A"], Approval) and state.approvals["A"].approved_at == NOON


def test_approving_an_unknown_image_is_refused():
    """An image that is not among a scene's results cannot be approved."""
    state = record_images(WorkflowState(), [img("A", 1)])
    with pytest.raises(ValueError, match="not among the results"):
        approve(state, img("A", 3))
    with pytest.raises(ValueError):
        approve(state, img("Z", 1))


def test_unapprove_withdraws_only_that_scene():
    """unapprove removes a scene's approval and is harmless for a scene without one."""
    state = record_images(WorkflowState(), [img("A", 1), img("B", 1)])
    state = approve(approve(state, img("A", 1)), img("B", 1))
    state = unapprove(state, "A")
    assert list(state.approvals) == ["B"]
    assert unapprove(state, "nope") == state


def test_new_images_for_a_scene_replace_old_ones_and_drop_its_approval():
    """New results for a scene replace its images and clear its approval; other scenes keep theirs."""
    state = record_images(WorkflowState(), [img("A", 1), img("B", 1)])
    state = approve(approve(state, img("A", 1)), img("B", 1))
    state = record_images(state, [img("A", 1, "https://x/new.png")])
    assert [i.url for i in state.images["A"]] == ["https://x/new.png"]
    assert list(state.approvals) == ["B"]


def test_approved_scenes_follow_result_order():
    """approved_scenes lists one image per approved scene, in the order the scenes arrived."""
    state = record_images(WorkflowState(), [img("C", 1), img("A", 1), img("A", 2), img("B", 1)])
    state = approve(state, img("B", 1))
    state = approve(state, img("A", 2))
    state = approve(state, img("C", 1))
    assert [(i.scene_id, i.variant) for i in approved_scenes(state)] == [("C", 1), ("A", 2), ("B", 1)]
    assert approved_scenes(WorkflowState()) == []


def test_approved_scenes_puts_unknown_scenes_last():
    """An approval whose scene has no results (e.g. restored state) is listed after the rest."""
    image = img("Z", 1)
    state = WorkflowState(images={"A": (img("A", 1),)},
                          approvals={"Z": Approval(image=image, approved_at=NOON),
                                     "A": Approval(image=img("A", 1), approved_at=NOON)})
    assert [i.scene_id for i in approved_scenes(state)] == ["A", "Z"]


# --- video confirmation ---------------------------------------------------------------


@pytest.mark.parametrize("typed, ok", [
    ("3", True), (" 3 ", True), ("3\n", True), ("\t3", True),
    ("03", False), ("3.0", False), ("three", False), ("", False), (None, False),
    ("4", False), ("+3", False), ("３", False), ("3 clips", False), ("33", False),
])
def test_video_confirmation_needs_the_exact_count_in_digits(typed, ok):
    """The typed text, stripped, must equal the clip count in digits, nothing else."""
    assert video_confirmation_ok(typed, 3) is ok


def test_video_confirmation_of_zero_clips_is_never_ok():
    """With no clips there is nothing to confirm: even '0' is refused."""
    assert not video_confirmation_ok("0", 0)


def test_check_video_confirmation_raises_naming_the_count():
    """A wrong confirmation raises ConfirmationMismatch naming the expected count and what was typed."""
    check_video_confirmation(" 12 ", 12)
    with pytest.raises(ConfirmationMismatch, match=r"\(12\).*'11'"):
        check_video_confirmation(" 11 ", 12)
    with pytest.raises(ConfirmationMismatch, match="''"):
        check_video_confirmation(None, 2)


# --- the log and serialisation --------------------------------------------------------


def test_append_log_only_appends():
    """append_log adds entries at the end and never drops or rewrites earlier ones."""
    first = log_entry("queued", job_id="j1", now=NOON)
    second = log_entry("done", job_id="j1", scene_id="A", now=NOON + timedelta(seconds=1))
    state = append_log(WorkflowState(), first)
    state2 = append_log(state, second, first)
    assert state.log == (first,)
    assert state2.log == (first, second, first)
    assert append_log(state2).log == state2.log


def test_workflow_state_round_trips_through_json():
    """A full state survives model_dump_json / model_validate_json unchanged."""
    state = dry_run(drafted())
    h = current_hash(state, NOON)
    state, _ = begin_image_submission(state, h, NOON)
    state = finish_submission(state, h, "completed", batch_id="b", actual_cost=Decimal("0.010"), now=NOON)
    state = record_images(state, [img("A", 1), img("B", 1)])
    state = approve(state, img("A", 1), NOON)
    state = append_log(state, log_entry("completed", "5 images", job_id="b", now=NOON))
    again = WorkflowState.model_validate_json(state.model_dump_json())
    assert again == state
    assert can_generate(again, h, NOON).code == "used"


def test_workflow_state_is_frozen():
    """The state is immutable: changes only come as new states."""
    state = WorkflowState()
    with pytest.raises(ValidationError, match="frozen"):
        state.log = ()  # type: ignore[misc]


def test_rows_in_receipt_are_the_drafts_rows():
    """A receipt keeps the exact rows that were dry-run."""
    state = drafted()
    receipt = make_receipt("batch", state.draft.rows, now=NOON)
    assert receipt.rows == state.draft.rows
    assert all(isinstance(r, BatchRow) for r in receipt.rows)
