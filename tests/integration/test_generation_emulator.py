"""run_images, run_videos and resume_polling against the in-process emulator.

Everything goes through the real OrchestratorClient and the emulator's HTTP transport, in
both server shapes: ``head`` (the real server: the live image call answers synchronously)
and ``brief`` (the live call is queued and its status polled). The emulator's clock never
moves and ``sleep`` does not wait, so each status poll advances a job by one step. What is
asserted is what a person would see (state, log lines) and what was billed (the ledger).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import stamina

from batchcore.adapters import worker
from batchcore.adapters.client import OrchestratorClient
from batchcore.adapters.jobs import Job, JobRunner
from batchcore.domain import outcomes
from batchcore.domain.pricing import PRICE_PER_IMAGE
from batchcore.domain.rows import BatchRow
from batchcore.domain.workflow import (
    Draft,
    WorkflowState,
    approve,
    begin_image_submission,
    current_hash,
)
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.errors import NotImplementedByBackend, OutcomeUnknown, ResponseFormatError
from batchcore.wire.models import JobStatus
from tests.conftest import fake_key

UTC = timezone.utc
BASE = "https://emulator.local"
NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
ROWS = (
    BatchRow(scene_id="A", prompt="Modern kitchen with morning light", variants=2),
    BatchRow(scene_id="B", prompt="Cozy living room with fireplace", variants=1),
)
PROFILES = ["head", "brief"]


def no_sleep(seconds: float) -> None:
    """Polling never waits in these tests (the emulator advances a job on every poll)."""


@pytest.fixture(autouse=True)
def no_waiting():
    """stamina's testing mode: no backoff sleeping on retries."""
    with stamina.set_testing(True, attempts=4):
        yield


def make(**config) -> tuple[Emulator, OrchestratorClient]:
    emu = Emulator(EmulatorConfig(now=lambda: NOW, sleep=no_sleep, **config))
    client = OrchestratorClient(BASE, fake_key("g"), transport=EmulatorTransport(emu))
    return emu, client


def submit_images(
    client: OrchestratorClient, rows: Sequence[BatchRow] = ROWS
) -> tuple[WorkflowState, str]:
    """Dry-run through the client, keep the receipt, and consume it for one live submission."""
    state = WorkflowState(draft=Draft(mode="batch", rows=tuple(rows)))
    hash_ = current_hash(state, NOW)
    result = client.dry_run_images(rows, batch_hash=hash_)
    state = outcomes.after_dry_run(state, "batch", rows, result, now=NOW)
    state, _ = begin_image_submission(state, hash_, NOW, runner="test")
    return state, hash_


def run_images(client, rows, hash_, **kw) -> Job:
    job = Job(key=hash_, kind="images")
    job.result = worker.run_images(client, rows, hash_, job, poll_every=0.01, sleep=no_sleep, **kw)
    job.state = "done"
    return job


def statuses(job: Job) -> list[tuple[str, str, str]]:
    return [(e.status, e.scene_id, e.message) for e in job.events]


def approved_images(emu: Emulator, client: OrchestratorClient) -> WorkflowState:
    """Generate ROWS live (whatever the profile) and approve the first image of each scene."""
    state, hash_ = submit_images(client)
    state = outcomes.apply_job(state, run_images(client, ROWS, hash_), ROWS, now=NOW)
    assert state.submissions[hash_].state == "completed"
    for scene in ("A", "B"):
        state = approve(state, state.images[scene][0], NOW)
    return state


def submit_videos(
    state: WorkflowState, model: str = "veo3_fast"
) -> tuple[WorkflowState, str, outcomes.VideoPlan]:
    plan = outcomes.plan_videos(state, model)
    state, hash_ = outcomes.begin_video_submission(state, plan, str(plan.clips), NOW, runner="test")
    return state, hash_, plan


def run_videos(client, plan, hash_, **kw) -> Job:
    job = Job(key=hash_, kind="videos")
    job.result = worker.run_videos(client, plan, hash_, job, poll_every=0.01,
                                sleep=kw.pop("sleep", no_sleep), **kw)
    job.state = "done"
    return job


# --- live images ------------------------------------------------------------------------------


def test_head_run_images_records_every_scene_and_bills_each_image_once():
    """Synchronous live call: one line per row, images recorded, cost = ledger, billed once per row."""
    emu, client = make(profile="head")
    with client:
        state, hash_ = submit_images(client)
        assert emu.ledger.charges == []  # the dry-run cost nothing
        job = run_images(client, ROWS, hash_)
    assert job.result.final is None and not job.result.timed_out and job.poll_ids == {}
    assert [(s, scene, msg) for s, scene, msg in statuses(job)] == [
        ("submitted", "", "2 rows sent for live generation"),
        ("completed", "A", "2 images"),
        ("completed", "B", "1 image"),
    ]
    new = outcomes.apply_job(state, job, ROWS, now=NOW)
    assert {k: len(v) for k, v in new.images.items()} == {"A": 2, "B": 1}
    assert new.images["A"][0].prompt == ROWS[0].prompt and new.images["A"][0].url.startswith(BASE)
    sub = new.submissions[hash_]
    assert sub.state == "completed" and sub.actual_cost == emu.ledger.total() == Decimal("0.006")
    # One paid call: one charge per generated row, all under this hash and one server batch.
    charges = emu.ledger.charges
    assert [(c.scene_id, c.count) for c in charges] == [("A", 2), ("B", 1)]
    assert {c.batch_hash for c in charges} == {hash_} and len({c.batch_id for c in charges}) == 1
    # The server's wrong actualCost (2 rows × the first row's 2 variants: $0.008) is shown
    # beside our count.
    assert new.log[-1].message == ("3 images; every row completed; cost $0.006 by our count "
                                   "(the server reported $0.008)")


def test_head_run_images_partial_failure_logs_the_servers_row_error():
    """A row the server fails is logged with its error, the run is partial, and only returned images are billed."""
    emu, client = make(profile="head", fail_scenes=frozenset({"B"}))
    with client:
        state, hash_ = submit_images(client)
        job = run_images(client, ROWS, hash_)
    assert statuses(job)[2][:2] == ("failed", "B")
    assert "Image generation failed for B" in statuses(job)[2][2]
    new = outcomes.apply_job(state, job, ROWS, now=NOW)
    failed_lines = [e for e in new.log if e.status == "failed" and e.scene_id == "B"]
    assert failed_lines[-1].message.startswith("Image generation failed for B")
    sub = new.submissions[hash_]
    assert (sub.state, sub.message) == ("partial", "1 of 2 rows failed")
    assert sub.actual_cost == emu.ledger.total() == 2 * PRICE_PER_IMAGE
    assert set(new.images) == {"A"}


def test_head_run_images_timeout_after_accept_is_outcome_unknown_and_not_resent():
    """A live call processed but unanswered ends outcome unknown; the ledger shows it billed exactly once."""
    emu, client = make(profile="head")
    runner = JobRunner(max_workers=1)
    with client:
        state, hash_ = submit_images(client)
        emu.faults.add(route="/batch/images", kind="timeout_after_accept", times=1)
        assert runner.start(hash_, "images", lambda job: worker.run_images(
            client, ROWS, hash_, job, poll_every=0.01, sleep=no_sleep))
        job = runner.wait(hash_)
    runner.shutdown()
    assert job.state == "error" and isinstance(job.error, OutcomeUnknown)
    new = outcomes.apply_job(state, job, ROWS, now=NOW)
    sub = new.submissions[hash_]
    assert sub.state == "outcome_unknown" and hash_ in sub.message
    assert new.log[-1].status == "outcome_unknown"
    assert [(c.scene_id, c.batch_hash) for c in emu.ledger.charges] == [("A", hash_), ("B", hash_)]


def test_brief_run_images_polls_until_done_and_records_the_final_images():
    """Queued live call: the batch is polled, each new status word logged once, images come from the final status."""
    emu, client = make(profile="brief")
    with client:
        state, hash_ = submit_images(client)
        job = run_images(client, ROWS, hash_)
    result = job.result
    assert result.live.pending and result.final.status is JobStatus.COMPLETED and not result.timed_out
    (poll_id,) = job.poll_ids
    assert job.poll_ids == {poll_id: ""} and poll_id.startswith("job_")
    assert job.progress == 1.0
    # queued, running (0%), running (50%, same word: not logged again), completed
    assert statuses(job) == [
        ("submitted", "", "2 rows sent for live generation"),
        ("accepted", "", "the server accepted the batch (billed); fetching results"),
        ("queued", "", "queued 0%"),
        ("running", "", "running 0%"),
        ("completed", "", "completed 100%"),
    ]
    assert all(e.job_id == poll_id for e in job.events[1:])
    new = outcomes.apply_job(state, job, ROWS, now=NOW)
    assert new.submissions[hash_].poll_ids == {poll_id: ""}
    assert {k: len(v) for k, v in new.images.items()} == {"A": 2, "B": 1}
    assert new.submissions[hash_].state == "completed"
    assert new.submissions[hash_].actual_cost == emu.ledger.total() == Decimal("0.006")
    assert len(emu.ledger.charges) == 2 and {c.batch_hash for c in emu.ledger.charges} == {hash_}


def test_brief_run_images_batch_failure_is_failed_with_every_row_listed():
    """A queued batch whose every row fails ends failed, one failed line per row, nothing billed."""
    emu, client = make(profile="brief", fail_scenes=frozenset({"A", "B"}))
    with client:
        state, hash_ = submit_images(client)
        job = run_images(client, ROWS, hash_)
    assert job.result.final.status is JobStatus.FAILED
    new = outcomes.apply_job(state, job, ROWS, now=NOW)
    assert new.submissions[hash_].state == "failed"
    assert sorted(e.scene_id for e in new.log if e.status == "failed" and e.scene_id) == ["A", "B"]
    assert emu.ledger.charges == []


def test_brief_partial_failure_logs_the_servers_row_error():
    """In the queued shape too, a failed row's log line carries the server's error for that row."""
    emu, client = make(profile="brief", fail_scenes=frozenset({"B"}))
    with client:
        state, hash_ = submit_images(client)
        job = run_images(client, ROWS, hash_)
    assert job.result.final.failed_results[0].error.startswith("Image generation failed for B")
    new = outcomes.apply_job(state, job, ROWS, now=NOW)
    assert new.submissions[hash_].state == "partial"
    line = [e for e in new.log if e.status == "failed" and e.scene_id == "B"][-1]
    assert line.message.startswith("Image generation failed for B")


def test_brief_run_images_polling_timeout_stays_billed_and_fetchable():
    """poll_for=0: polling stops after one poll; the run stays accepted (billed, as the ledger
    shows) and is offered "Fetch results again", never a resend."""
    emu, client = make(profile="brief")
    with client:
        state, hash_ = submit_images(client)
        job = run_images(client, ROWS, hash_, poll_for=0)
    assert job.result.timed_out and job.result.final.status is JobStatus.QUEUED
    new = outcomes.apply_job(state, job, ROWS, now=NOW)
    sub = new.submissions[hash_]
    assert (sub.state, sub.stalled) == ("accepted", True)
    assert sub.fetch_problem.startswith("billed — results not fetched yet")
    assert emu.ledger.total() == Decimal("0.006")  # billed when accepted


# --- resume_polling (images) -------------------------------------------------------------------


def test_resume_polling_images_after_a_restart_finishes_without_sending_anything_paid():
    """A queued image batch cut off by a restart is polled again to completion; the ledger does not change."""
    emu, client = make(profile="brief")
    with client:
        state, hash_ = submit_images(client)
        first = Job(key=hash_, kind="images")
        worker.run_images(client, ROWS, hash_, first, poll_every=0.01, poll_for=0, sleep=no_sleep)
        # The page drained the job's lines (and its job id) while it ran; then the process died.
        state = outcomes.drain_events(state, first)
        assert state.submissions[hash_].state == "accepted"
        assert state.submissions[hash_].poll_ids == first.poll_ids

        state, resumable = outcomes.reconcile_orphans(state, set(), NOW, alive=lambda s: False)
        assert [s.batch_hash for s in resumable] == [hash_]
        billed = emu.ledger.charges
        again = Job(key=hash_, kind="images")
        again.result = worker.resume_polling(client, resumable[0], again, poll_every=0.01,
                                          sleep=no_sleep)
        again.state = "done"
    assert emu.ledger.charges == billed and len(billed) == 2
    assert again.poll_ids == first.poll_ids
    assert again.result.final.status is JobStatus.COMPLETED
    assert again.events[0].status == "resumed"
    assert again.events[0].message == "polling again after a restart; nothing was resent"
    new = outcomes.apply_job(state, again, ROWS, now=NOW)
    assert new.submissions[hash_].state == "completed"
    assert {k: len(v) for k, v in new.images.items()} == {"A": 2, "B": 1}
    assert any(e.status == "resumed" for e in new.log)


# --- videos ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_run_videos_polls_each_clip_to_done_and_bills_each_clip_once(profile):
    """Both profiles: every clip is polled queued → running → done, gets its URL, and is billed once."""
    emu, client = make(profile=profile)
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        images_billed = emu.ledger.total("images")
        job = run_videos(client, plan, hash_)
    result = job.result
    assert not result.timed_out and set(result.finals) == set(job.poll_ids)
    assert sorted(job.poll_ids.values()) == ["A", "B"]
    for scene in ("A", "B"):
        assert [(s, m) for s, sc, m in statuses(job) if sc == scene] == [
            ("queued", "accepted"), ("queued", "queued"), ("running", "running"),
            ("completed", "done")]
    new = outcomes.apply_job(state, job, now=NOW)
    for scene in ("A", "B"):
        clip = new.videos[scene]
        assert clip.status == "done" and clip.url.startswith(BASE) and clip.job_id in job.poll_ids
    sub = new.submissions[hash_]
    assert sub.state == "completed"
    assert sub.actual_cost == plan.cost == emu.ledger.total("videos") == Decimal("0.20")
    video_charges = [c for c in emu.ledger.charges if c.kind == "videos"]
    assert [(c.scene_id, c.count) for c in video_charges] == [("A", 1), ("B", 1)]
    assert {c.batch_hash for c in video_charges} == {hash_}
    assert emu.ledger.total("images") == images_billed  # nothing else was billed
    assert new.log[-1].message == "2 of 2 clips ready; cost $0.20"


def test_run_videos_drained_while_running_gives_clips_their_job_ids():
    """Draining a video job as it runs puts the server's job ids on the submission and the clips."""
    emu, client = make()
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        job = run_videos(client, plan, hash_, poll_for=0)
    drained = outcomes.drain_events(state, job)
    assert drained.submissions[hash_].poll_ids == job.poll_ids
    assert {(c.scene_id, c.job_id, c.status) for c in drained.videos.values()} == {
        (scene, job_id, "queued") for job_id, scene in job.poll_ids.items()}


def test_run_videos_partial_failure_shows_the_clip_error():
    """A clip the server fails shows its error; the others are done; the run is partial."""
    emu, client = make()
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        emu.faults.add(route="/batch/videos", kind="partial", scenes={"B"})
        job = run_videos(client, plan, hash_)
    last_b = [(s, m) for s, sc, m in statuses(job) if sc == "B"][-1]
    assert last_b[0] == "failed" and last_b[1].startswith("Video generation failed for B")
    new = outcomes.apply_job(state, job, now=NOW)
    assert new.videos["A"].status == "done"
    assert new.videos["B"].status == "error"
    assert new.videos["B"].error.startswith("Video generation failed for B")
    sub = new.submissions[hash_]
    assert sub.state == "partial" and new.log[-1].message.startswith("1 of 2 clips ready")
    # The emulator bills only the clip it made; the app never counts less than was billed.
    assert emu.ledger.total("videos") == Decimal("0.10")
    assert sub.actual_cost >= emu.ledger.total("videos")


def test_run_videos_polling_timeout_stays_billed_and_fetchable():
    """poll_for=0: the clips are still queued when polling stops: billed, offered a fetch."""
    emu, client = make()
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        job = run_videos(client, plan, hash_, poll_for=0)
    assert job.result.timed_out
    new = outcomes.apply_job(state, job, now=NOW)
    assert new.submissions[hash_].state == "accepted" and new.submissions[hash_].stalled
    assert {c.status for c in new.videos.values()} == {"queued"}
    assert emu.ledger.total("videos") == Decimal("0.20")  # billed when accepted


def test_run_videos_answered_terminal_is_not_polled():
    """Clips the server already reports finished in its answer are not polled; they show as errors."""
    emu, client = make()
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        emu.faults.add(route="/batch/videos", kind="unknown_status", status="failed")
        job = run_videos(client, plan, hash_)
    assert job.result.finals == {} and not job.result.timed_out
    assert [s for s, _, _ in statuses(job)] == ["failed", "failed"]  # the answer's lines only
    new = outcomes.apply_job(state, job, now=NOW)
    assert {c.status for c in new.videos.values()} == {"error"}
    assert new.submissions[hash_].state == "failed"


def test_run_videos_logs_an_unknown_status_word_once_until_it_changes():
    """A status word nobody knows is logged once while it repeats, then the real finish is logged."""
    emu, client = make()
    rounds: list[float] = []

    def sleep(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) == 3:  # the server stops saying "mystery" before the third round
            emu.faults.clear()

    with client:
        approved = approved_images(emu, client)
        state, hash_, plan = submit_videos(approved.model_copy(
            update={"approvals": {"A": approved.approvals["A"]}}))
        emu.faults.add(route="/status", kind="unknown_status", status="mystery", times=None)
        job = run_videos(client, plan, hash_, sleep=sleep)
    assert statuses(job) == [("queued", "A", "accepted"), ("unknown", "A", "mystery"),
                             ("completed", "A", "done")]
    assert len(rounds) == 3 and all(s >= 0.01 for s in rounds)
    assert outcomes.apply_job(state, job, now=NOW).videos["A"].status == "done"


def test_run_videos_501_fails_the_clips_and_bills_nothing():
    """Today's server answers videos with 501: the clips show the explanation and nothing is billed."""
    emu, client = make(videos="501")
    runner = JobRunner(max_workers=1)
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        runner.start(hash_, "videos", lambda job: worker.run_videos(
            client, plan, hash_, job, poll_every=0.01, sleep=no_sleep))
        job = runner.wait(hash_)
    runner.shutdown()
    assert isinstance(job.error, NotImplementedByBackend)
    new = outcomes.apply_job(state, job, now=NOW)
    assert new.submissions[hash_].state == "rejected"
    assert {c.status for c in new.videos.values()} == {"error"}
    assert "nothing was billed" in new.videos["A"].error
    assert emu.ledger.total("videos") == 0


def test_run_videos_unreadable_paid_answer_is_outcome_unknown_for_submission_and_clips():
    """A paid video answer we cannot read was billed: the submission and its clips are outcome unknown."""
    emu, client = make()
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        emu.faults.add(route="/batch/videos", kind="malformed_json")
        job = Job(key=hash_, kind="videos")
        with pytest.raises(ResponseFormatError) as info:
            worker.run_videos(client, plan, hash_, job, poll_every=0.01, sleep=no_sleep)
        job.error, job.state = info.value, "error"
    assert emu.ledger.total("videos") == Decimal("0.20")
    new = outcomes.apply_job(state, job, now=NOW)
    assert new.submissions[hash_].state == "outcome_unknown"
    assert {c.status for c in new.videos.values()} == {"outcome_unknown"}


# --- resume_polling (videos) -------------------------------------------------------------------


def test_resume_polling_videos_after_a_restart_finishes_without_sending_anything_paid():
    """Video jobs cut off by a restart are polled again to done from their saved job ids; the ledger does not change."""
    emu, client = make()
    with client:
        state, hash_, plan = submit_videos(approved_images(emu, client))
        first = run_videos(client, plan, hash_, poll_for=0)
        state = outcomes.drain_events(state, first)  # then the process died
        state, resumable = outcomes.reconcile_orphans(state, set(), NOW, alive=lambda s: False)
        assert [s.batch_hash for s in resumable] == [hash_]
        billed = emu.ledger.charges
        again = Job(key=hash_, kind="videos")
        again.result = worker.resume_polling(client, resumable[0], again, poll_every=0.01,
                                          sleep=no_sleep)
        again.state = "done"
    assert emu.ledger.charges == billed
    assert len([c for c in billed if c.kind == "videos"]) == 2
    assert again.events[0].status == "resumed"
    assert {f.status for f in again.result.finals.values()} == {JobStatus.COMPLETED}
    new = outcomes.apply_job(state, again, now=NOW)
    assert new.submissions[hash_].state == "completed"
    assert {(c.scene_id, c.status) for c in new.videos.values()} == {("A", "done"), ("B", "done")}
    assert all(c.url.startswith(BASE) for c in new.videos.values())
    assert first.batch_id and new.submissions[hash_].batch_id == first.batch_id
    assert {c.batch_id for c in new.videos.values()} == {first.batch_id}


def test_resume_polling_that_times_out_again_stays_billed_and_fetchable():
    """A resumed poll with no time left stays accepted (billed, fetchable), still without
    sending anything paid."""
    emu, client = make(profile="brief")
    with client:
        state, hash_ = submit_images(client)
        first = Job(key=hash_, kind="images")
        worker.run_images(client, ROWS, hash_, first, poll_every=0.01, poll_for=0, sleep=no_sleep)
        state = outcomes.drain_events(state, first)
        _, (sub,) = outcomes.reconcile_orphans(state, set(), NOW)
        billed = emu.ledger.charges
        again = Job(key=hash_, kind="images")
        again.result = worker.resume_polling(client, sub, again, poll_for=0, sleep=no_sleep)
    assert again.result.timed_out and emu.ledger.charges == billed
    after = outcomes.apply_job(state, again, ROWS, now=NOW).submissions[hash_]
    assert after.state == "accepted" and after.stalled


def test_an_id_the_server_refuses_to_be_asked_about_stops_the_polling_but_stays_billed():
    """A status id the server answers with its schema refusal is not polled for 30 minutes:
    polling stops at once, and the work stays billed and fetchable (never resent)."""
    from batchcore.adapters.jobs import Job as _Job
    from batchcore.errors import ApiError
    from batchcore.wire.problems import SCHEMA_REFUSAL

    class Refusing:
        calls = 0

        def job_status(self, poll_id):
            self.calls += 1
            raise ApiError("The orchestrator refused the job id.", status=500, type=SCHEMA_REFUSAL)

    emu, client = make(profile="brief")
    with client:
        state, hash_ = submit_images(client)
        live = client.generate_images(ROWS, batch_hash=hash_)
    refusing = Refusing()
    job = _Job(key=hash_, kind="images")
    from batchcore.adapters.worker import _poll_images

    result = _poll_images(refusing, live, live.batch_id, job, poll_every=0.01, poll_for=60,
                          sleep=no_sleep)
    assert result.timed_out and refusing.calls == 1
    after = outcomes.after_images(state, hash_, ROWS, result, now=NOW).submissions[hash_]
    assert after.state == "accepted" and after.stalled
