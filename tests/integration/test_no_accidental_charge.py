"""A Hypothesis state machine: random user actions and faults through the SERVICES, checked
against the emulator's charge ledger after every step.

It drives exactly what the page calls — ``services.update_inputs``, ``dry_run``,
``confirm_images``, ``approve_image``, ``confirm_videos``, ``sync``, ``open_workspace`` —
on a runtime from ``bootstrap.build`` (the emulator's transport, a SQLite store, the job
runner), mixed with faults: on the paid routes (timeouts after the server accepted, 500s,
429s, refused connections, unreadable answers, partial failures), on ``/status`` after the
server accepted (brief profile), the app restarting with no page open (a new runtime on the
same database), the app dying between reserving and sending, the store refusing writes,
repeated clicks, a second tab, and midnight passing. After every step:

* nothing is billed that was not confirmed, and nothing twice;
* the daily cap holds: what the server billed on a UTC day never exceeds the cap, and the
  store's spend ledger never counts less than the server billed;
* every billed unit is visible in the stored workspace (a billed submission) or marked
  outcome unknown — never lost, never "failed" without the server saying so.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
import stamina
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from batchcore.adapters.jobs import JobRunner
from batchcore.bootstrap import Runtime, build
from batchcore.config import load_settings
from batchcore.domain import outcomes
from batchcore.domain.pricing import VIDEO_PRICES
from batchcore.domain.rows import BatchRow, ParseResult
from batchcore.domain.workflow import (
    BILLED_STATES,
    Inputs,
    all_submissions,
    current_hash,
    in_flight,
)
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.service_layer import services
from batchcore.service_layer.services import Workspace

START = datetime(2026, 3, 4, 21, 0, tzinfo=timezone.utc)
CAPS = ["0.01", "0.05", "0.25", "1.00", "2.00"]
FAULTS = [None, None, None, "timeout_after_accept", "500", "429", "connect_refused",
          "malformed_json", "partial"]
#: a process that cannot exist on this host: its submissions belong to a dead app
DEAD = f"{socket.gethostname()}:4194303:dead"

rows_strategy = st.lists(
    st.builds(BatchRow, scene_id=st.sampled_from(["S1", "S2", "S3"]),
              prompt=st.sampled_from(["kitchen", "garden"]), variants=st.integers(1, 3)),
    min_size=1, max_size=3, unique_by=lambda r: r.scene_id,
)


def _no_sleep(seconds: float) -> None:
    """Nothing waits here: the emulator's clock only moves when a rule moves it."""


class _NeverRuns(JobRunner):
    """The job runner of an app that dies right after reserving: nothing is ever sent."""

    def start(self, key, kind, fn, *, batch_hash=""):  # type: ignore[override]
        return True


class NoAccidentalCharge(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.dir = tempfile.mkdtemp(prefix="nac-")
        self.runtimes: list[Runtime] = []
        #: how many paid submissions of each hash the services let begin
        self.confirmed: Counter[str] = Counter()
        #: units one confirmation of a hash may bill at most
        self.units_per_confirmation: dict[str, int] = {}
        self.store_broken = False

    def teardown(self) -> None:
        for rt in self.runtimes:
            for job in rt.runner.running():
                rt.runner.wait(job.key, timeout=30)
            rt.runner.shutdown()
            rt.client.close()
            if rt.store is not None:
                rt.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the app ----------------------------------------------------------------------

    def _runtime(self, **kw) -> Runtime:
        rt = build(self.settings, transport=EmulatorTransport(self.emu), **kw)
        self.runtimes.append(rt)
        if self.store_broken:  # the database is broken for every process that opens it
            _break(rt)
        return rt

    def _settle(self) -> None:
        """Let every background job finish, then let the page see the result."""
        for job in self.rt.runner.running():
            self.rt.runner.wait(job.key, timeout=30)
        self.emu.faults.clear()
        self.ws = services.sync(self.rt, self.ws, now=self.now).ws

    def _stored(self) -> Workspace:
        assert self.rt.store is not None
        loaded = self.rt.store.load(self.ws.id)
        return Workspace(self.ws.id, loaded.state, loaded.version)

    @initialize(rows=rows_strategy, mode=st.sampled_from(["batch", "single"]),
                cap=st.sampled_from(CAPS), profile=st.sampled_from(["head", "brief"]))
    def start_with_a_batch(self, rows, mode, cap, profile):
        """The app starts (mock mode, a daily cap, a server profile); the person writes a batch."""
        self.cap = Decimal(cap)
        self.emu = Emulator(EmulatorConfig(now=lambda: self.now, sleep=_no_sleep, latency_ms=0,
                                           seconds_per_step=0.0, profile=profile))
        self.settings = load_settings({"DAILY_SPEND_CAP": cap, "POLL_SECONDS": "0.01",
                                       "DATABASE_URL": f"sqlite:///{self.dir}/ws.sqlite3"})
        self.rt = self._runtime()
        self.ws = services.new_workspace(self.rt).ws
        self.write_a_batch(rows, mode)

    # --- what a person does -------------------------------------------------------------

    @rule(rows=rows_strategy, mode=st.sampled_from(["batch", "single"]))
    def write_a_batch(self, rows, mode):
        """Parse a batch (or a single prompt): the draft changes and so does its hash."""
        rows = rows[:1] if mode == "single" else rows
        inputs = Inputs(mode=mode)
        self.ws = services.update_inputs(self.rt, self.ws, inputs,
                                         ParseResult(rows=rows, errors=[])).ws

    @rule()
    def dry_run(self):
        """Dry-Run Images: free; on success it leaves a receipt for today's hash."""
        self.ws = services.dry_run(self.rt, self.ws, now=self.now).ws

    def _confirm(self, fault, status_fault: bool) -> None:
        hash_ = current_hash(self.ws.state, self.now)
        before = {s.key for s in all_submissions(self.ws.state)}
        if not self.store_broken:
            before |= {s.key for s in all_submissions(self._stored().state)}
        if fault:
            self.emu.faults.add(route="/batch/images", kind=fault, times=1)
        if status_fault:
            self.emu.faults.add(route="/status", kind="500", times=6)
        out = services.confirm_images(self.rt, self.ws, hash_, now=self.now)
        self.ws = out.ws
        sub = out.ws.state.submissions.get(hash_)
        if sub is not None and sub.key not in before:
            assert not self.store_broken, "a paid call began while nothing could be saved"
            receipt = out.ws.state.receipts[hash_]
            self.confirmed[hash_] += 1
            self.units_per_confirmation[hash_] = receipt.images
        self._settle()

    @rule(fault=st.sampled_from(FAULTS), status_fault=st.booleans())
    def confirm_generate_images(self, fault, status_fault):
        """Generate Images → Confirm (maybe with a fault on the way, or /status failing after
        the server accepted): the services decide; only then the one paid call goes out."""
        self._confirm(fault, status_fault)

    @rule(fault=st.sampled_from(FAULTS), status_fault=st.booleans())
    def dry_run_then_confirm(self, fault, status_fault):
        """The usual path: Dry-Run Images, then Generate Images → Confirm straight away."""
        self.dry_run()
        self._confirm(fault, status_fault)

    @rule()
    def a_second_tab_confirms_the_same_batch(self):
        """Another tab, opened before the first confirmed, confirms the same batch."""
        if self.store_broken:
            return
        other = self._stored()
        self.dry_run()
        self._confirm(None, False)
        hash_ = current_hash(other.state, self.now)
        before = {s.key for s in all_submissions(self._stored().state)}
        out = services.confirm_images(self.rt, other, hash_, now=self.now)
        sub = out.ws.state.submissions.get(hash_)
        if sub is not None and sub.key not in before:
            self.confirmed[hash_] += 1
            self.units_per_confirmation[hash_] = out.ws.state.receipts[hash_].images
        self._settle()

    @precondition(lambda self: any(self.ws.state.images.values()))
    @rule(data=st.data())
    def approve_an_image(self, data):
        """Approve one of the thumbnails (replacing the scene's earlier pick)."""
        images = [i for imgs in self.ws.state.images.values() for i in imgs]
        image = data.draw(st.sampled_from(images))
        self.ws = services.approve_image(self.rt, self.ws, image.scene_id, image.variant).ws

    @precondition(lambda self: bool(self.ws.state.approvals))
    @rule(model=st.sampled_from(sorted(VIDEO_PRICES)), typo=st.booleans(),
          fault=st.sampled_from(FAULTS))
    def confirm_generate_video(self, model, typo, fault):
        """Generate Video → type the clip count (maybe wrongly) → Confirm."""
        self._confirm_videos(outcomes.plan_videos(self.ws.state, model), typo, fault)

    @precondition(lambda self: any(c.can_make_again
                                   for c in outcomes.video_choices(self.ws.state)))
    @rule(model=st.sampled_from(sorted(VIDEO_PRICES)), typo=st.booleans(),
          fault=st.sampled_from(FAULTS), data=st.data())
    def make_clips_again(self, model, typo, fault, data):
        """Generate Video → choose made clips to make again (billed again) → count → Confirm."""
        made = [c.scene_id for c in outcomes.video_choices(self.ws.state) if c.can_make_again]
        again = data.draw(st.lists(st.sampled_from(made), min_size=1, unique=True))
        self._confirm_videos(outcomes.plan_videos(self.ws.state, model, again=again), typo, fault)

    def _confirm_videos(self, plan, typo, fault):
        typed = str(plan.clips + 1 if typo else plan.clips)
        hash_ = outcomes.video_batch_hash(plan)
        before = {s.key for s in all_submissions(self.ws.state)}
        if fault:
            self.emu.faults.add(route="/batch/videos", kind=fault, times=1)
        out = services.confirm_videos(self.rt, self.ws, plan, typed, now=self.now)
        self.ws = out.ws
        sub = out.ws.state.submissions.get(hash_)
        if sub is not None and sub.key not in before:
            assert not typo, "a wrong clip count was accepted"
            assert not self.store_broken, "a paid call began while nothing could be saved"
            self.confirmed[hash_] += 1
            self.units_per_confirmation[hash_] = plan.clips
        self._settle()

    @precondition(lambda self: any(self.ws.state.images.values()))
    @rule(model=st.sampled_from(sorted(VIDEO_PRICES)), fault=st.sampled_from(FAULTS))
    def approve_all_then_video(self, model, fault):
        """The usual path: approve the first image of every scene, then make the clips."""
        for scene, images in self.ws.state.images.items():
            if images:
                self.ws = services.approve_image(self.rt, self.ws, scene, images[0].variant).ws
        self.confirm_generate_video(model, False, fault)

    @rule()
    def the_app_restarts_with_no_page_open(self):
        """The app restarts; a page opens the workspace link afterwards."""
        self._settle()
        self.rt = self._runtime()
        self.ws = services.open_workspace(self.rt, self.ws.id).ws

    @rule()
    def the_app_dies_between_reserving_and_sending(self):
        """Dry-run, Confirm, and the app dies before the request leaves; it restarts."""
        self.dry_run()
        dying = self._runtime(runner=_NeverRuns(), token=DEAD)
        hash_ = current_hash(self.ws.state, self.now)
        before = {s.key for s in all_submissions(self.ws.state)}
        out = services.confirm_images(dying, self.ws, hash_, now=self.now)
        sub = out.ws.state.submissions.get(hash_)
        if sub is not None and sub.key not in before:
            assert not self.store_broken, "a paid call was reserved while nothing could be saved"
            self.confirmed[hash_] += 1
            self.units_per_confirmation[hash_] = out.ws.state.receipts[hash_].images
        self.rt = self._runtime()
        self.ws = services.open_workspace(self.rt, out.ws.id).ws
        self._settle()

    @precondition(lambda self: not self.store_broken)
    @rule()
    def the_store_refuses_writes(self):
        """The database becomes read-only (disk trouble, a mount gone read-only)."""
        self._settle()
        for rt in self.runtimes:
            _break(rt)
        self.store_broken = True

    @precondition(lambda self: self.store_broken)
    @rule()
    def the_store_recovers(self):
        """The database can be written again."""
        for rt in self.runtimes:
            _heal(rt)
        self.store_broken = False
        self._settle()

    @rule(hours=st.sampled_from([1, 4]))
    def time_passes(self, hours):
        """Time passes (sometimes past midnight UTC: receipts expire, the cap starts afresh)."""
        self.now += timedelta(hours=hours)

    # --- what must always hold ----------------------------------------------------------

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
        """What the server billed on any UTC day stays within the deployment's daily cap."""
        per_day: Counter[str] = Counter()
        for charge in self.emu.ledger.charges:
            per_day[charge.at.date().isoformat()] += charge.amount
        assert all(total <= self.cap for total in per_day.values()), dict(per_day)

    @invariant()
    def the_ledger_never_counts_less_than_the_server_billed(self):
        """The store's spend ledger for today counts at least what the server billed today."""
        if self.store_broken:
            return
        day = self.now.date().isoformat()
        billed = sum((c.amount for c in self.emu.ledger.charges if c.at.date().isoformat() == day),
                     Decimal(0))
        assert self.rt.store is not None
        counted = self.rt.store.ledger_totals("mock", day)
        assert billed <= counted.committed, (billed, counted)

    @invariant()
    def every_billed_unit_is_visible_or_marked_unknown(self):
        """A hash the server billed is, in the stored workspace, a billed submission or an
        outcome-unknown one — never lost, never 'not sent' or 'rejected'."""
        if self.store_broken:
            return
        subs = all_submissions(self._stored().state)
        for charge in self.emu.ledger.charges:
            states = {s.state for s in subs if s.batch_hash == charge.batch_hash}
            assert states & (BILLED_STATES | {"outcome_unknown"}), (charge, states)

    @invariant()
    def nothing_is_left_in_flight(self):
        """Every paid call here ran to its end, so none may stay in flight once settled."""
        if not self.store_broken:
            assert not in_flight(self._stored().state)


def _read_only(conn, _record) -> None:
    conn.execute("PRAGMA query_only=ON")


def _break(rt: Runtime) -> None:
    assert rt.store is not None
    if not sa.event.contains(rt.store.engine, "connect", _read_only):
        sa.event.listen(rt.store.engine, "connect", _read_only)
    rt.store.engine.dispose()


def _heal(rt: Runtime) -> None:
    assert rt.store is not None
    if sa.event.contains(rt.store.engine, "connect", _read_only):
        sa.event.remove(rt.store.engine, "connect", _read_only)
    rt.store.engine.dispose()


NoAccidentalCharge.TestCase.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestNoAccidentalCharge(NoAccidentalCharge.TestCase):
    """Random sequences of user actions and faults through the services never cause an
    unconfirmed, duplicate or over-cap charge, and never lose a billed unit."""

    def setUp(self):
        self._testing = stamina.set_testing(True, attempts=3)
        self._testing.__enter__()

    def tearDown(self):
        self._testing.__exit__(None, None, None)
