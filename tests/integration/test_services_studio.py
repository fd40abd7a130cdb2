"""Services behind the studio page: lazy workspaces, names, the switcher, re-rolls, retries."""

from __future__ import annotations

import pytest
import stamina

from batchcore.domain.rows import parse_batch
from batchcore.domain.workflow import Inputs, current_hash, in_flight
from batchcore.service_layer import services
from tests.integration.test_services import EXAMPLE, drafted, make_rt, wait_for


@pytest.fixture(autouse=True)
def _no_waits():
    with stamina.set_testing(True, attempts=3):
        yield


def _generate(rt, ws):
    ws = services.dry_run(rt, ws).ws
    out = services.confirm_images(rt, ws, current_hash(ws.state))
    wait_for(lambda: not in_flight(services.sync(rt, out.ws).ws.state))
    return services.sync(rt, out.ws).ws


def test_a_new_workspace_is_stored_only_with_its_first_content(tmp_path):
    """Opening and syncing an empty workspace stores nothing; the first prompt stores it."""
    rt = make_rt(tmp_path)
    ws = services.new_workspace(rt).ws
    assert ws.id == ""
    ws = services.sync(rt, ws).ws
    same = services.update_inputs(rt, ws, ws.state.inputs, parse_batch("")).ws
    assert same.id == "" and rt.store.list_workspaces() == []
    inputs = Inputs(mode="single", single_prompt="a harbour")
    stored = services.update_inputs(rt, ws, inputs, parse_batch("X | a harbour | 1")).ws
    assert stored.id and rt.store.load(stored.id).state == stored.state
    assert [s.workspace_id for s in rt.store.list_workspaces()] == [stored.id]


def test_paid_actions_still_need_a_stored_workspace(tmp_path):
    """A dry-run stores the workspace, so Generate can reserve against it."""
    rt = make_rt(tmp_path)
    ws = drafted(rt)
    assert ws.id
    out = services.dry_run(rt, ws)
    assert services.may_spend(rt, out.ws)


def test_renaming_is_kept_and_listed_in_the_switcher(tmp_path):
    """A rename survives a reload and names the workspace in the recent list; blank is refused."""
    rt = make_rt(tmp_path)
    ws = drafted(rt)
    other = drafted(rt, "Z | other | 1")
    out = services.rename_workspace(rt, ws, "  Kitchen\npass ")
    assert services.open_workspace(rt, ws.id).ws.state == out.ws.state
    recent = {r.workspace_id: r.name for r in services.recent_workspaces(rt)}
    assert recent[ws.id] == "Kitchen pass"
    assert recent[other.id] == "Z"  # no date until something has happened in it
    refused = services.rename_workspace(rt, out.ws, "   ")
    assert [n.level for n in refused.notices] == ["error"]


def test_the_switcher_hides_other_peoples_workspaces(tmp_path):
    """With sign-in, recent workspaces are only those of the signed-in person (or shared)."""
    rt = make_rt(tmp_path)
    mine = services.update_inputs(rt, services.new_workspace(rt, "me").ws,
                                  Inputs(batch_text="A | a | 1"), parse_batch("A | a | 1")).ws
    services.update_inputs(rt, services.new_workspace(rt, "you").ws,
                           Inputs(batch_text="B | b | 1"), parse_batch("B | b | 1"))
    assert [r.workspace_id for r in services.recent_workspaces(rt, "me")] == [mine.id]


def test_dry_run_after_editing_unparsed_text_says_press_parse(tmp_path):
    """A dry-run click with batch text changed since Parse says why and asks the server nothing."""
    rt = make_rt(tmp_path)
    ws = drafted(rt)
    inputs = ws.state.inputs.model_copy(update={"batch_text": EXAMPLE + "C | c | 1\n"})
    ws = services.update_inputs(rt, ws, inputs, parse_batch(EXAMPLE)).ws
    out = services.dry_run(rt, ws)
    assert "press Parse first" in out.notices[0].text
    assert out.ws.state.receipts == {}


def test_retry_warning_goes_once_a_later_batch_completes(tmp_path):
    """Failed rows are offered for retry until a later image batch completes."""
    rt = make_rt(tmp_path)
    rt.emulator.config.fail_scenes = frozenset({"B"})
    ws = _generate(rt, drafted(rt))
    assert services.failed_rows(ws) == ["B"]
    rt.emulator.config.fail_scenes = frozenset()
    ws = services.retry_failed_rows(rt, ws).ws
    ws = _generate(rt, ws)
    assert services.failed_rows(ws) == []
    assert services.retry_failed_rows(rt, ws).notices[0].text == "No failed rows to retry."


def test_reroll_loads_one_row_that_needs_its_own_dry_run(tmp_path):
    """Re-rolling a scene makes a one-row batch; approvals stay; Generate waits for a dry-run."""
    rt = make_rt(tmp_path)
    ws = _generate(rt, drafted(rt))
    ws = services.approve_image(rt, ws, "A", 2).ws
    charged = len(rt.emulator.ledger.charges)
    out = services.reroll_scene(rt, ws, "B")
    rows = out.ws.state.draft.rows
    assert [(r.scene_id, r.prompt, r.variants) for r in rows] == [("B", "hallway", 1)]
    assert out.ws.state.approvals["A"].image.variant == 2
    gate = services.generate_gate(rt, out.ws, services.spend_view(rt, out.ws))
    assert not gate and "Dry-Run Images" in gate.reason
    assert len(rt.emulator.ledger.charges) == charged


def test_parse_is_saved_at_once_and_keeps_what_else_was_typed(tmp_path):
    """parse_text stores the parsed batch and grid at once, keeps Single's fields, logs nothing."""
    rt = make_rt(tmp_path)
    ws = services.new_workspace(rt).ws
    ws = services.update_inputs(rt, ws, Inputs(mode="single", single_prompt="a harbour"),
                                parse_batch("X | a harbour | 1")).ws
    out = services.parse_text(rt, ws, EXAMPLE)
    stored = rt.store.load(out.ws.id).state
    assert stored == out.ws.state
    assert [(r.scene_id, r.variants) for r in stored.draft.rows] == [("A", 2), ("B", 1)]
    assert stored.inputs.parsed_text == EXAMPLE and len(stored.inputs.grid) == 2
    assert stored.inputs.mode == "batch" and stored.inputs.single_prompt == "a harbour"
    assert len(stored.log) == len(ws.state.log)


def test_a_paid_call_waiting_for_a_worker_is_queued_and_sends_nothing_until_it_starts(tmp_path):
    """With every worker busy, Confirm reserves the call, says it is queued, and sends it later."""
    import threading

    from batchcore.adapters.jobs import JobRunner
    from batchcore.bootstrap import build
    from batchcore.config import load_settings

    rt = build(load_settings({"MOCK_LATENCY_MS": "0", "POLL_SECONDS": "0.02",
                              "DATABASE_URL": f"sqlite:///{tmp_path}/ws.sqlite3"}),
               runner=JobRunner(max_workers=1))
    gate = threading.Event()
    rt.runner.start("someone-else", "videos", lambda job: gate.wait(10))
    try:
        ws = services.dry_run(rt, drafted(rt)).ws
        hash_ = current_hash(ws.state)
        out = services.confirm_images(rt, ws, hash_)
        assert services.queued_work(rt, out.ws) == {hash_: 0}
        assert out.ws.state.submissions[hash_].state == "reserved"
        assert rt.emulator.ledger.charges == []
    finally:
        gate.set()
    wait_for(lambda: not in_flight(services.sync(rt, out.ws).ws.state))
    done = services.sync(rt, out.ws).ws
    assert services.queued_work(rt, done) == {}
    assert done.state.submissions[hash_].state == "completed"
    assert sum(c.count for c in rt.emulator.ledger.charges) == 3


def test_two_workspaces_sending_the_same_batch_at_once_each_get_their_own_call(tmp_path):
    """The same batch confirmed in two workspaces at once: both run, both finish, each billed once."""
    rt = make_rt(tmp_path)
    first = services.dry_run(rt, drafted(rt)).ws
    second = services.dry_run(rt, drafted(rt)).ws
    hash_ = current_hash(first.state)
    assert current_hash(second.state) == hash_
    confirmed = [services.confirm_images(rt, ws, hash_).ws for ws in (first, second)]
    wait_for(lambda: not any(in_flight(services.sync(rt, ws).ws.state) for ws in confirmed))
    done = [services.sync(rt, ws).ws.state for ws in confirmed]
    assert [s.submissions[hash_].state for s in done] == ["completed", "completed"]
    assert [sum(len(v) for v in s.images.values()) for s in done] == [3, 3]
    assert sum(c.count for c in rt.emulator.ledger.charges) == 6
