"""Who may see and spend, through the services against the emulator and a real store:
workspaces belong to their signed-in owner, History lists only theirs, and SPEND_ALLOWLIST
refuses spending (nothing reaches the emulator's charge ledger)."""

from __future__ import annotations

from batchcore.domain import outcomes
from batchcore.domain.rows import parse_batch
from batchcore.domain.workflow import Inputs, current_hash
from batchcore.service_layer import services
from tests.integration.test_services import EXAMPLE, billed_units, make_rt, settled


def _stored(rt, owner: str) -> services.Workspace:
    """A new workspace of ``owner`` with a first change, so it is stored."""
    ws = services.new_workspace(rt, owner).ws
    inputs = Inputs(mode="batch", batch_text=EXAMPLE)
    ws = services.update_inputs(rt, ws, inputs, parse_batch("")).ws
    assert ws.id
    return ws


def _dry_ran(rt, owner: str) -> services.Workspace:
    ws = services.new_workspace(rt, owner).ws
    inputs = Inputs(mode="batch", batch_text=EXAMPLE, parsed_text=EXAMPLE)
    ws = services.update_inputs(rt, ws, inputs, parse_batch(EXAMPLE)).ws
    out = services.dry_run(rt, ws)
    assert not out.notices, out.notices
    return out.ws


def test_a_new_workspace_is_stamped_with_its_owner(tmp_path):
    """The owner is saved in the workspace itself, so it holds after a reload."""
    rt = make_rt(tmp_path)
    ws = _stored(rt, "alice@example.com")
    assert rt.store.load(ws.id).state.owner == "alice@example.com"


def test_another_account_gets_a_new_workspace_for_a_link(tmp_path):
    """Bob opening Alice's link gets his own new workspace and a sentence saying why."""
    rt = make_rt(tmp_path)
    alice = _stored(rt, "alice@example.com")
    out = services.open_workspace(rt, alice.id, "bob@example.com")
    assert out.ws.id != alice.id
    assert out.ws.state.owner == "bob@example.com"
    assert any("belongs to another account" in n.text for n in out.notices)
    again = services.open_workspace(rt, alice.id, "alice@example.com")
    assert again.ws.id == alice.id and not again.notices


def test_history_lists_only_the_owners_workspaces(tmp_path):
    """Signed in, History holds one's own workspaces; without sign-in, everyone's."""
    rt = make_rt(tmp_path)
    alice = _stored(rt, "alice@example.com")
    bob = _stored(rt, "bob@example.com")
    assert set(services.history_view(rt, "alice@example.com").states) == {alice.id}
    assert [s.workspace_id for s in services.history_view(rt, "bob@example.com").summaries] == [
        bob.id]
    assert set(services.history_view(rt, "").states) == {alice.id, bob.id}


def test_someone_not_on_the_allow_list_may_dry_run_but_not_confirm(tmp_path):
    """With SPEND_ALLOWLIST set, Bob's dry-run works, Generate is off with the reason, and a
    confirmation is refused with nothing billed."""
    rt = make_rt(tmp_path, SPEND_ALLOWLIST="alice@example.com")
    ws = _dry_ran(rt, "bob@example.com")
    gate = services.generate_gate(rt, ws, services.spend_view(rt, ws))
    assert not gate and "SPEND_ALLOWLIST" in gate.reason
    out = services.confirm_images(rt, ws, current_hash(ws.state))
    assert [n.level for n in out.notices] == ["error"]
    assert "not spend" in out.notices[0].text
    assert billed_units(rt) == 0
    assert not rt.store.load(ws.id).state.submissions


def test_someone_on_the_allow_list_may_spend_whatever_the_case_of_the_email(tmp_path):
    """Alice (listed in any case) confirms and is billed once; the ledger row names her."""
    rt = make_rt(tmp_path, SPEND_ALLOWLIST="Alice@Example.com, carol@example.com")
    ws = _dry_ran(rt, "alice@example.com")
    out = services.confirm_images(rt, ws, current_hash(ws.state))
    assert not any(n.level == "error" for n in out.notices), out.notices
    final = settled(rt, out.ws)
    assert billed_units(rt) == 3
    assert [s.owner for s in final.state.submissions.values()] == ["alice@example.com"]


def test_videos_are_refused_too_for_someone_not_on_the_list(tmp_path):
    """The clip confirmation goes through the same refusal: nothing reserved or billed."""
    rt = make_rt(tmp_path, SPEND_ALLOWLIST="alice@example.com")
    ws = _dry_ran(rt, "bob@example.com")
    plan = outcomes.plan_videos(ws.state, "veo3_fast", "16:9", 720)
    out = services.confirm_videos(rt, ws, plan, str(plan.clips))
    assert [n.level for n in out.notices] == ["error"]
    assert "SPEND_ALLOWLIST" in out.notices[0].text
    assert billed_units(rt) == 0
