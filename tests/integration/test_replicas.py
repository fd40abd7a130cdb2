"""Paid work left by a replica that died, on one PostgreSQL shared by replicas.

A replica stamps each paid call with its process token (``host:pid:boot:scope``). A
restarted container keeps its host name and often its pid (PID 1) but not its pid namespace;
a container beside it may share the host name and the pid. These tests hold the rules for
both: a previous process of our own pid and scope is dead at once; a token of another scope
is left alone until its grace has passed, then the sweep (``services.keep_resuming``)
settles it without any page open, and nothing is ever resent.

PostgreSQL: ``TEST_DATABASE_URL`` (see ``tests/integration/test_store.py``).
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest
import stamina

from batchcore.adapters.jobs import process_token
from batchcore.adapters.store import Charge, WorkspaceStore
from batchcore.bootstrap import Runtime, build
from batchcore.config import load_settings
from batchcore.domain.workflow import (
    WorkflowState,
    begin_image_submission,
    current_hash,
    mark_sent,
)
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.service_layer import services
from batchcore.service_layer.services import Workspace
from tests.integration.test_services import EXAMPLE, dry_ran, settled, stored, wait_for
from tests.integration.test_store import pg_schema_url

pytestmark = pytest.mark.postgres

SCOPED = len(process_token().split(":")) == 4


@pytest.fixture(autouse=True)
def _no_waits():
    """Client retries do not sleep in these tests."""
    with stamina.set_testing(True, attempts=3):
        yield


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL schema of the test server."""
    with pg_schema_url() as url:
        WorkspaceStore(url).close()
        yield url


def replica(url: str, emu: Emulator) -> Runtime:
    """One app process (mock mode against ``emu``) on the shared PostgreSQL."""
    return build(load_settings({"DATABASE_URL": url, "POLL_SECONDS": "0.02",
                                "LIVE_READ_TIMEOUT": "1"}), transport=EmulatorTransport(emu))


def token(pid: int, scope: str) -> str:
    return f"{socket.gethostname()}:{pid}:0123456789ab:{scope}"


def left_by(rt: Runtime, ws: Workspace, state: WorkflowState, runner: str,
            started: datetime) -> str:
    """Store ``state``'s one submission as left open by ``runner``, with its open charge."""
    hash_, sub = next(iter(state.submissions.items()))
    sub = sub.model_copy(update={"runner": runner, "started_at": started,
                                 "deployment": rt.deployment})
    assert rt.store is not None
    rt.store.save(ws.id, state.model_copy(update={"submissions": {hash_: sub}}),
                  charges=[Charge(workspace_id=ws.id, key=sub.key, deployment=rt.deployment,
                                  day=started.date().isoformat(), kind="images",
                                  state=sub.state, amount=sub.cost, open=True)])
    return hash_


def sweep_once(rt: Runtime) -> None:
    """One pass of the sweep every replica runs (the stop is already set)."""
    stop = threading.Event()
    stop.set()
    services.keep_resuming(rt, stop=stop)


@pytest.mark.skipif(not SCOPED, reason="process tokens carry no scope on this system")
def test_a_restarted_container_settles_what_its_previous_process_left(pg_url):
    """Same host name, same pid, same scope, another boot: the previous process is dead, so its accepted work is polled to the end at once, not resent."""
    emu = Emulator(EmulatorConfig(latency_ms=0, profile="brief"))
    before = replica(pg_url, emu)
    ws = dry_ran(before)
    services.confirm_images(before, ws, current_hash(ws.state))
    done = settled(before, ws)
    billed = sum(c.count for c in emu.ledger.charges)
    # what the killed process left: accepted, ids to poll, no images yet, the charge open
    hash_, sub = next(iter(done.state.submissions.items()))
    accepted = done.state.model_copy(update={"images": {}, "submissions": {hash_: sub.model_copy(
        update={"state": "accepted", "actual_cost": None, "produced": None,
                "finished_at": None})}})
    left_by(before, ws, accepted, token(os.getpid(), process_token().split(":")[3]),
            datetime.now(timezone.utc))

    sweep_once(replica(pg_url, emu))

    final = settled(before, ws).state
    assert final.submissions[hash_].state == "completed"
    assert sum(len(v) for v in final.images.values()) == 3
    assert sum(c.count for c in emu.ledger.charges) == billed
    assert before.store is not None
    assert before.store.open_workspaces(before.deployment) == []


def test_a_container_besides_us_is_left_alone_until_its_grace_then_settled(pg_url):
    """Same host name and pid but another pid namespace: its call in flight is untouched within its grace, then the sweep marks it outcome unknown, counted and never resent."""
    emu = Emulator(EmulatorConfig(latency_ms=0))
    rt = replica(pg_url, emu)
    ws = dry_ran(rt, EXAMPLE)
    hash_ = current_hash(ws.state)
    state, _ = begin_image_submission(ws.state, hash_, sid="sibling-call")
    state = mark_sent(state, hash_)
    sibling = token(os.getpid(), "ffffffff")
    now = datetime.now(timezone.utc)

    left_by(rt, ws, state, sibling, now)
    sweep_once(rt)
    assert stored(rt, ws).state.submissions[hash_].state == "sent"

    left_by(rt, stored(rt, ws), state, sibling, now - timedelta(minutes=10))
    sweep_once(rt)
    wait_for(lambda: stored(rt, ws).state.submissions[hash_].state != "sent")
    assert stored(rt, ws).state.submissions[hash_].state == "outcome_unknown"
    assert rt.store is not None
    day = (now - timedelta(minutes=10)).date().isoformat()
    totals = rt.store.ledger_totals(rt.deployment, day)
    assert totals.reserved == 0 and totals.spent == state.submissions[hash_].cost
    assert len(emu.ledger.charges) == 0
