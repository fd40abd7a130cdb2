"""The studio as a daily tool (issue 12): workspaces that follow you, no lost first click,
full-size viewing, progress where you look, what is sent is what is shown."""

from __future__ import annotations

import io
import time

from PIL import Image

from batchcore.domain.naming import workspace_name
from batchcore.domain.workflow import in_flight
from studio.runtime import latest_runtime
from tests.app.conftest import (
    approve,
    click_picture,
    confirm_generate,
    drop_zone,
    dry_run,
    emulator,
    enter_batch,
    gallery,
    make_app,
    pictures,
    send_intent,
    texts,
    unescape,
    wait_until_idle,
)


def _w(at) -> str:
    value = at.query_params.get("w", "")
    return value[0] if isinstance(value, list) else value


def _stored_ids() -> list[str]:
    rt = latest_runtime()
    assert rt is not None and rt.store is not None
    return [s.workspace_id for s in rt.store.list_workspaces()]


def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


# --- 1. workspaces follow the person ----------------------------------------------------------


def test_a_bare_visit_leaves_no_workspace_behind(app):
    """Opening the page (and rerunning it) stores nothing and puts no ?w= in the address."""
    app.run()
    app.switch_page("pages/history.py").run()
    assert _stored_ids() == []
    assert _w(app) == ""
    assert "No workspace yet." in texts(app)


def test_the_first_change_stores_the_workspace_and_gives_it_a_link(app):
    """Typing a prompt stores the workspace and puts its id in the address."""
    app.radio(key="mode").set_value("Single").run()
    assert _stored_ids() == []
    app.text_area(key="single_prompt").input("A quiet harbour at dawn").run()
    assert _stored_ids() == [_w(app)]


def test_studio_history_studio_keeps_the_workspace(app):
    """Switching to History and back (which drops ?w=) reopens the same workspace with its work."""
    enter_batch(app)
    wid = _w(app)
    app.switch_page("pages/history.py").run()
    assert _w(app) == wid
    app.query_params.clear()  # st.navigation's own menu drops the query string
    app.switch_page("app_page.py").run()
    assert _w(app) == wid
    assert len(app.session_state["wf"].draft.rows) == 3
    assert app.text_area(key="batch_text").value.startswith("SCENE-001 |")
    assert _stored_ids() == [wid]


def test_a_page_switch_keeps_references_and_the_name(app):
    """Going to History and back (the drop zone comes back empty) keeps references and name."""
    app.file_uploader(key="uploader").set_value([("red.png", _png((200, 30, 30)), "image/png")])
    app.run()
    enter_batch(app)
    app.text_input(key="workspace_name").input("Kitchen pass").run()
    app.switch_page("pages/history.py").run()
    app.switch_page("app_page.py").run()
    state = app.session_state["wf"]
    assert [r.name for r in state.references] == ["red.png"]
    assert all(r.ref_urls for r in state.draft.rows)
    assert app.text_input(key="workspace_name").value == "Kitchen pass"


def test_back_to_another_workspace_link_opens_it(app, tmp_path):
    """After "New workspace", the address of the first one (browser Back) opens it again."""
    enter_batch(app)
    first = _w(app)
    app.button(key="new_workspace").click().run()
    assert _w(app) == "" and not app.session_state["wf"].draft.rows
    assert _stored_ids() == [first]  # the new, empty one is not stored
    app.query_params["w"] = first  # Back
    app.run()
    assert app.session_state["wf"].draft.rows
    app.query_params.clear()  # Forward, to the bare address of the new one
    app.run()
    assert not app.session_state["wf"].draft.rows
    assert _stored_ids() == [first]


def test_workspaces_have_a_default_name_and_can_be_renamed(app):
    """After a dry-run the sidebar names the workspace by first scene and time; a rename sticks."""
    enter_batch(app)
    dry_run(app)
    name = app.text_input(key="workspace_name").value
    assert name.startswith("SCENE-001 · ")
    app.text_input(key="workspace_name").input("Kitchen pass").run()
    assert workspace_name(app.session_state["wf"]) == "Kitchen pass"
    assert app.text_input(key="workspace_name").value == "Kitchen pass"
    assert "renamed Kitchen pass" in texts(app)


def test_the_sidebar_lists_recent_workspaces_by_name(app):
    """Earlier workspaces appear in the sidebar's recent list under their names, as links."""
    enter_batch(app)
    app.text_input(key="workspace_name").input("Kitchen pass").run()
    first = _w(app)
    app.button(key="new_workspace").click().run()
    app.radio(key="mode").set_value("Single").run()
    app.text_area(key="single_prompt").input("a harbour").run()
    links = [(p.proto.label, p.proto.page) for p in app.get("page_link")]
    labels = [label for label, _ in links]
    assert "Kitchen pass" in labels
    assert _w(app) != first


# --- 2. no lost first click ----------------------------------------------------------------


def test_typing_then_one_click_on_dry_run_works(app):
    """The prompt typed and Dry-Run Images clicked in the same interaction make a receipt."""
    app.radio(key="mode").set_value("Single").run()
    app.text_area(key="single_prompt").input("A quiet harbour at dawn")
    app.button(key="dry_run").click().run()
    assert len(app.session_state["wf"].receipts) == 1
    assert not app.button(key="generate").disabled


def test_dry_run_before_anything_is_typed_says_why(app):
    """Dry-Run Images is enabled on an empty page and answers with the reason."""
    assert not app.button(key="dry_run").disabled
    dry_run(app)
    assert "Nothing to dry-run: write a prompt or fix the batch first." in texts(app)
    assert emulator().ledger.charges == []


def test_typing_the_count_then_one_click_on_confirm_makes_the_clips(app):
    """The clip count typed and Confirm clicked in the same interaction start the videos."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-001", 1)
    app.button(key="generate_video").click().run()
    app.text_input(key="video_typed").input("1")
    app.button(key="video_go").click().run()
    wait_until_idle(app)
    assert list(app.session_state["wf"].videos) == ["SCENE-001"]


# --- 3. see what you approve --------------------------------------------------------------


def test_cards_show_every_variant_of_the_latest_take(app):
    """The gallery shows one picture per variant, each a control named Approve <scene> #<n>,
    loaded from the app's own picture route."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    shown = pictures(app)
    assert [p.label for p in shown] == [
        "Approve SCENE-001 #1", "Approve SCENE-001 #2", "Approve SCENE-002 #1",
        "Approve SCENE-002 #2", "Approve SCENE-002 #3", "Approve SCENE-003 #1"]
    assert all(p.src.startswith("/api/pictures/") and "?t=" in p.src for p in shown)
    assert len(app.image) == 0  # no Streamlit image element: the component draws them all
    assert gallery(app)["summary"] == "0 of 3 scenes approved"


def test_a_click_approves_a_second_click_withdraws_and_both_are_logged(app):
    """Click a picture: it is the scene's pick (one per scene); click it again: no pick. The
    status log says both."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    click_picture(app, "SCENE-002", 2)
    assert app.session_state["wf"].approvals["SCENE-002"].image.variant == 2
    click_picture(app, "SCENE-002", 3)
    assert app.session_state["wf"].approvals["SCENE-002"].image.variant == 3
    assert [p.variant for p in pictures(app) if p.approved] == [3]
    assert gallery(app)["summary"] == "1 of 3 scenes approved"
    click_picture(app, "SCENE-002", 3)
    assert "SCENE-002" not in app.session_state["wf"].approvals
    log = [(e.status, e.message) for e in app.session_state["wf"].log if e.scene_id == "SCENE-002"]
    assert ("approved", "variant #2") in log and ("unapproved", "variant #3") in log


def test_an_intent_not_of_the_gallerys_shape_changes_nothing(app):
    """A forged or stale intent (unknown kind, a key of no picture, a withdrawn pick that has
    moved on) is ignored or refused with a sentence; nothing else changes."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-001", 1)
    before = app.session_state["wf"].approvals
    send_intent(app, "delete_everything", "SCENE-001", "0" * 32)
    send_intent(app, "unapprove", "SCENE-001", "0" * 32)
    assert app.session_state["wf"].approvals == before
    send_intent(app, "approve", "SCENE-001", "f" * 32)
    assert app.session_state["wf"].approvals == before
    assert "not among the results any more" in texts(app)


# --- 4. progress where the person looks --------------------------------------------------------


def test_progress_and_elapsed_show_next_to_generate_and_a_toast_says_done(tmp_path):
    """While a batch runs, per-scene progress and elapsed time sit by Generate; then a toast."""
    at = make_app(tmp_path, MOCK_PROFILE="brief", POLL_SECONDS="0.3", MOCK_LATENCY_MS="300").run()
    enter_batch(at)
    dry_run(at)
    at.button(key="generate").click().run()
    at.button(key="confirm_images_go").click().run()
    shown = texts(at)
    assert "of 3 scenes done" in shown or any("scenes done" in str(p.proto.text)
                                              for p in at.progress)
    assert "elapsed" in shown
    assert "SCENE-002:" in shown
    toasts: list[str] = []
    for _ in range(200):  # each run shows the toast once, in the run that saw the finish
        at.run()
        toasts += [str(t.value) for t in at.toast]
        if not in_flight(at.session_state["wf"]) and toasts:
            break
        time.sleep(0.05)
    assert "Images ready: 6 generated." in [unescape(t) for t in toasts]
    at.run()
    assert "Generating 6 image(s)" not in texts(at)


# --- 5. what is sent is what is shown -----------------------------------------------------


def test_after_an_upload_the_drop_zone_is_empty_and_a_chip_removes_its_reference(app):
    """Sent files leave the drop zone (a new, empty one; the old one's files are gone); a chip's Remove detaches its reference from every row."""
    drop_zone(app).set_value([
        ("red.png", _png((200, 30, 30)), "image/png"),
        ("blue.png", _png((30, 30, 200)), "image/png"),
    ]).run()
    enter_batch(app)
    assert [r.name for r in app.session_state["wf"].references] == ["red.png", "blue.png"]
    assert [u.key for u in app.get("file_uploader") if u.key.startswith("uploader")] \
        == ["uploader_1"]
    assert not drop_zone(app).value
    app.run()  # an empty drop zone detaches nothing
    assert [r.name for r in app.session_state["wf"].references] == ["red.png", "blue.png"]
    red = app.session_state["wf"].references[0]
    app.button(key=f"rm_ref_0_{red.sha256[:8]}").click().run()
    state = app.session_state["wf"]
    assert [r.name for r in state.references] == ["blue.png"]
    assert all(r.ref_urls == (state.references[0].url,) for r in state.draft.rows)
    drop_zone(app).set_value([("green.png", _png((30, 200, 30)), "image/png")]).run()
    state = app.session_state["wf"]
    assert [r.name for r in state.references] == ["blue.png", "green.png"]
    assert all(r.ref_urls == tuple(x.url for x in state.references) for r in state.draft.rows)


def test_the_retry_warning_goes_after_a_later_batch(app):
    """The failed-rows warning and Retry failed rows disappear once a later batch completes."""
    emulator().config.fail_scenes = frozenset({"SCENE-002"})
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    assert "1 row failed: SCENE-002." in texts(app)
    emulator().config.fail_scenes = frozenset()
    app.button(key="retry_failed").click().run()
    dry_run(app)
    confirm_generate(app)
    assert "1 row failed: SCENE-002." not in texts(app)
    assert not [b for b in app.button if b.key == "retry_failed"]


# --- 6. icons and video cost --------------------------------------------------------------


def test_the_video_button_shows_clips_and_cost_before_the_dialog(app):
    """Section 5 and its button say how many clips and what they cost before anything opens."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    for scene, n in (("SCENE-001", 1), ("SCENE-002", 2), ("SCENE-003", 1)):
        approve(app, scene, n)
    assert app.button(key="generate_video").label == "Generate Video — 3 clips, from $0.30"
    assert "$0.30 with veo3_fast" in texts(app) and "$1.50 with veo3" in texts(app)
    assert app.button(key="generate_video").proto.icon.startswith(":material/")


# --- 7. re-roll and History ---------------------------------------------------------------


def test_reroll_one_scene_needs_its_own_dry_run_and_keeps_approvals(app):
    """Re-roll loads the scene as a one-row batch: Generate stays off until its own dry-run."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-001", 2)
    charged = len(emulator().ledger.charges)
    send_intent(app, "reroll", "SCENE-002")
    state = app.session_state["wf"]
    assert [(r.scene_id, r.variants) for r in state.draft.rows] == [("SCENE-002", 3)]
    assert app.text_area(key="batch_text").value == "SCENE-002 | Cozy living room with fireplace | 3"
    assert app.button(key="generate").disabled
    assert "press Dry-Run Images to see its cost" in texts(app)
    dry_run(app)
    assert "press Dry-Run Images to see its cost" not in texts(app)
    assert not app.button(key="generate").disabled
    assert "$0.006" in texts(app)
    assert state.approvals["SCENE-001"].image.variant == 2
    assert len(emulator().ledger.charges) == charged


def test_history_is_a_gallery_with_names_and_mock_spend(app):
    """History shows each workspace by name with pictures and labels mock spend as mock."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    app.text_input(key="workspace_name").input("Kitchen pass").run()
    app.switch_page("pages/history.py").run()
    shown = texts(app)
    assert "Kitchen pass" in shown
    assert "mock (emulator, not real money)" in shown
    assert "Mock mode:" in shown
    assert sum(len(el.proto.imgs) for el in app.image) >= 3
    assert any(p.proto.label == "Open (current)" for p in app.get("page_link"))


def test_a_recent_batch_loads_back_in_one_click(app):
    """A batch dry-run in one workspace is offered in a new one and loads with one click,
    as a new batch that needs its own dry-run."""
    enter_batch(app)
    dry_run(app)
    app.button(key="new_workspace").click().run()
    app.run()
    assert app.session_state["wf"].draft.rows == ()
    app.button(key="load_recent_0").click().run()
    state = app.session_state["wf"]
    assert [r.scene_id for r in state.draft.rows] == ["SCENE-001", "SCENE-002", "SCENE-003"]
    assert not state.receipts  # its own dry-run is needed
    assert app.button(key="generate").disabled
