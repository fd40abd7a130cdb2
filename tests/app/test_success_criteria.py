"""The brief's success criteria, one test each, on the real page in mock mode."""

from __future__ import annotations

from tests.app.conftest import (
    pictures,
    approve,
    EXAMPLE,
    approve_buttons,
    confirm_generate,
    dry_run,
    emulator,
    enter_batch,
    label,
    texts,
    wait_until_idle,
)


def test_paste_2_to_10_lines_and_see_the_preview(app):
    """Pasting ten lines and pressing Parse shows every row with counts and the cost."""
    lines = "\n".join(f"S-{i:02d} | prompt number {i} | {1 + i % 3}" for i in range(1, 11))
    enter_batch(app, lines)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Rows"] == "10"
    assert metrics["Images"] == str(sum(1 + i % 3 for i in range(1, 11)))
    assert metrics["Estimated cost"] == "$0.04"
    grid = app.session_state["wf"].draft.rows
    assert [r.scene_id for r in grid] == [f"S-{i:02d}" for i in range(1, 11)]
    assert not app.exception


def test_paste_the_brief_example_and_see_the_preview(app):
    """The brief's three-line example parses into 3 rows, 6 images, $0.012."""
    enter_batch(app)
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Rows"], metrics["Images"], metrics["Estimated cost"]) == ("3", "6", "$0.012")


def test_dry_run_shows_cost_and_blocks_live_until_done(app):
    """Generate Images stays disabled, with its reason, until a dry-run of this batch completes."""
    enter_batch(app)
    assert app.button(key="generate").disabled
    assert "No dry-run yet" in texts(app)
    dry_run(app)
    assert "$0.012" in texts(app)
    assert "Dry-run receipt" in texts(app)
    assert not app.button(key="generate").disabled
    assert emulator().ledger.total() == 0


def test_live_returns_at_most_3_thumbnails_per_row(app):
    """After confirming, each scene shows its variants (never more than 3) with approve buttons."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    labels = sorted(label(b) for b in approve_buttons(app))
    assert labels == sorted([
        "Approve SCENE-001 #1", "Approve SCENE-001 #2",
        "Approve SCENE-002 #1", "Approve SCENE-002 #2", "Approve SCENE-002 #3",
        "Approve SCENE-003 #1",
    ])
    images = app.session_state["wf"].images
    assert all(len(v) <= 3 for v in images.values())
    assert sum(c.count for c in emulator().ledger.charges) == 6


def test_can_approve_exactly_one_image_per_scene(app):
    """Approving a second variant of a scene replaces the first; one approval per scene."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-002", 1)
    approve(app, "SCENE-002", 3)
    approvals = app.session_state["wf"].approvals
    assert list(approvals) == ["SCENE-002"]
    assert approvals["SCENE-002"].image.variant == 3
    assert [(p.scene, p.variant) for p in pictures(app) if p.approved] == [("SCENE-002", 3)]


def test_video_generation_requires_typed_count_confirmation(app):
    """The video confirm sends nothing and says why until the exact clip count is typed."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-001", 2)
    approve(app, "SCENE-003", 1)
    app.button(key="generate_video").click().run()
    before = len(emulator().ledger.charges)
    app.button(key="video_go").click().run()
    assert "Type the exact number of clips (2) to confirm; you typed ''." in texts(app)
    assert not app.session_state["wf"].videos
    app.text_input(key="video_typed").input("3").run()
    app.button(key="video_go").click().run()
    assert not app.session_state["wf"].videos
    assert len(emulator().ledger.charges) == before
    app.text_input(key="video_typed").input(" 2 ").run()
    assert len(emulator().ledger.charges) == before
    app.button(key="video_go").click().run()
    wait_until_idle(app)
    videos = app.session_state["wf"].videos
    assert sorted(videos) == ["SCENE-001", "SCENE-003"]
    assert all(v.status == "done" and v.url for v in videos.values())
    # the wrong counts were answered by the right one: their errors do not stay above the clips
    assert "Type the exact number of clips" not in texts(app)


def test_all_errors_show_clear_messages(app):
    """Malformed lines are listed with their line numbers and nothing is dropped or sent."""
    enter_batch(app, "SCENE-001 | ok | 2\nno separators here\nSCENE-003 | too many | 4\n")
    shown = texts(app) + "\n" + app.dataframe[0].value.to_string()
    assert "2 line(s) need fixing" in shown
    assert 'Expected "scene_id | prompt | variants"' in shown  # plain text: no markdown backticks
    assert "Variants must be from 1 to 3; found 4." in shown
    assert list(app.dataframe[0].value["line"]) == [2, 3]
    assert app.button(key="generate").disabled
    dry_run(app)  # the button answers with the reason instead of being disabled
    assert "Nothing to dry-run: write a prompt or fix the batch first." in texts(app)
    assert not app.session_state["wf"].receipts


def test_works_without_any_backend_changes(app):
    """The whole flow runs against the emulator of the real server's behaviour."""
    enter_batch(app, EXAMPLE)
    dry_run(app)
    confirm_generate(app)
    state = app.session_state["wf"]
    sub = next(iter(state.submissions.values()))
    assert sub.state == "completed"
    assert str(sub.actual_cost) == "0.012"
    assert "completed" in texts(app)


def test_editing_the_batch_after_a_dry_run_disables_generate(app):
    """Changing the batch after its dry-run turns Generate Images off again, with the reason."""
    enter_batch(app)
    dry_run(app)
    assert not app.button(key="generate").disabled
    app.text_area(key="batch_text").input(EXAMPLE.replace("| 1", "| 2")).run()
    assert app.button(key="generate").disabled
    app.button(key="parse").click().run()
    assert app.button(key="generate").disabled
    assert "The batch changed since the dry-run" in texts(app)


def _grid_key(app) -> str:
    return f"grid_{app.session_state['grid_version']}"


def test_editing_a_row_in_the_grid_after_a_dry_run_disables_generate(app):
    """A grid edit is checked again, changes the cost and the hash, and needs a new dry-run."""
    enter_batch(app)
    dry_run(app)
    app.session_state[_grid_key(app)] = {
        "edited_rows": {2: {"variants": 3}}, "added_rows": [], "deleted_rows": []}
    app.run()
    rows = app.session_state["wf"].draft.rows
    assert [r.variants for r in rows] == [2, 3, 3]
    assert {m.label: m.value for m in app.metric}["Estimated cost"] == "$0.016"
    assert app.button(key="generate").disabled
    assert "The batch changed since the dry-run" in texts(app)


def test_a_bad_grid_edit_is_an_error_naming_the_row(app):
    """An invalid scene id typed into the grid is reported with its grid row; nothing can be sent."""
    enter_batch(app)
    app.session_state[_grid_key(app)] = {
        "edited_rows": {1: {"scene_id": "bad/id"}}, "added_rows": [], "deleted_rows": []}
    app.run()
    assert "Grid row 2" in texts(app)
    dry_run(app)  # the button answers with the reason instead of being disabled
    assert "Nothing to dry-run: write a prompt or fix the batch first." in texts(app)
    assert not app.session_state["wf"].receipts
