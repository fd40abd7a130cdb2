"""The pure appliers of batchcore.domain.outcomes: from an outcome (or an error) to the new state.

Every outcome is built directly from the response models and a plain ``Job``; nothing here
does I/O. The run_* procedures are exercised against the emulator in
tests/integration/test_generation_emulator.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from batchcore.adapters.jobs import Job
from batchcore.domain.outcomes import (
    ImageRunResult,
    VideoPlan,
    VideoRunResult,
    after_dry_run,
    after_image_error,
    after_images,
    after_video_error,
    after_videos,
    apply_job,
    begin_video_submission,
    drain_events,
    plan_videos,
    reconcile_orphans,
    video_batch_hash,
    video_choices,
)
from batchcore.domain.rows import BatchRow
from batchcore.domain.statuslog import log_entry
from batchcore.domain.workflow import (
    Draft,
    GeneratedImage,
    Submission,
    VideoClip,
    WorkflowState,
    approve,
    begin_image_submission,
    record_images,
)
from batchcore.errors import (
    AlreadySubmitted,
    BudgetExceeded,
    ConfirmationMismatch,
    NotImplementedByBackend,
    OutcomeUnknown,
    ResponseFormatError,
)
from batchcore.wire.models import (
    DryRunResult,
    ImageOut,
    JobOut,
    JobStatus,
    LiveResult,
    StatusResult,
    VideoBatchResult,
    VideoJobOut,
)

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=3)
ROWS = (
    BatchRow(scene_id="A", prompt="kitchen at dawn", variants=2),
    BatchRow(scene_id="B", prompt="hallway", variants=1),
)


# --- builders -------------------------------------------------------------------------


def dry_run_result(cost: str | None = "0.006", batch_id: str = "batch_1_dry") -> DryRunResult:
    return DryRunResult(batch_id=batch_id, estimated_cost=None if cost is None else Decimal(cost))


def submitted(rows=ROWS) -> tuple[WorkflowState, str]:
    """A state whose image submission of ``rows`` is in flight, and its batch hash."""
    drafted = WorkflowState(draft=Draft(mode="batch", rows=tuple(rows)))
    state = after_dry_run(drafted, "batch", rows, dry_run_result(), now=NOW)
    (hash_,) = state.receipts
    state, _ = begin_image_submission(state, hash_, NOW, runner="host:1:abc")
    return state, hash_


def done_job(scene: str, n: int, job_id: str = "") -> JobOut:
    urls = tuple(f"https://cdn.test/{scene}/{v}.png" for v in range(1, n + 1))
    return JobOut(job_id=job_id or f"j-{scene}", scene_id=scene, status=JobStatus.COMPLETED,
                  status_word="completed", images=urls)


def failed_job(scene: str, error: str = "") -> JobOut:
    return JobOut(job_id=f"j-{scene}", scene_id=scene, status=JobStatus.FAILED,
                  status_word="failed", error=error)


def live(*jobs: JobOut, rejected: tuple[str, ...] = (), reported: str | None = None,
         pending: bool = False, batch_id: str = "batch_9_live") -> LiveResult:
    return LiveResult(batch_id=batch_id, status=JobStatus.COMPLETED, status_word="",
                      jobs=jobs, rejected=rejected, pending=pending,
                      reported_actual_cost=None if reported is None else Decimal(reported))


def image(scene: str, variant: int = 1) -> GeneratedImage:
    return GeneratedImage(scene_id=scene, variant=variant, url=f"https://cdn.test/{scene}/{variant}.png",
                          prompt=f"prompt of {scene}")


def approved_state(*scenes: str, prompts: bool = True) -> WorkflowState:
    """Images for ``scenes`` (in that order), the first variant of each approved."""
    imgs = [image(s) if prompts else image(s).model_copy(update={"prompt": ""}) for s in scenes]
    state = record_images(WorkflowState(), imgs)
    for img in imgs:
        state = approve(state, img, NOW)
    return state


def videos_submitted(*scenes: str, model: str = "veo3_fast") -> tuple[WorkflowState, str, VideoPlan]:
    plan = plan_videos(approved_state(*scenes), model)
    state, hash_ = begin_video_submission(approved_state(*scenes), plan, str(plan.clips), NOW)
    return state, hash_, plan


def video_job(scene: str, status: JobStatus = JobStatus.QUEUED, *, url: str = "",
              error: str = "") -> VideoJobOut:
    return VideoJobOut(job_id=f"v-{scene}", scene_id=scene, status=status,
                       status_word=status.value, video_url=url, error=error)


def video_batch(*jobs: VideoJobOut, pending: bool = True) -> VideoBatchResult:
    return VideoBatchResult(batch_id="batch_7_vid", status=JobStatus.QUEUED, status_word="",
                            jobs=jobs, pending=pending)


def final(job_id: str, status: JobStatus, *, outputs: tuple[str, ...] = (),
          error: str = "") -> StatusResult:
    return StatusResult(job_id=job_id, status=status, status_word=status.value,
                        outputs=outputs, error=error)


def last(state: WorkflowState):
    return state.log[-1]


# --- after_dry_run ----------------------------------------------------------------------


def test_after_dry_run_keeps_the_receipt_and_logs_cost_and_hash():
    """A dry-run stores its receipt and logs image count, our cost and the short hash."""
    state = after_dry_run(WorkflowState(), "batch", ROWS, dry_run_result("0.006"), now=NOW)
    (receipt,) = state.receipts.values()
    assert receipt.estimated_cost == Decimal("0.006") and receipt.batch_id == "batch_1_dry"
    entry = last(state)
    assert entry.status == "dry_run" and entry.job_id == "batch_1_dry" and entry.timestamp == NOW
    assert entry.message == f"3 images would cost $0.006; hash {receipt.batch_hash[:12]}"
    assert "server estimated" not in entry.message


def test_after_dry_run_notes_a_differing_server_estimate():
    """When the server's estimate differs from our count, the log line shows both."""
    state = after_dry_run(WorkflowState(), "batch", ROWS, dry_run_result("0.004"), now=NOW)
    assert "3 images would cost $0.006 (the server estimated $0.004)" in last(state).message


def test_after_dry_run_without_a_server_estimate_uses_singular_wording():
    """One image and no server estimate: '1 image would cost $0.002', no server note."""
    one = (BatchRow(scene_id="S", prompt="p", variants=1),)
    state = after_dry_run(WorkflowState(), "single", one, dry_run_result(None), now=NOW)
    assert last(state).message.startswith("1 image would cost $0.002; hash ")
    assert "server" not in last(state).message


# --- after_images -----------------------------------------------------------------------


def test_after_images_completed_records_images_cost_and_one_summary_line():
    """Every row back: images per scene, submission completed at our count, one summary line."""
    state, hash_ = submitted()
    outcome = ImageRunResult(live=live(done_job("A", 2), done_job("B", 1), reported="0.006"))
    new = after_images(state, hash_, ROWS, outcome, now=LATER)
    assert [i.url for i in new.images["A"]] == ["https://cdn.test/A/1.png", "https://cdn.test/A/2.png"]
    assert new.images["B"][0].prompt == "hallway"
    sub = new.submissions[hash_]
    assert (sub.state, sub.actual_cost, sub.batch_id) == ("completed", Decimal("0.006"), "batch_9_live")
    assert sub.finished_at == LATER and sub.message == "every row completed"
    assert sub.produced == 3
    assert len(new.log) == len(state.log) + 1
    assert (last(new).status, last(new).message) == (
        "completed", "3 images; every row completed; cost $0.006 by our count")


def test_after_images_partial_logs_each_failed_row_with_its_error():
    """A failed row gets its own 'failed' line carrying the server's per-row error."""
    state, hash_ = submitted()
    outcome = ImageRunResult(live=live(done_job("A", 2), failed_job("B", "safety filter hit")))
    new = after_images(state, hash_, ROWS, outcome, now=LATER)
    assert new.submissions[hash_].state == "partial"
    assert new.submissions[hash_].actual_cost == Decimal("0.004")
    failed_line, summary = new.log[-2:]
    assert (failed_line.status, failed_line.scene_id, failed_line.message) == (
        "failed", "B", "safety filter hit")
    assert summary.message == "2 images; 1 of 2 rows failed; cost $0.004 by our count"
    assert "B" not in new.images


def test_after_images_rejected_row_is_named_and_unexplained_row_says_no_image():
    """A rejected scene reads 'rejected by the server'; a silent missing row 'no image returned'."""
    rows = ROWS + (BatchRow(scene_id="C", prompt="porch", variants=1),)
    state, hash_ = submitted(rows)
    outcome = ImageRunResult(live=live(done_job("A", 2), rejected=("B",)))
    new = after_images(state, hash_, rows, outcome, now=LATER)
    by_scene = {e.scene_id: e.message for e in new.log if e.status == "failed"}
    assert by_scene == {"B": "rejected by the server", "C": "no image returned"}
    assert new.submissions[hash_].message == "2 of 3 rows failed"


def test_after_images_with_no_images_is_failed_and_costs_nothing():
    """No image at all: submission failed, $0.00 counted, a failed line per row."""
    state, hash_ = submitted()
    outcome = ImageRunResult(live=live(failed_job("A"), failed_job("B")))
    new = after_images(state, hash_, ROWS, outcome, now=LATER)
    sub = new.submissions[hash_]
    assert (sub.state, sub.actual_cost, sub.message) == ("failed", Decimal("0"), "no images came back")
    assert [(e.scene_id, e.message) for e in new.log if e.status == "failed" and e.scene_id] == [
        ("A", "no image returned"), ("B", "no image returned")]
    assert last(new).message == "0 images; no images came back; cost $0.00 by our count"


def test_after_images_batch_level_error_from_async_final_reaches_each_failed_row():
    """An async final status carrying a batch error puts that error on every failed row."""
    state, hash_ = submitted()
    outcome = ImageRunResult(
        live=live(pending=True, batch_id="job_1_q"),
        final=final("job_1_q", JobStatus.FAILED, error="model overloaded"),
    )
    new = after_images(state, hash_, ROWS, outcome, now=LATER)
    assert [(e.scene_id, e.message) for e in new.log[-3:-1]] == [
        ("A", "model overloaded"), ("B", "model overloaded")]
    assert all(e.job_id == "job_1_q" for e in new.log[-3:])
    assert new.submissions[hash_].state == "failed"


def test_after_images_per_row_error_wins_over_the_batch_error():
    """A row's own error is kept even when the final status also carries a batch error."""
    state, hash_ = submitted()
    outcome = ImageRunResult(
        live=live(done_job("A", 2), failed_job("B", "row B exploded")),
        final=StatusResult(job_id="q", status=JobStatus.COMPLETED, status_word="completed",
                           images=(ImageOut(url="https://cdn.test/A/1.png", scene_id="A"),),
                           error="something else"),
    )
    new = after_images(state, hash_, ROWS, outcome, now=LATER)
    assert [(e.scene_id, e.message) for e in new.log if e.status == "failed"] == [("B", "row B exploded")]


def test_after_images_timed_out_stays_billed_and_keeps_what_arrived():
    """Polling gave up: still billed (accepted, offered a fetch), and the images already
    returned are recorded."""
    state, hash_ = submitted()
    partial_final = StatusResult(job_id="job_2_q", status=JobStatus.RUNNING, status_word="running",
                                 progress=0.5, images=(ImageOut(url="https://cdn.test/A/1.png",
                                                                scene_id="A"),))
    outcome = ImageRunResult(live=live(pending=True, batch_id="job_2_q"), final=partial_final,
                             timed_out=True)
    new = after_images(state, hash_, ROWS, outcome, now=LATER)
    sub = new.submissions[hash_]
    assert sub.state == "accepted" and sub.stalled
    assert sub.fetch_problem.startswith("billed — results not fetched yet")
    assert [i.url for i in new.images["A"]] == ["https://cdn.test/A/1.png"]
    assert last(new).status == "not_fetched"


def test_after_images_shows_a_differing_server_reported_cost_but_counts_ours():
    """The server's actualCost is shown beside ours when it differs; ours is what is recorded."""
    state, hash_ = submitted()
    outcome = ImageRunResult(live=live(done_job("A", 2), done_job("B", 1), reported="0.004"))
    new = after_images(state, hash_, ROWS, outcome, now=LATER)
    assert last(new).message.endswith("cost $0.006 by our count (the server reported $0.004)")
    assert new.submissions[hash_].actual_cost == Decimal("0.006")


def test_after_images_keeps_earlier_takes_and_their_approvals():
    """A new batch for a scene adds a take after the earlier one (earlier paid images are
    never hidden); approvals stay while their image does."""
    state, hash_ = submitted()
    state = record_images(state, [image("A"), image("Z")])
    state = approve(approve(state, image("A"), NOW), image("Z"), NOW)
    new = after_images(state, hash_, ROWS, ImageRunResult(live=live(done_job("A", 2))), now=LATER)
    assert set(new.approvals) == {"A", "Z"}
    assert new.images["A"][0] == image("A") and len(new.images["A"]) == 3


def test_the_same_take_fetched_again_replaces_itself():
    """Recording a batch's images twice (fetched again) leaves one copy of that take."""
    state, hash_ = submitted()
    once = after_images(state, hash_, ROWS, ImageRunResult(live=live(done_job("A", 2))), now=LATER)
    twice = record_images(once, once.images["A"])
    assert twice.images["A"] == once.images["A"]


# --- after_image_error --------------------------------------------------------------------


def test_after_image_error_outcome_unknown_keeps_the_message_and_hash():
    """OutcomeUnknown marks the submission outcome_unknown with the error's own words."""
    state, hash_ = submitted()
    error = OutcomeUnknown(f"no answer; check batch hash {hash_}", batch_hash=hash_)
    new = after_image_error(state, hash_, error, now=LATER)
    sub = new.submissions[hash_]
    assert (sub.state, sub.message, sub.finished_at) == ("outcome_unknown", str(error), LATER)
    assert (last(new).status, last(new).job_id, last(new).message) == (
        "outcome_unknown", hash_[:12], str(error))


def test_after_image_error_unreadable_paid_answer_with_hash_is_outcome_unknown():
    """A ResponseFormatError carrying the batch hash (a paid answer we could not read) is outcome unknown."""
    state, hash_ = submitted()
    error = ResponseFormatError("unreadable answer; probably billed")
    error.batch_hash = hash_  # as the client sets it on a paid call
    assert after_image_error(state, hash_, error).submissions[hash_].state == "outcome_unknown"


def test_after_image_error_unreadable_answer_without_hash_is_outcome_unknown():
    """A ResponseFormatError without a batch hash is still an answer we cannot read:
    outcome unknown (never assumed unbilled)."""
    state, hash_ = submitted()
    new = after_image_error(state, hash_, ResponseFormatError("bad shape"), now=LATER)
    assert (new.submissions[hash_].state, new.submissions[hash_].message) == (
        "outcome_unknown", "bad shape")


def test_after_image_error_501_says_nothing_was_billed():
    """NotImplementedByBackend fails the submission with a 501 explanation and the server's words."""
    state, hash_ = submitted()
    error = NotImplementedByBackend("Video generation is not yet implemented", status=501)
    new = after_image_error(state, hash_, error, now=LATER)
    message = new.submissions[hash_].message
    assert new.submissions[hash_].state == "rejected"
    assert "501 Not Implemented" in message and "nothing was billed" in message
    assert message.endswith("Video generation is not yet implemented")
    assert last(new).message == message


def test_after_image_error_other_batch_studio_error_uses_its_message():
    """A server error answer (e.g. 402 budget) rejects the submission, quoting the server."""
    state, hash_ = submitted()
    error = BudgetExceeded("Budget Exceeded: the daily budget is used up.", status=402)
    new = after_image_error(state, hash_, error, now=LATER)
    assert new.submissions[hash_].state == "rejected"
    assert new.submissions[hash_].message.startswith(str(error))


def test_after_image_error_unexpected_exception_names_only_its_type():
    """A non-BatchStudioError names only its type (outcome unknown); its text never reaches state or log."""
    state, hash_ = submitted()
    leak = "internal detail /srv/secret-path token=abc123"
    new = after_image_error(state, hash_, TypeError(leak), now=LATER)
    assert new.submissions[hash_].message.startswith("Unexpected error (TypeError)")
    assert new.submissions[hash_].state == "outcome_unknown"
    assert last(new).message.startswith("Unexpected error (TypeError)")
    assert leak not in new.model_dump_json()


# --- plan_videos and video_batch_hash ------------------------------------------------------


def test_plan_videos_rejects_an_unknown_model():
    """An unknown video model raises ValueError naming it."""
    with pytest.raises(ValueError, match="'sora'"):
        plan_videos(approved_state("A"), "sora")


def test_plan_videos_one_clip_per_approval_in_result_order_with_exact_cost():
    """One item per approved scene, in result order, prompt/url/settings copied, cost = price × clips."""
    plan = plan_videos(approved_state("B", "A"), "veo3", "9:16", 1080)
    assert [i.scene_id for i in plan.items] == ["B", "A"]
    first = plan.items[0]
    assert (first.prompt, first.approved_image_url, first.veo_model, first.aspect, first.resolution) == (
        "prompt of B", "https://cdn.test/B/1.png", "veo3", "9:16", 1080)
    assert plan.clips == 2 and plan.cost == Decimal("1.00") and plan.model == "veo3"


def test_plan_videos_uses_the_scene_id_when_the_image_has_no_prompt():
    """An approved image without a prompt is animated with its scene id as the prompt."""
    plan = plan_videos(approved_state("A", prompts=False))
    assert plan.items[0].prompt == "A" and plan.cost == Decimal("0.10")


def test_plan_videos_without_approvals_is_empty_and_free():
    """No approvals: zero clips, zero cost."""
    plan = plan_videos(WorkflowState())
    assert plan.clips == 0 and plan.cost == Decimal("0")


def test_video_batch_hash_is_stable_and_changes_with_what_is_sent():
    """The same plan always hashes the same; another model or another approval changes it."""
    state = approved_state("A", "B")
    base = video_batch_hash(plan_videos(state))
    assert base == video_batch_hash(plan_videos(approved_state("A", "B")))
    assert len(base) == 64 and int(base, 16) >= 0
    assert base != video_batch_hash(plan_videos(state, "veo3"))
    assert base != video_batch_hash(plan_videos(approved_state("A")))


def done_videos(*scenes: str, model: str = "veo3_fast") -> WorkflowState:
    """``scenes`` approved, and a clip of each approved image made."""
    state, hash_, _ = videos_submitted(*scenes, model=model)
    sub = state.submissions[hash_].model_copy(update={"state": "completed"})
    return state.model_copy(update={"submissions": {hash_: sub}, "videos": {
        k: v.model_copy(update={"status": "done", "url": f"https://cdn.test/{k}.mp4"})
        for k, v in state.videos.items()}})


def test_plan_videos_leaves_out_approved_images_that_have_a_clip():
    """A made clip is not planned again by default, whatever the model; it is said as left out."""
    state = done_videos("A", "B")
    for model in ("veo3_fast", "veo3"):
        plan = plan_videos(state, model)
        assert (plan.clips, plan.cost, plan.left_out) == (0, Decimal("0"), ("A", "B"))


def test_plan_videos_makes_a_chosen_clip_again_and_hashes_it_apart():
    """Choosing a made clip plans it again, priced, with a hash no earlier plan had."""
    state = done_videos("A", "B")
    plan = plan_videos(state, "veo3", again=["B"])
    assert [i.scene_id for i in plan.items] == ["B"]
    assert plan.cost == Decimal("0.50") and plan.left_out == ("A",)
    first = plan_videos(approved_state("B"), "veo3")
    assert video_batch_hash(plan) != video_batch_hash(first)
    assert video_batch_hash(plan) == video_batch_hash(plan_videos(state, "veo3", again=["B"]))


def test_a_new_pick_of_a_scene_with_a_clip_is_planned():
    """A clip of an earlier pick does not count: the newly approved image gets its own clip."""
    state = done_videos("A")
    other = image("A").model_copy(update={"variant": 2, "url": "https://cdn.test/A/2.png"})
    state = approve(record_images(state, [other]), other, NOW)
    plan = plan_videos(state)
    assert [i.approved_image_url for i in plan.items] == ["https://cdn.test/A/2.png"]


@pytest.mark.parametrize("status, word", [("submitting", "in_flight"), ("queued", "in_flight"),
                                          ("outcome_unknown", "unknown"), ("error", "failed")])
def test_clips_in_flight_or_unknown_are_never_offered_and_failed_ones_are(status, word):
    """In flight or unknown: left out even when chosen; failed: sent again by default."""
    state, _, _ = videos_submitted("A")
    state = state.model_copy(update={
        "videos": {"A": state.videos["A"].model_copy(update={"status": status})},
        "submissions": {}})
    (choice,) = video_choices(state)
    assert choice.clip == word
    plan = plan_videos(state, again=["A"])
    assert plan.clips == (1 if word == "failed" else 0)


def test_begin_video_submission_says_when_every_scene_has_a_clip():
    """Confirming an empty plan because every clip exists says so, rather than 'approve'."""
    state = done_videos("A")
    with pytest.raises(ConfirmationMismatch, match="already has a clip"):
        begin_video_submission(state, plan_videos(state), "0", NOW)


def test_a_deliberate_second_purchase_is_sent_once():
    """The clip made again is a new submission; the same choice again is refused as sent."""
    state = done_videos("A")
    plan = plan_videos(state, again=["A"])
    new, hash_ = begin_video_submission(state, plan, "1", NOW)
    assert new.videos["A"].status == "submitting" and new.videos["A"].batch_hash == hash_
    with pytest.raises(AlreadySubmitted):
        begin_video_submission(new, plan, "1", NOW)


# --- begin_video_submission ----------------------------------------------------------------


def test_begin_video_submission_refuses_zero_clips():
    """Without an approved image the submission is refused before anything else."""
    with pytest.raises(ConfirmationMismatch, match="Approve at least one image"):
        begin_video_submission(WorkflowState(), plan_videos(WorkflowState()), "0", NOW)


@pytest.mark.parametrize("typed", ["", "1", "two", "2 clips", None])
def test_begin_video_submission_refuses_a_wrong_typed_count(typed):
    """Anything but the exact clip count in digits is refused with the expected count named."""
    state = approved_state("A", "B")
    with pytest.raises(ConfirmationMismatch, match=r"\(2\)"):
        begin_video_submission(state, plan_videos(state), typed, NOW)


def test_begin_video_submission_marks_clips_submitting_and_logs_the_cost():
    """Success: an in-flight video submission, one 'submitting' clip per scene, one log line."""
    state = approved_state("A", "B")
    plan = plan_videos(state)
    new, hash_ = begin_video_submission(state, plan, " 2 ", NOW, runner="host:9:xyz")
    assert hash_ == video_batch_hash(plan)
    sub = new.submissions[hash_]
    assert (sub.kind, sub.state, sub.cost, sub.started_at, sub.runner) == (
        "videos", "reserved", Decimal("0.20"), NOW, "host:9:xyz")
    assert {k: (v.status, v.batch_hash, v.image_url, v.model) for k, v in new.videos.items()} == {
        "A": ("submitting", hash_, "https://cdn.test/A/1.png", "veo3_fast"),
        "B": ("submitting", hash_, "https://cdn.test/B/1.png", "veo3_fast")}
    assert (last(new).status, last(new).job_id, last(new).message) == (
        "submitted", hash_[:12], "2 clips with veo3_fast, $0.20")


def test_begin_video_submission_single_clip_wording():
    """One clip is logged as '1 clip', not '1 clips'."""
    new, _ = videos_submitted("A", model="veo3")[:2]
    assert last(new).message == "1 clip with veo3, $0.50"


def test_begin_video_submission_refuses_while_videos_are_in_flight():
    """A second video submission is refused while one is in flight, even for other clips."""
    state, _, _ = videos_submitted("A", "B")
    other = plan_videos(state, "veo3")
    with pytest.raises(AlreadySubmitted, match="already being generated"):
        begin_video_submission(state, other, "2", NOW)


@pytest.mark.parametrize("outcome", ["completed", "partial", "outcome_unknown"])
def test_begin_video_submission_refuses_the_same_plan_again(outcome):
    """The exact clips already completed, partly done or of unknown outcome cannot be sent again."""
    state, hash_, plan = videos_submitted("A", "B")
    subs = {hash_: state.submissions[hash_].model_copy(update={"state": outcome})}
    done = state.model_copy(update={"submissions": subs})
    with pytest.raises(AlreadySubmitted, match="already submitted"):
        begin_video_submission(done, plan, "2", NOW)


def test_begin_video_submission_allows_the_same_plan_after_a_failure():
    """A plan whose earlier submission failed (nothing billed) may be submitted again."""
    state, hash_, plan = videos_submitted("A", "B")
    subs = {hash_: state.submissions[hash_].model_copy(update={"state": "failed"})}
    again, again_hash = begin_video_submission(state.model_copy(update={"submissions": subs}),
                                               plan, "2", LATER)
    assert again_hash == hash_ and again.submissions[hash_].state == "reserved"
    assert again.submissions[hash_].started_at == LATER


def test_after_videos_completed_takes_urls_from_the_final_outputs():
    """Every clip done: URLs come from the final status outputs, the submission is completed."""
    state, hash_, _ = videos_submitted("A", "B")
    outcome = VideoRunResult(
        batch=video_batch(video_job("A", url="https://stale/A.mp4"), video_job("B")),
        finals={"v-A": final("v-A", JobStatus.COMPLETED, outputs=("https://cdn.test/A.mp4",)),
                "v-B": final("v-B", JobStatus.COMPLETED, outputs=("https://cdn.test/B.mp4",))},
    )
    new = after_videos(state, hash_, outcome, now=LATER)
    clips = {k: (v.status, v.url, v.job_id, v.batch_id) for k, v in new.videos.items()}
    assert clips == {"A": ("done", "https://cdn.test/A.mp4", "v-A", "batch_7_vid"),
                     "B": ("done", "https://cdn.test/B.mp4", "v-B", "batch_7_vid")}
    sub = new.submissions[hash_]
    assert (sub.state, sub.actual_cost, sub.batch_id, sub.message) == (
        "completed", Decimal("0.20"), "batch_7_vid", "2 clip(s) ready")
    assert (last(new).status, last(new).message) == ("completed", "2 of 2 clips ready; cost $0.20")


def test_after_videos_partial_keeps_each_failed_clips_error():
    """One clip failed: it shows 'error' with the server's error; the submission is partial."""
    state, hash_, _ = videos_submitted("A", "B")
    outcome = VideoRunResult(
        batch=video_batch(video_job("A"), video_job("B")),
        finals={"v-A": final("v-A", JobStatus.COMPLETED, outputs=("https://cdn.test/A.mp4",)),
                "v-B": final("v-B", JobStatus.FAILED, error="veo refused the image")},
    )
    new = after_videos(state, hash_, outcome, now=LATER)
    assert (new.videos["B"].status, new.videos["B"].error, new.videos["B"].url) == (
        "error", "veo refused the image", "")
    assert new.submissions[hash_].state == "partial"
    assert new.submissions[hash_].produced == 1
    assert last(new).message == ("1 of 2 clips ready; cost $0.20, counting the failed clip in "
                                 "case it was billed")


def test_after_videos_all_failed_or_canceled_is_failed_but_still_counted():
    """No clip done (failed, canceled): submission failed; accepted clips are still counted as spent."""
    state, hash_, _ = videos_submitted("A", "B")
    outcome = VideoRunResult(
        batch=video_batch(video_job("A"), video_job("B")),
        finals={"v-A": final("v-A", JobStatus.FAILED),
                "v-B": final("v-B", JobStatus.CANCELED)},
    )
    new = after_videos(state, hash_, outcome, now=LATER)
    assert [new.videos[s].status for s in "AB"] == ["error", "error"]
    assert new.submissions[hash_].state == "failed"
    assert new.submissions[hash_].actual_cost == Decimal("0.20")


def test_after_videos_failed_answer_error_is_kept_without_a_final_status():
    """A clip the server failed at once (no poll) keeps the answer's own error."""
    state, hash_, _ = videos_submitted("A")
    outcome = VideoRunResult(batch=video_batch(video_job("A", JobStatus.FAILED, error="bad image"),
                                               pending=False))
    new = after_videos(state, hash_, outcome, now=LATER)
    assert (new.videos["A"].status, new.videos["A"].error) == ("error", "bad image")


def test_after_videos_uses_the_answers_url_when_there_was_no_poll():
    """A clip answered completed with its URL (never polled) is done with that URL."""
    state, hash_, _ = videos_submitted("A")
    outcome = VideoRunResult(batch=video_batch(
        video_job("A", JobStatus.COMPLETED, url="https://cdn.test/sync-A.mp4"), pending=False))
    new = after_videos(state, hash_, outcome, now=LATER)
    assert (new.videos["A"].status, new.videos["A"].url) == ("done", "https://cdn.test/sync-A.mp4")
    assert new.submissions[hash_].state == "completed"


def test_after_videos_completed_without_url_is_not_done():
    """A clip reported completed but with no URL is an error that says so, not ready."""
    state, hash_, _ = videos_submitted("A")
    outcome = VideoRunResult(batch=video_batch(video_job("A"), pending=True),
                             finals={"v-A": final("v-A", JobStatus.COMPLETED)})
    new = after_videos(state, hash_, outcome, now=LATER)
    assert new.videos["A"].status == "error" and new.videos["A"].url == ""
    assert "without a video URL" in new.videos["A"].error
    assert new.submissions[hash_].state == "failed"


def test_after_videos_timed_out_stays_billed_with_each_clips_last_state():
    """Polling gave up: still billed (offered a fetch); a polled clip shows its last status,
    an unpolled one 'queued'."""
    state, hash_, _ = videos_submitted("A", "B")
    outcome = VideoRunResult(
        batch=video_batch(video_job("A"), video_job("B")),
        finals={"v-A": final("v-A", JobStatus.RUNNING)}, timed_out=True,
    )
    new = after_videos(state, hash_, outcome, now=LATER)
    assert [new.videos[s].status for s in "AB"] == ["running", "queued"]
    assert new.submissions[hash_].state == "accepted" and new.submissions[hash_].stalled
    assert last(new).status == "not_fetched"


def test_after_videos_with_no_jobs_is_failed_and_costs_nothing():
    """A video answer with no jobs at all: failed, $0.00, the planned clip marked not accepted."""
    state, hash_, _ = videos_submitted("A")
    new = after_videos(state, hash_, VideoRunResult(batch=video_batch(pending=False)), now=LATER)
    assert new.submissions[hash_].state == "failed"
    assert new.submissions[hash_].actual_cost == Decimal("0")
    assert last(new).message == "0 of 1 clips ready; cost $0.00"
    assert new.videos["A"].status == "error" and "did not accept" in new.videos["A"].error


def test_after_videos_counts_only_the_clips_the_server_accepted():
    """Two clips planned but one accepted: the recorded cost is one clip's price, not two."""
    state, hash_, _ = videos_submitted("A", "B")
    outcome = VideoRunResult(
        batch=video_batch(video_job("A")),
        finals={"v-A": final("v-A", JobStatus.COMPLETED, outputs=("https://cdn.test/A.mp4",))},
    )
    new = after_videos(state, hash_, outcome, now=LATER)
    assert new.submissions[hash_].actual_cost == Decimal("0.10")
    assert new.submissions[hash_].state == "partial"
    assert new.videos["B"].status == "error" and "did not accept" in new.videos["B"].error


# --- after_video_error ----------------------------------------------------------------------


def test_after_video_error_outcome_unknown_marks_only_this_batchs_submitting_clips():
    """OutcomeUnknown: this batch's submitting clips become outcome_unknown; other clips are untouched."""
    state, hash_, _ = videos_submitted("A", "B")
    other = VideoClip(scene_id="Z", batch_hash="f" * 64, status="submitting")
    done = VideoClip(scene_id="B", batch_hash=hash_, status="done", url="https://cdn.test/B.mp4")
    state = state.model_copy(update={"videos": {**state.videos, "Z": other, "B": done}})
    error = OutcomeUnknown(f"no answer for {hash_}", batch_hash=hash_)
    new = after_video_error(state, hash_, error, now=LATER)
    assert (new.videos["A"].status, new.videos["A"].error) == ("outcome_unknown", str(error))
    assert new.videos["Z"] == other and new.videos["B"] == done
    assert new.submissions[hash_].state == "outcome_unknown"


def test_after_video_error_501_marks_clips_error_with_the_explanation():
    """A 501 fails the submission and every submitting clip shows 'error' with the 501 explanation."""
    state, hash_, _ = videos_submitted("A", "B")
    error = NotImplementedByBackend("Video generation is not yet implemented", status=501)
    new = after_video_error(state, hash_, error, now=LATER)
    message = new.submissions[hash_].message
    assert "nothing was billed" in message
    assert {v.status for v in new.videos.values()} == {"error"}
    assert {v.error for v in new.videos.values()} == {message}
    assert new.submissions[hash_].state == "rejected" and last(new).status == "rejected"


# --- drain_events ----------------------------------------------------------------------------


def test_drain_events_appends_only_new_lines_and_moves_the_cursor():
    """Each call appends the events produced since the previous call, once."""
    state, hash_ = submitted()
    job = Job(key=hash_, kind="images")
    job.events += [log_entry("submitted", "2 rows", now=NOW), log_entry("queued", "q", now=NOW)]
    once = drain_events(state, job)
    assert [e.status for e in once.log[len(state.log):]] == ["submitted", "queued"]
    assert job.cursor == 2
    assert drain_events(once, job) == once  # nothing new
    job.events.append(log_entry("running", "50%", now=NOW))
    twice = drain_events(once, job)
    assert [e.message for e in twice.log[len(state.log):]] == ["2 rows", "q", "50%"]
    assert job.cursor == 3


def test_drain_events_copies_poll_ids_to_the_submission_and_the_clips():
    """Server job ids land in the submission and on this batch's submitting clips (now 'queued')."""
    state, hash_, _ = videos_submitted("A", "B")
    foreign = VideoClip(scene_id="Z", batch_hash="f" * 64, status="submitting")
    state = state.model_copy(update={"videos": {**state.videos, "Z": foreign}})
    job = Job(key=hash_, kind="videos")
    job.poll_ids = {"job_1_a": "A", "job_1_b": "B", "job_1_whole": ""}
    new = drain_events(state, job)
    assert new.submissions[hash_].poll_ids == job.poll_ids
    assert new.submissions[hash_].poll_ids is not job.poll_ids  # a copy, not the live dict
    assert {k: (v.job_id, v.status) for k, v in new.videos.items()} == {
        "A": ("job_1_a", "queued"), "B": ("job_1_b", "queued"), "Z": ("", "submitting")}
    assert drain_events(new, job) == new  # already copied: unchanged


def test_drain_events_does_not_reset_a_clip_that_moved_on():
    """A clip no longer 'submitting' keeps its status and job id when poll ids arrive."""
    state, hash_, _ = videos_submitted("A")
    moved = state.videos["A"].model_copy(update={"status": "running", "job_id": "job_0_old"})
    state = state.model_copy(update={"videos": {"A": moved}})
    job = Job(key=hash_, kind="videos", poll_ids={"job_1_a": "A"})
    assert drain_events(state, job).videos["A"] == moved


def test_drain_events_for_an_unknown_key_only_appends_lines():
    """A job whose key has no submission adds its lines and changes nothing else."""
    state, _ = submitted()
    job = Job(key="0" * 64, kind="images", poll_ids={"job_1_x": ""})
    job.events.append(log_entry("queued", "q", now=NOW))
    new = drain_events(state, job)
    assert new.submissions == state.submissions and last(new).message == "q"


# --- apply_job -------------------------------------------------------------------------------


def test_apply_job_images_done_drains_then_records_the_result():
    """A finished image job: its remaining lines, then the images and the completed submission."""
    state, hash_ = submitted()
    job = Job(key=hash_, kind="images", state="done",
              result=ImageRunResult(live=live(done_job("A", 2), done_job("B", 1))))
    job.events.append(log_entry("completed", "2 images", job_id="j-A", scene_id="A", now=NOW))
    new = apply_job(state, job, ROWS, now=LATER)
    assert [e.status for e in new.log[len(state.log):]] == ["completed", "completed"]
    assert new.log[-2].message == "2 images"
    assert new.submissions[hash_].state == "completed" and len(new.images) == 2


def test_apply_job_images_error_records_the_failure():
    """An image job that raised is folded in as failed (or unknown) with the error's message."""
    state, hash_ = submitted()
    job = Job(key=hash_, kind="images", state="error",
              error=OutcomeUnknown("read timeout after sending", batch_hash=hash_))
    new = apply_job(state, job, ROWS, now=LATER)
    assert new.submissions[hash_].state == "outcome_unknown"
    assert new.submissions[hash_].message == "read timeout after sending"


def test_apply_job_videos_done_records_the_clips():
    """A finished video job records its clips and the submission."""
    state, hash_, _ = videos_submitted("A")
    result = VideoRunResult(batch=video_batch(video_job("A")),
                            finals={"v-A": final("v-A", JobStatus.COMPLETED,
                                                 outputs=("https://cdn.test/A.mp4",))})
    job = Job(key=hash_, kind="videos", state="done", result=result)
    new = apply_job(state, job, now=LATER)
    assert new.videos["A"].status == "done" and new.submissions[hash_].state == "completed"


def test_apply_job_videos_error_marks_the_clips():
    """A video job that raised fails the submission and its clips."""
    state, hash_, _ = videos_submitted("A")
    job = Job(key=hash_, kind="videos", state="error", error=RuntimeError("boom"))
    new = apply_job(state, job, now=LATER)
    assert new.submissions[hash_].message.startswith("Unexpected error (RuntimeError)")
    assert new.videos["A"].status == "outcome_unknown"
    assert new.videos["A"].error.startswith("Unexpected error (RuntimeError)")


# --- reconcile_orphans -----------------------------------------------------------------------


def _with_submissions(*subs: Submission, videos: dict[str, VideoClip] | None = None) -> WorkflowState:
    return WorkflowState(submissions={s.batch_hash: s for s in subs}, videos=videos or {})


def _sub(hash_char: str, kind: str = "images", **kw) -> Submission:
    kw.setdefault("state", "sent")
    return Submission(batch_hash=hash_char * 64, kind=kind, cost=Decimal("0.10"), started_at=NOW, **kw)


def test_reconcile_orphans_skips_running_and_alive_submissions():
    """A submission this process still runs, or another process may run, is left alone."""
    running, elsewhere = _sub("a"), _sub("b", runner="other-host:1:x")
    state = _with_submissions(running, elsewhere)
    new, resumable = reconcile_orphans(state, {running.batch_hash}, NOW,
                                       alive=lambda s: s.runner == "other-host:1:x")
    assert new == state and resumable == []


def test_reconcile_orphans_returns_submissions_with_poll_ids_to_resume():
    """An orphan the server gave job ids for is returned to be polled again, unchanged."""
    sub = _sub("c", poll_ids={"job_1_q": ""})
    state = _with_submissions(sub)
    new, resumable = reconcile_orphans(state, set(), NOW)
    assert resumable == [sub] and new == state


def test_reconcile_orphans_marks_a_cut_off_paid_call_outcome_unknown():
    """An orphan without job ids is outcome unknown, saying it may be billed and was not resent."""
    sub = _sub("d")
    finished = _sub("e").model_copy(update={"state": "completed"})
    state = _with_submissions(sub, finished)
    new, resumable = reconcile_orphans(state, set(), LATER, alive=lambda s: False)
    assert resumable == []
    after = new.submissions[sub.batch_hash]
    assert after.state == "outcome_unknown" and after.finished_at == LATER
    assert "d" * 12 in after.message and "Nothing was resent" in after.message
    assert "may or may not have been processed and billed" in after.message
    assert new.submissions[finished.batch_hash] == finished
    assert last(new).status == "outcome_unknown"


def test_reconcile_orphans_marks_unfinished_clips_of_an_orphaned_video_call():
    """For an orphaned video call its submitting/queued/running clips become outcome_unknown; done ones stay."""
    sub = _sub("f", kind="videos")
    h = sub.batch_hash
    clips = {
        "A": VideoClip(scene_id="A", batch_hash=h, status="submitting"),
        "B": VideoClip(scene_id="B", batch_hash=h, status="queued"),
        "C": VideoClip(scene_id="C", batch_hash=h, status="running"),
        "D": VideoClip(scene_id="D", batch_hash=h, status="done", url="https://cdn.test/D.mp4"),
        "E": VideoClip(scene_id="E", batch_hash="0" * 64, status="queued"),
    }
    new, _ = reconcile_orphans(_with_submissions(sub, videos=clips), set(), NOW)
    assert {k: v.status for k, v in new.videos.items()} == {
        "A": "outcome_unknown", "B": "outcome_unknown", "C": "outcome_unknown",
        "D": "done", "E": "queued"}
    assert new.videos["A"].error == new.submissions[h].message
