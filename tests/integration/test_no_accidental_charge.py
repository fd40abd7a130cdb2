"""A Hypothesis state machine: random user actions against the emulator's charge ledger.

It drives the same ``batchcore`` calls the page makes, in the page's order — parse a batch,
dry-run it, confirm a live run (with the spend cap), approve images, confirm clips with a
typed count — mixed with faults on the paid routes (timeouts after the server accepted,
500s, 429s, refused connections, unreadable answers, partial failures), repeated clicks and
midnight passing. After every step it checks what the emulator billed:

* nothing is billed that was not confirmed: every charge belongs to a hash whose paid
  submission the core let begin;
* nothing is billed twice: a hash is billed at most once per confirmation of it;
* the daily spend cap holds: what the server billed on a UTC day never exceeds the cap, and
  the core's own count of today's spend is never below what the server billed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import stamina
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from batchcore import generation as gen
from batchcore.client import OrchestratorClient
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.errors import BatchStudioError
from batchcore.jobs import Job
from batchcore.pricing import VIDEO_PRICES
from batchcore.rows import BatchRow, ParseResult
from batchcore.spend import check_spend, spend_today
from batchcore.workflow import (
    WorkflowState,
    approve,
    begin_image_submission,
    current_hash,
    in_flight,
    with_draft,
)
from tests.conftest import fake_key

START = datetime(2026, 3, 4, 21, 0, tzinfo=timezone.utc)
CAPS = [Decimal("0.01"), Decimal("0.05"), Decimal("0.25"), Decimal("1.00"), Decimal("2.00")]
FAULTS = [None, None, None, "timeout_after_accept", "500", "429", "connect_refused",
          "malformed_json", "partial"]

rows_strategy = st.lists(
    st.builds(BatchRow, scene_id=st.sampled_from(["S1", "S2", "S3"]),
              prompt=st.sampled_from(["kitchen", "garden"]), variants=st.integers(1, 3)),
    min_size=1, max_size=3, unique_by=lambda r: r.scene_id,
)


def _no_sleep(seconds: float) -> None:
    """Nothing waits here: the emulator's clock only moves when a rule moves it."""


class NoAccidentalCharge(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.emu = Emulator(EmulatorConfig(now=lambda: self.now, sleep=_no_sleep, latency_ms=0,
                                           seconds_per_step=0.0))
        self.client = OrchestratorClient("https://emulator.local", fake_key("m"),
                                         transport=EmulatorTransport(self.emu))
        self.state = WorkflowState()
        self.cap = CAPS[0]
        #: how many paid submissions of each hash the core let begin (image or video)
        self.confirmed: Counter[str] = Counter()
        #: units one confirmation of a hash may bill at most
        self.units_per_confirmation: dict[str, int] = {}

    def teardown(self) -> None:
        self.client.close()

    # --- what a person does ----------------------------------------------------------

    @initialize(rows=rows_strategy, mode=st.sampled_from(["batch", "single"]),
                cap=st.sampled_from(CAPS))
    def start_with_a_batch(self, rows, mode, cap):
        """The workspace has a daily cap; the person starts by writing a batch."""
        self.cap = cap
        self.write_a_batch(rows, mode)

    @rule(rows=rows_strategy, mode=st.sampled_from(["batch", "single"]))
    def write_a_batch(self, rows, mode):
        """Parse a batch (or a single prompt): the draft changes and so does its hash."""
        rows = rows[:1] if mode == "single" else rows
        self.state = with_draft(self.state, mode, ParseResult(rows=rows, errors=[]))

    @rule()
    def dry_run(self):
        """Dry-Run Images: free; on success it leaves a receipt for today's hash."""
        if not self.state.draft.rows:
            return
        rows = list(self.state.draft.rows)
        try:
            result = self.client.dry_run_images(rows, batch_hash=current_hash(self.state, self.now))
        except BatchStudioError:
            return
        self.state = gen.after_dry_run(self.state, self.state.draft.mode, rows, result,
                                       now=self.now)

    @rule(fault=st.sampled_from(FAULTS))
    def confirm_generate_images(self, fault):
        """Generate Images → Confirm: the core decides; only then the one paid call goes out."""
        hash_ = current_hash(self.state, self.now)
        try:
            self.state, receipt = begin_image_submission(
                self.state, hash_, self.now, runner="machine",
                cap_check=lambda s, cost: check_spend(s, cost, self.cap, self.now))
        except BatchStudioError:
            return
        self.confirmed[hash_] += 1
        self.units_per_confirmation[hash_] = receipt.images
        if fault:
            self.emu.faults.add(route="/batch/images", kind=fault, times=1)
        job = Job(key=hash_, kind="images")
        try:
            job.result = gen.run_images(self.client, receipt.rows, hash_, job, poll_every=0,
                                        sleep=_no_sleep)
            job.state = "done"
        except BaseException as exc:  # noqa: BLE001 - the page records every failure
            job.error, job.state = exc, "error"
        self.emu.faults.clear()
        self.state = gen.apply_job(self.state, job, receipt.rows, now=self.now)

    @rule(fault=st.sampled_from(FAULTS))
    def dry_run_then_confirm(self, fault):
        """The usual path: Dry-Run Images, then Generate Images → Confirm straight away."""
        self.dry_run()
        self.confirm_generate_images(fault)

    @precondition(lambda self: any(self.state.images.values()))
    @rule(data=st.data())
    def approve_an_image(self, data):
        """Approve one of the thumbnails (replacing the scene's earlier pick)."""
        images = [i for imgs in self.state.images.values() for i in imgs]
        self.state = approve(self.state, data.draw(st.sampled_from(images)), self.now)

    @precondition(lambda self: bool(self.state.approvals))
    @rule(model=st.sampled_from(sorted(VIDEO_PRICES)), typo=st.booleans(),
          fault=st.sampled_from(FAULTS))
    def confirm_generate_video(self, model, typo, fault):
        """Generate Video → type the clip count (maybe wrongly) → Confirm."""
        plan = gen.plan_videos(self.state, model)
        typed = str(plan.clips + 1 if typo else plan.clips)
        try:
            self.state, hash_ = gen.begin_video_submission(
                self.state, plan, typed, self.now, runner="machine",
                cap_check=lambda s, cost: check_spend(s, cost, self.cap, self.now))
        except BatchStudioError:
            return
        assert not typo, "a wrong clip count was accepted"
        self.confirmed[hash_] += 1
        self.units_per_confirmation[hash_] = plan.clips
        if fault:
            self.emu.faults.add(route="/batch/videos", kind=fault, times=1)
        job = Job(key=hash_, kind="videos")
        try:
            job.result = gen.run_videos(self.client, plan, hash_, job, poll_every=0,
                                        sleep=_no_sleep)
            job.state = "done"
        except BaseException as exc:  # noqa: BLE001
            job.error, job.state = exc, "error"
        self.emu.faults.clear()
        self.state = gen.apply_job(self.state, job, now=self.now)

    @precondition(lambda self: any(self.state.images.values()))
    @rule(model=st.sampled_from(sorted(VIDEO_PRICES)), fault=st.sampled_from(FAULTS))
    def approve_all_then_video(self, model, fault):
        """The usual path: approve the first image of every scene, then make the clips."""
        for images in self.state.images.values():
            if images:
                self.state = approve(self.state, images[0], self.now)
        self.confirm_generate_video(model, False, fault)

    @rule(hours=st.sampled_from([1, 4]))
    def time_passes(self, hours):
        """Time passes (sometimes past midnight UTC: receipts expire, the cap starts afresh)."""
        self.now += timedelta(hours=hours)

    # --- what must always hold ----------------------------------------------------------

    @invariant()
    def nothing_is_left_in_flight(self):
        """Every paid call here ran to its end, so none may stay in flight."""
        assert not in_flight(self.state)

    @invariant()
    def every_charge_was_confirmed_and_none_twice(self):
        """Each billed hash was confirmed, and billed no more than its confirmations allow."""
        units: Counter[str] = Counter()
        for charge in self.emu.ledger.charges:
            assert charge.batch_hash in self.confirmed, f"unconfirmed charge: {charge}"
            units[charge.batch_hash] += charge.count
        for hash_, billed in units.items():
            allowed = self.units_per_confirmation[hash_] * self.confirmed[hash_]
            assert billed <= allowed, f"{hash_[:12]} billed {billed} units, allowed {allowed}"

    @invariant()
    def the_daily_cap_holds_on_the_server(self):
        """What the server billed on any UTC day stays within the workspace's daily cap."""
        per_day: Counter[str] = Counter()
        for charge in self.emu.ledger.charges:
            per_day[charge.at.date().isoformat()] += charge.amount
        assert all(total <= self.cap for total in per_day.values()), dict(per_day)


    @invariant()
    def the_core_never_counts_less_than_the_server_billed(self):
        """Today's spend as the cap counts it is at least what the server billed today."""
        today = self.now.date()
        billed = sum((c.amount for c in self.emu.ledger.charges if c.at.date() == today),
                     Decimal(0))
        counted = spend_today(self.state, self.now, self.cap)
        assert billed <= counted.spent + counted.reserved, (billed, counted)


NoAccidentalCharge.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestNoAccidentalCharge(NoAccidentalCharge.TestCase):
    """Random sequences of user actions and faults never cause an unconfirmed, duplicate or
    over-cap charge on the emulator's ledger."""

    def setUp(self):
        self._testing = stamina.set_testing(True, attempts=3)
        self._testing.__enter__()

    def tearDown(self):
        self._testing.__exit__(None, None, None)
