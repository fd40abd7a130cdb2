"""The service layer against the emulator and a real store: paid work is owned by the core.

Each test drives the services the page calls (never a copy of them) through a runtime built
by ``bootstrap.build``: the emulator's transport, a SQLite (or PostgreSQL) store, the job
runner. What is checked is what a person and the emulator's charge ledger would see.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import stamina

from batchcore.adapters.store import Charge, Reservation, WorkspaceStore
from batchcore.bootstrap import Runtime, build
from batchcore.config import load_settings
from batchcore.domain.history import batch_history, spend_per_day
from batchcore.domain.rows import parse_batch
from batchcore.domain.workflow import (
    Inputs,
    WorkflowState,
    can_generate,
    current_hash,
    in_flight,
    unfetched,
)
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.service_layer import services
from batchcore.service_layer.services import Workspace

EXAMPLE = "A | kitchen | 2\nB | hallway | 1\n"


@pytest.fixture(autouse=True)
def _no_waits():
    """Client retries do not sleep in these tests."""
    with stamina.set_testing(True, attempts=3):
        yield


def make_rt(tmp_path: Path, db: str | None = None, **settings: str) -> Runtime:
    """A mock-mode runtime with its own emulator and store under ``tmp_path``."""
    values = {"MOCK_LATENCY_MS": "0", "POLL_SECONDS": "0.02",
              "DATABASE_URL": db or f"sqlite:///{tmp_path}/ws.sqlite3", **settings}
    return build(load_settings(values))


def drafted(rt: Runtime, text: str = EXAMPLE) -> Workspace:
    """A new workspace with ``text`` parsed as its batch."""
    ws = services.new_workspace(rt).ws
    inputs = Inputs(mode="batch", batch_text=text, parsed_text=text)
    return services.update_inputs(rt, ws, inputs, parse_batch(text)).ws


def dry_ran(rt: Runtime, text: str = EXAMPLE) -> Workspace:
    out = services.dry_run(rt, drafted(rt, text))
    assert not out.notices, out.notices
    return out.ws


def confirm(rt: Runtime, ws: Workspace) -> services.Outcome:
    return services.confirm_images(rt, ws, current_hash(ws.state))


def stored(rt: Runtime, ws: Workspace) -> Workspace:
    assert rt.store is not None
    loaded = rt.store.load(ws.id)
    return Workspace(ws.id, loaded.state, loaded.version)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("the condition never held")


def settled(rt: Runtime, ws: Workspace) -> Workspace:
    """Wait until the stored workspace has no paid work in flight, and return it."""
    wait_for(lambda: not in_flight(stored(rt, ws).state))
    for job in rt.runner.running():
        rt.runner.wait(job.key, timeout=20)
    return stored(rt, ws)


def billed_units(rt: Runtime) -> int:
    return sum(c.count for c in rt.emulator.ledger.charges)


# --- the happy path --------------------------------------------------------------------------


def test_confirm_reserves_then_the_worker_saves_the_results_with_no_page_open(tmp_path):
    """Confirm returns at once; the worker writes the images into the stored workspace
    although no page ever polls it."""
    rt = make_rt(tmp_path)
    out = confirm(rt, dry_ran(rt))
    assert not [n for n in out.notices if n.level == "error"]
    assert out.ws.state.submissions[current_hash(out.ws.state)].state == "reserved"
    final = settled(rt, out.ws).state
    sub = next(iter(final.submissions.values()))
    assert sub.state == "completed" and sub.actual_cost == Decimal("0.006")
    assert sum(len(v) for v in final.images.values()) == 3
    assert billed_units(rt) == 3
    assert [e.status for e in final.log
            if e.status in ("reserved", "completed") and not e.scene_id] == [
        "reserved", "completed"]


class _Recording(EmulatorTransport):
    """The emulator's transport, noting every path asked for."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__(emulator)
        self.paths: list[str] = []

    def handle_request(self, request):
        self.paths.append(request.url.path)
        return super().handle_request(request)


class _Follower:
    """An event stream of one workspace, read on its own event loop in a thread (as the
    server's route reads it): the notes it got, and ``stored`` states seen at each note."""

    def __init__(self, rt, workspace_id: str) -> None:
        self.notes: list[str] = []
        self.at_note: list[Workspace] = []
        self._rt, self._id = rt, workspace_id
        self._ready, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._follow()), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _follow(self) -> None:
        with self._rt.changes.subscribe(self._id, asyncio.get_running_loop()) as sub:
            self._ready.set()
            while not self._stop.is_set():
                note = await sub.next(0.05)
                if note is not None:
                    self.at_note.append(stored(self._rt, Workspace(self._id, WorkflowState())))
                    self.notes.append(note)

    def wait_for(self, predicate, timeout: float = 20) -> None:
        wait_for(lambda: predicate(self.notes), timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_the_workspace_stream_is_told_once_the_results_are_saved_with_pictures_fetching(tmp_path):
    """A stream following the workspace is told when the job's outcome is stored (the saved
    state is then final), and the gallery's pictures are fetched without any page asking."""
    gate = threading.Event()
    transport = _Recording(Emulator(EmulatorConfig(latency_ms=1, sleep=lambda _s: gate.wait(20))))
    rt = build(load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/ws.sqlite3",
                              "POLL_SECONDS": "0.02"}), transport=transport)
    out = confirm(rt, dry_ran(rt))
    follower = _Follower(rt, out.ws.id)
    try:
        gate.set()
        follower.wait_for(lambda notes: any(n.startswith("finished:") for n in notes))
        finished = next(i for i, n in enumerate(follower.notes) if n.startswith("finished:"))
        at_finish = follower.at_note[finished].state
        assert not in_flight(at_finish)
        assert sum(len(v) for v in at_finish.images.values()) == 3
        versions = [int(n) for n in follower.notes if n.isdigit()]
        assert versions == sorted(versions) and versions
        wait_for(lambda: sum("/assets/" in p for p in transport.paths) == 3)
    finally:
        follower.close()


def test_a_page_command_tells_the_other_tabs_of_its_workspace(tmp_path):
    """A command saved from one tab reaches another tab's stream with the new version."""
    rt = make_rt(tmp_path)
    ws = dry_ran(rt)
    follower = _Follower(rt, ws.id)
    try:
        renamed = services.rename_workspace(rt, ws, "Kitchen pass").ws
        follower.wait_for(lambda notes: str(renamed.version) in notes)
    finally:
        follower.close()


def test_closed_tab_and_app_restart_mid_call_keeps_the_results(tmp_path):
    """The tab closes mid-call and the app restarts afterwards: a new process opening the
    link finds the images the server returned, billed once."""
    rt = make_rt(tmp_path, MOCK_LATENCY_MS="100")
    out = confirm(rt, dry_ran(rt))
    settled(rt, out.ws)  # the call finishes while no page is open
    again = make_rt(tmp_path)  # the app restarted: new runtime, same database
    opened = services.open_workspace(again, out.ws.id).ws
    assert sum(len(v) for v in opened.state.images.values()) == 3
    assert next(iter(opened.state.submissions.values())).state == "completed"
    assert billed_units(rt) == 3


# --- status failures after the server accepted -------------------------------------------------


def test_status_500s_after_accept_stay_billed_counted_and_unresendable(tmp_path):
    """Brief profile: the batch is accepted, then /status answers 500. The submission stays
    billed (accepted), is counted by the cap and by History, cannot be sent again; when
    /status recovers the images are fetched."""
    rt = make_rt(tmp_path, MOCK_PROFILE="brief")
    rt.emulator.faults.add(route="/status", kind="500", times=100_000)
    out = confirm(rt, dry_ran(rt))
    hash_ = current_hash(out.ws.state)
    wait_for(lambda: any(e.status == "fetch_failed" for e in stored(rt, out.ws).state.log))
    mid = stored(rt, out.ws)
    sub = mid.state.submissions[hash_]
    assert sub.state == "accepted" and "not fetched" in sub.fetch_problem
    assert billed_units(rt) == 3
    spend = services.spend_view(rt, mid)
    assert spend.spent == Decimal("0.006")
    assert spend_per_day({"w": mid.state})[sub.started_at.date().isoformat()] == Decimal("0.006")
    assert [r["outcome"] for r in batch_history({"w": mid.state})] == ["accepted"]
    again = services.confirm_images(rt, mid, hash_)
    assert [n.level for n in again.notices] == ["error"]
    assert not can_generate(mid.state, hash_)
    assert billed_units(rt) == 3
    rt.emulator.faults.clear()
    final = settled(rt, out.ws).state
    assert final.submissions[hash_].state == "completed"
    assert sum(len(v) for v in final.images.values()) == 3
    assert billed_units(rt) == 3


def test_fetch_results_again_polls_a_stalled_batch_and_never_resends(tmp_path):
    """A billed batch whose polling stopped is fetched again on request; nothing is resent."""
    rt = make_rt(tmp_path, MOCK_PROFILE="brief")
    ws = dry_ran(rt)
    hash_ = current_hash(ws.state)
    # Billed, results not fetched: what the worker leaves after polling gave up.
    from batchcore.domain import outcomes

    out = confirm(rt, ws)
    settled(rt, out.ws)
    final = stored(rt, out.ws)
    stalled = outcomes._not_fetched(final.state.model_copy(update={"submissions": {
        hash_: final.state.submissions[hash_].model_copy(update={"state": "accepted"})}}),
        hash_, final.state.submissions[hash_].batch_id, datetime.now(timezone.utc))
    assert rt.store is not None
    version = rt.store.save(out.ws.id, stalled, final.version)
    ws = Workspace(out.ws.id, stalled, version)
    assert unfetched(ws.state)
    fetched = services.fetch_results_again(rt, ws, hash_)
    assert not [n for n in fetched.notices if n.level == "error"]
    again = settled(rt, ws).state
    assert again.submissions[hash_].state == "completed" and not unfetched(again)
    assert billed_units(rt) == 3


# --- never sent -----------------------------------------------------------------------------


def test_connection_refused_is_not_sent_and_gives_the_receipt_back(tmp_path):
    """The backend is down at Confirm: not sent, the receipt comes back (no new dry-run is
    needed), and the later generation is billed exactly once."""
    rt = make_rt(tmp_path)
    ws = dry_ran(rt)
    hash_ = current_hash(ws.state)
    rt.emulator.faults.add(route="/batch/images", kind="connect_refused", times=100)
    settled(rt, confirm(rt, ws).ws)
    after = stored(rt, ws)
    sub = after.state.submissions[hash_]
    assert sub.state == "not_sent" and "Nothing was sent" in sub.message
    assert can_generate(after.state, hash_)
    assert services.spend_view(rt, after).spent == 0
    assert billed_units(rt) == 0
    rt.emulator.faults.clear()
    final = settled(rt, confirm(rt, after).ws).state
    assert final.submissions[hash_].state == "completed"
    assert billed_units(rt) == 3
    assert sorted(r["outcome"] for r in batch_history({"w": final})) == ["completed", "not_sent"]


# --- two tabs ---------------------------------------------------------------------------------


def test_two_tabs_bill_once_and_both_settle_within_one_poll(tmp_path):
    """Tab A and tab B confirm the same batch: billed once; when the work ends, one sync
    brings both tabs to the finished state (no 'Generating…' left behind)."""
    rt = make_rt(tmp_path, MOCK_LATENCY_MS="50")
    tab_a = dry_ran(rt)
    tab_b = stored(rt, tab_a)
    first = confirm(rt, tab_a)
    second = confirm(rt, tab_b)
    assert [n.level for n in second.notices] == ["error"]
    settled(rt, first.ws)
    for tab in (first.ws, second.ws):
        now = services.sync(rt, tab).ws
        assert not in_flight(now.state)
        assert next(iter(now.state.submissions.values())).state == "completed"
    assert billed_units(rt) == 3


# --- the store fails ------------------------------------------------------------------------


def _break_store(rt: Runtime, pragma: str) -> None:
    """Every new connection of the store gets ``pragma`` (e.g. read-only, or full)."""
    assert rt.store is not None
    engine = rt.store.engine
    sa.event.listen(engine, "connect", lambda conn, _rec: conn.execute(pragma))
    engine.dispose()


def _database_is_deleted(rt: Runtime, tmp_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path}/ws.sqlite3{suffix}").unlink(missing_ok=True)


def _database_is_read_only(rt: Runtime, tmp_path: Path) -> None:
    _break_store(rt, "PRAGMA query_only=ON")


def _disk_is_full(rt: Runtime, tmp_path: Path) -> None:
    assert rt.store is not None
    with rt.store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    _break_store(rt, f"PRAGMA max_page_count={pages}")


@pytest.mark.parametrize("fault", [_database_is_deleted, _database_is_read_only, _disk_is_full],
                         ids=["deleted", "read-only", "full"])
def test_a_store_that_cannot_save_is_said_at_once_and_no_money_moves(tmp_path, fault):
    """Deleted, read-only or full database: the very next edit says it was not saved, and
    Confirm sends nothing and says why."""
    rt = make_rt(tmp_path)
    ws = dry_ran(rt, "A | kitchen | 3\nB | hallway | 3\n" + "".join(
        f"S{i} | {'long prompt ' * 60} | 3\n" for i in range(8)))
    fault(rt, tmp_path)
    text = "".join(f"C{i} | {'a garden in the rain ' * 45} | 1\n" for i in range(10))
    edit = services.update_inputs(rt, ws, Inputs(mode="batch", batch_text=text,
                                                 parsed_text=text), parse_batch(text))
    assert not edit.saved
    assert [n.level for n in edit.notices] == ["error"] and "not be saved" in edit.notices[0].text
    out = confirm(rt, ws)
    assert [n.level for n in out.notices] == ["error"]
    assert "Nothing was sent" in out.notices[0].text
    time.sleep(0.2)
    assert billed_units(rt) == 0 and not rt.runner.running()


def test_a_failing_save_in_the_worker_is_kept_said_and_saved_later(tmp_path):
    """The store breaks while the server answers: the results are kept in memory, the page
    is told and paid actions are off; once the store works again they are saved."""
    rt = make_rt(tmp_path, MOCK_LATENCY_MS="300")
    out = confirm(rt, dry_ran(rt))
    wait_for(lambda: stored(rt, out.ws).state.submissions[
        current_hash(out.ws.state)].state == "sent")
    assert rt.store is not None
    def listener(conn, _rec) -> None:
        conn.execute("PRAGMA query_only=ON")

    sa.event.listen(rt.store.engine, "connect", listener)
    rt.store.engine.dispose()
    wait_for(lambda: bool(rt.recorders[out.ws.id].pending))
    told = services.sync(rt, out.ws)
    assert any("could not be saved yet" in n.text for n in told.notices)
    assert not services.may_spend(rt, told.ws)
    sa.event.remove(rt.store.engine, "connect", listener)
    rt.store.engine.dispose()
    final = settled(rt, out.ws).state
    assert sum(len(v) for v in final.images.values()) == 3
    assert services.may_spend(rt, services.sync(rt, out.ws).ws)


# --- the deployment-wide cap ------------------------------------------------------------------


def test_the_daily_cap_is_shared_by_every_workspace_of_a_backend(tmp_path):
    """A second workspace does not get a fresh cap: together they stay under it."""
    rt = make_rt(tmp_path, DAILY_SPEND_CAP="0.010")
    first = confirm(rt, dry_ran(rt, "A | a | 3\n"))  # $0.006
    assert not [n for n in first.notices if n.level == "error"]
    second = confirm(rt, dry_ran(rt, "B | b | 3\n"))  # would be $0.012 in all
    assert [n.level for n in second.notices] == ["error"]
    assert "spend cap" in second.notices[0].text
    settled(rt, first.ws)
    assert billed_units(rt) == 3


def test_mock_spend_is_its_own_ledger(tmp_path):
    """Spend in mock mode is counted on the 'mock' ledger, never on a real backend's."""
    rt = make_rt(tmp_path)
    settled(rt, confirm(rt, dry_ran(rt)).ws)
    assert rt.store is not None
    day = datetime.now(timezone.utc).date().isoformat()
    assert rt.store.ledger_totals("mock", day).spent == Decimal("0.006")
    assert rt.store.ledger_totals(rt.settings.base_url, day).spent == 0


def test_a_workspace_cap_below_the_deployment_cap_holds(tmp_path):
    """WORKSPACE_DAILY_CAP limits one workspace while others may still spend."""
    rt = make_rt(tmp_path, WORKSPACE_DAILY_CAP="0.006")
    ws = settled(rt, confirm(rt, dry_ran(rt, "A | a | 3\n")).ws)
    more = services.dry_run(rt, services.update_inputs(
        rt, ws, Inputs(mode="batch", batch_text="B | b | 1\n", parsed_text="B | b | 1\n"),
        parse_batch("B | b | 1\n")).ws).ws
    refused = confirm(rt, more)
    assert [n.level for n in refused.notices] == ["error"]
    other = confirm(rt, dry_ran(rt, "C | c | 1\n"))
    assert not [n for n in other.notices if n.level == "error"]
    settled(rt, other.ws)
    assert billed_units(rt) == 4


def _reserve_many(store: WorkspaceStore, tag: str, n: int, cap: Decimal) -> int:
    """Try ``n`` reservations of $0.10 each on one deployment; return how many were taken."""
    from batchcore.domain.workflow import WorkflowState
    from batchcore.errors import SpendCapExceeded

    taken = 0
    wid = store.new_workspace()
    for i in range(n):
        charge = Charge(workspace_id=wid, key=f"{tag}-{i}", deployment="https://real.test",
                        day="2026-11-26", kind="images", state="reserved",
                        amount=Decimal("0.10"), open=True)
        try:
            store.save(wid, WorkflowState(), reserve=Reservation(charge, cap=cap))
            taken += 1
        except SpendCapExceeded:
            pass
    return taken


def test_two_threads_on_one_sqlite_file_never_pass_the_cap_together(tmp_path):
    """Two stores (as two tabs' threads) on one SQLite file reserve at once: BEGIN IMMEDIATE
    makes them take turns, so exactly the cap is reserved."""
    url = f"sqlite:///{tmp_path}/shared.sqlite3"
    stores = [WorkspaceStore(url), WorkspaceStore(url)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda s=s, t=t: counts.append(
        _reserve_many(s, t, 15, Decimal("1.00")))) for s, t in zip(stores, "ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 10
    assert stores[0].ledger_totals("https://real.test", "2026-11-26").committed == Decimal("1.00")


@pytest.mark.postgres
def test_two_processes_on_one_postgresql_never_pass_the_cap_together(tmp_path):
    """Two app processes on one PostgreSQL reserve concurrently: together they never pass
    the deployment cap (an advisory lock serialises the check and the write)."""
    url = os.environ.get("TEST_DATABASE_URL") or pytest.skip("no PostgreSQL")
    from tests.integration.test_store import pg_schema_url

    with pg_schema_url() as schema_url:
        WorkspaceStore(schema_url).close()  # the schema exists before the race
        script = textwrap.dedent(f"""
            import sys
            from decimal import Decimal
            sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
            from batchcore.adapters.store import WorkspaceStore
            from tests.integration.test_services import _reserve_many
            print(_reserve_many(WorkspaceStore(sys.argv[1]), sys.argv[2], 15, Decimal("1.00")))
        """)
        procs = [subprocess.Popen([sys.executable, "-c", script, schema_url, tag],
                                  stdout=subprocess.PIPE, text=True) for tag in "ab"]
        taken = [int(p.communicate(timeout=120)[0].strip()) for p in procs]
        assert sum(taken) == 10
        with WorkspaceStore(schema_url) as store:
            totals = store.ledger_totals("https://real.test", "2026-11-26")
        assert totals.committed == Decimal("1.00")
    assert url


# --- restarts ---------------------------------------------------------------------------------


def test_a_reservation_cut_off_before_sending_is_not_sent_after_a_restart(tmp_path):
    """The app stopped after reserving but before sending: on reopening, not sent, the
    receipt back, nothing billed."""
    from batchcore.domain.workflow import begin_image_submission

    rt = make_rt(tmp_path)
    ws = dry_ran(rt)
    hash_ = current_hash(ws.state)
    state, _ = begin_image_submission(ws.state, hash_, runner="gone-host:1:x")
    state = state.model_copy(update={"submissions": {hash_: state.submissions[hash_].model_copy(
        update={"started_at": datetime(2020, 1, 1, tzinfo=timezone.utc)})}})
    assert rt.store is not None
    rt.store.save(ws.id, state)
    opened = services.open_workspace(make_rt(tmp_path), ws.id).ws
    sub = opened.state.submissions[hash_]
    assert sub.state == "not_sent"
    assert can_generate(opened.state, hash_)
    assert billed_units(rt) == 0


def test_resume_all_finishes_open_work_with_no_page_open(tmp_path):
    """After a restart, work the server accepted is polled to the end by resume_all alone."""
    from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport

    emu = Emulator(EmulatorConfig(latency_ms=0, profile="brief"))
    settings = load_settings({"POLL_SECONDS": "0.05",
                              "DATABASE_URL": f"sqlite:///{tmp_path}/ws.sqlite3"})
    rt = build(settings, transport=EmulatorTransport(emu))
    out = confirm(rt, dry_ran(rt))
    hash_ = current_hash(out.ws.state)
    wait_for(lambda: bool(stored(rt, out.ws).state.submissions[hash_].poll_ids))
    # The process dies: its runner is gone; the stored submission names a dead process.
    import socket

    state = stored(rt, out.ws).state
    sub = state.submissions[hash_].model_copy(update={"runner": f"{socket.gethostname()}:4194303:x"})
    rt.runner.wait(services.job_key(out.ws.id, hash_), timeout=30)
    assert rt.store is not None
    open_charge = Charge(workspace_id=out.ws.id, key=sub.key, deployment="mock",
                         day=sub.started_at.date().isoformat(), kind="images", state="accepted",
                         amount=sub.cost, open=True)
    rt.store.save(out.ws.id, state.model_copy(update={"submissions": {hash_: sub}}),
                  charges=[open_charge])
    again = build(settings, transport=EmulatorTransport(emu), store=rt.store)
    assert services.resume_all(again) == 1
    final = settled(again, out.ws).state
    assert final.submissions[hash_].state == "completed"
    assert sum(c.count for c in emu.ledger.charges) == 3


def test_the_sidebar_notes_say_who_spends_and_how_durable_the_cap_is(tmp_path):
    """With a real key and no sign-in: one team, one cap; with the default SQLite file: it is
    lost on a hosted reboot. Mock mode says neither."""
    from tests.conftest import fake_key

    assert services.deployment_notes(make_rt(tmp_path)) == []
    real = build(load_settings({"ORCHESTRATOR_API_KEY": fake_key("n")}),
                 store=WorkspaceStore(f"sqlite:///{tmp_path}/real.sqlite3"))
    notes = services.deployment_notes(real)
    assert any("one team" in n for n in notes) and any("DATABASE_URL" in n for n in notes)
    assert not any("one team" in n for n in services.deployment_notes(real, signed_in=True))
