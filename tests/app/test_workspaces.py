"""Workspaces: a refresh or a restart restores everything; cut-off paid calls are never resent."""

from __future__ import annotations

import io

from PIL import Image
from streamlit.testing.v1 import AppTest

from batchcore.adapters.store import WorkspaceStore
from batchcore.domain.workflow import (
    begin_image_submission,
    make_receipt,
    mark_sent,
    record_dry_run,
)
from tests.app.conftest import (
    pictures,
    approve,
    confirm_generate,
    dry_run,
    emulator,
    enter_batch,
    make_app,
    texts,
    wait_until_idle,
)


def _reopen(tmp_path, wid: str, *, restart: bool, **secrets: str) -> AppTest:
    at = make_app(tmp_path, clear=restart, **secrets)
    at.query_params["w"] = wid
    return at.run()


def test_refresh_restores_rows_receipts_approvals_and_log(app, tmp_path):
    """A new session with the same ?w= shows exactly the same workflow state and inputs."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-002", 2)
    wid = app.query_params["w"][0] if isinstance(app.query_params["w"], list) else app.query_params["w"]
    before = app.session_state["wf"]
    again = _reopen(tmp_path, wid, restart=False)
    after = again.session_state["wf"]
    assert after.draft == before.draft
    assert after.receipts == before.receipts
    assert after.approvals == before.approvals
    assert after.log == before.log
    assert again.text_area(key="batch_text").value == app.text_area(key="batch_text").value
    assert [(p.scene, p.variant) for p in pictures(again) if p.approved] == [("SCENE-002", 2)]


def test_restart_mid_call_marks_outcome_unknown_and_sends_nothing(tmp_path):
    """A paid call in flight when the app restarted is shown as outcome unknown, never resent."""
    from batchcore import parse_batch
    from batchcore.domain.workflow import WorkflowState, with_draft

    store = WorkspaceStore(f"sqlite:///{tmp_path}/workspaces.sqlite3")
    rows = parse_batch("A-1 | a prompt | 2").rows
    state = with_draft(WorkflowState(), "batch", parse_batch("A-1 | a prompt | 2"))
    receipt = make_receipt("batch", rows)
    state, _ = begin_image_submission(record_dry_run(state, receipt), receipt.batch_hash)
    state = mark_sent(state, receipt.batch_hash)  # it had left when the app stopped
    wid = store.new_workspace(state)
    at = _reopen(tmp_path, wid, restart=True)
    sub = at.session_state["wf"].submissions[receipt.batch_hash]
    assert sub.state == "outcome_unknown"
    assert "restarted" in texts(at)
    assert emulator().ledger.charges == []


def test_an_unknown_workspace_link_starts_fresh_with_a_message(app, tmp_path):
    """A bookmark to a workspace that does not exist gives a clear message and a new workspace."""
    at = _reopen(tmp_path, "A" * 22, restart=False)
    assert at.session_state["wf"].draft.rows == ()
    assert "workspace" in texts(at).lower()
    assert not at.exception


def test_uploaded_references_show_as_chips_and_bad_files_say_why(app):
    """A PNG becomes a chip attached to every row; a text file posing as PNG is refused."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
    app.file_uploader(key="uploader").set_value([
        ("red.png", buf.getvalue(), "image/png"),
        ("notes.png", b"just text", "image/png"),
    ]).run()
    state = app.session_state["wf"]
    assert [r.name for r in state.references] == ["red.png"]
    assert "notes.png" in texts(app)
    enter_batch(app)
    assert all(r.ref_urls == (state.references[0].url,) for r in app.session_state["wf"].draft.rows)


def test_restart_while_polling_resumes_polling_and_bills_once(tmp_path):
    """A job the server is still working on is polled again after a restart, never resent."""
    from batchcore.adapters.jobs import JobRunner
    from studio.runtime import latest_runtime

    at = make_app(tmp_path, MOCK_PROFILE="brief", POLL_SECONDS="0.3").run()
    enter_batch(at)
    dry_run(at)
    at.button(key="generate").click().run()
    at.button(key="confirm_images_go").click().run()
    rt = latest_runtime()
    old = rt.runner
    for _ in range(100):  # until the server has answered with a job id to poll
        job = next(iter(old.running()), None)
        if job is not None and job.poll_ids:
            break
        old.wait("", timeout=0.05)
    at.run()
    sub = next(iter(at.session_state["wf"].submissions.values()))
    assert sub.poll_ids and sub.state == "accepted"
    # The process "restarts": its runner (and the thread polling) is gone; the server is not.
    rt.runner = JobRunner()
    wid = at.query_params["w"][0] if isinstance(at.query_params["w"], list) else at.query_params["w"]
    store = rt.store
    state = store.load(wid).state
    import socket

    # The same host, a process that no longer exists: a restart, not another replica.
    dead = sub.model_copy(update={"runner": f"{socket.gethostname()}:4194303:old"})
    store.save(wid, state.model_copy(update={"submissions": {sub.batch_hash: dead}}))
    again = make_app(tmp_path, clear=False, MOCK_PROFILE="brief", POLL_SECONDS="0.3")
    again.query_params["w"] = wid
    again.run()
    wait_until_idle(again)
    final = again.session_state["wf"]
    assert final.submissions[sub.batch_hash].state == "completed"
    assert sum(len(v) for v in final.images.values()) == 6
    assert sum(c.count for c in emulator().ledger.charges) == 6
    assert "resumed" in texts(again)
    old.wait(sub.batch_hash, timeout=30)
