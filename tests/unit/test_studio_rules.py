"""Pure rules behind the studio page: workspace names, navigation, progress, gallery, references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.gallery import (
    card_urls,
    download_name,
    gallery_cards,
    gallery_urls,
    reroll_text,
    scene_takes,
    video_button_label,
    video_step_text,
)
from batchcore.domain.naming import (
    MAX_NAME,
    clean_name,
    default_name,
    has_content,
    name_entry,
    workspace_name,
)
from batchcore.domain.navigation import UNSTORED, choose_workspace
from batchcore.domain.progress import elapsed_text, finished_message, work_progress
from batchcore.domain.refsync import drop_zone_key
from batchcore.domain.rows import parse_batch
from batchcore.domain.statuslog import log_entry
from batchcore.domain.workflow import (
    Approval,
    GeneratedImage,
    Inputs,
    Submission,
    VideoClip,
    WorkflowState,
    append_log,
    make_receipt,
    record_dry_run,
)

T0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
ROWS = parse_batch("SCENE-001 | kitchen | 2\nSCENE-002 | hallway | 1").rows


def _img(scene: str, variant: int, batch: str = "batch_1") -> GeneratedImage:
    return GeneratedImage(scene_id=scene, variant=variant, url=f"https://x/{batch}/{scene}/{variant}.png",
                          thumbnail_url=f"https://x/{batch}/{scene}/{variant}_t.png",
                          job_id=f"{batch}_{scene}_{variant - 1}", batch_id=batch, prompt="kitchen")


# --- names ------------------------------------------------------------------------------------


def test_an_empty_workspace_has_no_content_and_a_placeholder_name():
    """A fresh state is not worth storing and is called "Untitled workspace"."""
    assert not has_content(WorkflowState())
    assert workspace_name(WorkflowState()) == "Untitled workspace"


def test_typing_anything_is_content():
    """A prompt, a batch text or a log line each make a workspace worth storing."""
    assert has_content(WorkflowState(inputs=Inputs(single_prompt="x")))
    assert has_content(WorkflowState(inputs=Inputs(batch_text="A | b | 1")))
    assert has_content(append_log(WorkflowState(), log_entry("uploaded", "a.png", now=T0)))
    assert not has_content(WorkflowState(inputs=Inputs(mode="single")))


def test_default_name_is_first_scene_and_first_moment():
    """After a dry-run the name is the first scene id and the (UTC) day and time it began."""
    state = record_dry_run(WorkflowState(), make_receipt("batch", ROWS, now=T0))
    assert default_name(state) == "SCENE-001 · 2026-05-04 09:30"


def test_the_latest_rename_wins_and_is_cleaned():
    """Renames are log lines; the newest one is the name, one line and at most 60 characters."""
    state = append_log(WorkflowState(), name_entry("Kitchen   pass", T0),
                       name_entry("Final\nkitchen " + "x" * 100, T0 + timedelta(seconds=1)))
    name = workspace_name(state)
    assert name.startswith("Final kitchen x") and len(name) == MAX_NAME
    assert "\n" not in name


@given(st.text())
def test_clean_names_are_single_line_and_short(text):
    """Whatever is typed, a kept name is one line of at most MAX_NAME characters."""
    name = clean_name(text)
    assert len(name) <= MAX_NAME and "\n" not in name and name == name.strip()


# --- navigation -------------------------------------------------------------------------------


def test_a_new_session_opens_the_link_or_starts_fresh():
    """A first visit opens ?w= when given, else an empty unstored workspace."""
    assert choose_workspace("abc", None, page_changed=False).action == "open"
    assert choose_workspace("", None, page_changed=False).action == "fresh"


def test_a_page_switch_that_drops_the_link_keeps_the_workspace():
    """Studio → History → Studio without ?w= keeps the session's workspace and puts the link back."""
    choice = choose_workspace("", "abc", page_changed=True)
    assert (choice.action, choice.workspace_id, choice.set_address) == ("keep", "abc", True)


def test_back_and_forward_follow_the_address():
    """Another ?w= opens that workspace; a bare address on the same page is the new empty one."""
    assert choose_workspace("other", "abc", page_changed=False).action == "open"
    assert choose_workspace("abc", "abc", page_changed=False).action == "keep"
    assert choose_workspace("", "abc", page_changed=False).action == "fresh"
    assert choose_workspace("", UNSTORED, page_changed=False).action == "keep"


# --- progress and the finished toast ---------------------------------------------------------


def _running() -> WorkflowState:
    receipt = make_receipt("batch", ROWS, now=T0)
    sub = Submission(batch_hash=receipt.batch_hash, kind="images", state="accepted",
                     cost=Decimal("0.006"), started_at=T0, progress=0.5)
    state = record_dry_run(WorkflowState(), receipt)
    state = state.model_copy(update={"submissions": {receipt.batch_hash: sub}})
    return append_log(state, log_entry("completed", "2 images", scene_id="SCENE-001",
                                       now=T0 + timedelta(seconds=3)))


def test_progress_lists_each_scene_and_the_elapsed_time():
    """A running batch shows each scene's state, the fraction and the seconds since it started."""
    [item] = work_progress(_running(), T0 + timedelta(seconds=75))
    assert [(s.scene_id, s.status) for s in item.scenes] == [("SCENE-001", "completed"),
                                                             ("SCENE-002", "running")]
    assert item.fraction == 0.5 and item.done_scenes == 1
    assert elapsed_text(item.elapsed_seconds) == "1 min 15 s"
    assert "$0.006" in item.headline


def test_a_reserved_call_waiting_for_a_worker_is_said_to_be_queued():
    """A reserved submission with jobs ahead reads 'Queued, N jobs ahead', never 'generating' alone."""
    state = _running()
    [sub] = state.submissions.values()
    reserved = state.model_copy(update={"submissions": {
        sub.batch_hash: sub.model_copy(update={"state": "reserved"})}})
    [item] = work_progress(reserved, T0, queued={sub.batch_hash: 2})
    assert item.headline.startswith("Queued, 2 jobs ahead — waiting for a free worker, "
                                     "nothing sent yet")
    [next_up] = work_progress(reserved, T0, queued={sub.batch_hash: 0})
    assert next_up.headline.startswith("Queued, nothing ahead")
    [plain_reserved] = work_progress(reserved, T0)
    assert plain_reserved.headline.startswith("Reserved:")
    [accepted] = work_progress(state, T0, queued={sub.batch_hash: 2})  # sent already: not queued
    assert accepted.headline.startswith("Billed; fetching results")


def test_finishing_is_said_once():
    """The toast text names finished work, and nothing when nothing finished."""
    before = _running()
    [sub] = before.submissions.values()
    done = sub.model_copy(update={"state": "completed", "produced": 3})
    after = before.model_copy(update={"submissions": {sub.batch_hash: done}})
    assert finished_message(before, after) == "Images ready: 3 generated."
    assert finished_message(after, after) == ""
    assert work_progress(after, T0) == []


# --- cards, the viewer, video and History ------------------------------------------------------


def test_cards_use_the_full_image_first_and_the_thumbnail_as_fallback():
    """A card asks for the full-size image before the 128 px thumbnail."""
    image = _img("SCENE-001", 1)
    assert card_urls(image) == (image.url, image.thumbnail_url)
    assert card_urls(image.model_copy(update={"url": ""})) == (image.thumbnail_url,)


def test_the_gallery_asks_for_every_image_scene_by_scene():
    """gallery_urls lists each image's card URLs in scene order (what the worker prefetches)."""
    a1, a2, b1 = _img("A", 1), _img("A", 2), _img("B", 1)
    state = WorkflowState(images={"A": (a1, a2), "B": (b1,)})
    assert gallery_urls(state) == [card_urls(a1), card_urls(a2), card_urls(b1)]
    assert gallery_urls(WorkflowState()) == []


def test_download_names_are_safe_and_typed_by_content():
    """Downloads are named scene_vN with the extension the bytes say."""
    image = _img("SCENE/001", 2)
    assert download_name(image, b"\x89PNG....") == "SCENE_001_v2.png"
    assert download_name(image, b"\xff\xd8\xff\xe0") == "SCENE_001_v2.jpg"


def test_takes_group_a_scenes_images_newest_first():
    """Images of a scene from two batches are two takes, the later batch first."""
    takes = scene_takes([_img("A", 1, "batch_1"), _img("A", 2, "batch_1"), _img("A", 1, "batch_2")])
    assert [[i.batch_id for i in t] for t in takes] == [["batch_2"], ["batch_1", "batch_1"]]


def test_reroll_is_the_scene_as_last_sent():
    """A re-roll is the one row of the newest receipt that holds the scene."""
    state = record_dry_run(WorkflowState(), make_receipt("batch", ROWS, now=T0))
    assert reroll_text(state, "SCENE-002") == "SCENE-002 | hallway | 1"
    assert reroll_text(state, "NOPE") == ""


def test_the_video_button_says_the_clip_count_and_lowest_cost():
    """With three approvals the button reads "Generate Video — 3 clips, from $0.30"."""
    images = {s: (_img(s, 1),) for s in ("A", "B", "C")}
    approvals = {s: Approval(image=i[0], approved_at=T0) for s, i in images.items()}
    state = WorkflowState(images=images, approvals=approvals)
    assert video_button_label(state) == "Generate Video — 3 clips, from $0.30"


def test_the_video_step_counts_only_scenes_without_a_clip():
    """Scenes whose approved image has a clip are left out of the button and said by name."""
    images = {s: (_img(s, 1),) for s in ("A", "B", "C")}
    approvals = {s: Approval(image=i[0], approved_at=T0) for s, i in images.items()}
    made = {"A": VideoClip(scene_id="A", status="done", image_url=images["A"][0].url,
                           batch_hash="h" * 64)}
    state = WorkflowState(images=images, approvals=approvals, videos=made)
    assert video_button_label(state) == "Generate Video — 2 clips, from $0.20 (1 made already)"
    text = video_step_text(state)
    assert text.startswith("3 approved scenes: 2 new 8-second clips — $0.20 with veo3_fast")
    assert "Left out because they have a clip: A." in text
    all_made = state.model_copy(update={"videos": {
        s: VideoClip(scene_id=s, status="done", image_url=i[0].url) for s, i in images.items()}})
    assert video_button_label(all_made) == "Generate Video — every approved scene has a clip"
    assert video_step_text(all_made).startswith("3 approved scenes. Left out")


def test_gallery_cards_label_mock_spend_and_show_approved_first():
    """A mock workspace's spend says mock; its pictures start with the approved ones."""
    images = {"A": (_img("A", 1), _img("A", 2)), "B": (_img("B", 1),)}
    sub = Submission(batch_hash="h", kind="images", state="completed", cost=Decimal("0.006"),
                     actual_cost=Decimal("0.006"), started_at=T0, deployment="mock")
    state = WorkflowState(images=images, submissions={"h": sub},
                          approvals={"A": Approval(image=images["A"][1], approved_at=T0)})
    [card] = gallery_cards({"w": state}, {"w": "Kitchen"}, {"w": T0})
    assert card.name == "Kitchen" and card.pictures[0] == images["A"][1]
    assert [p.scene_id for p in card.pictures] == ["A", "B"]
    assert card.spent_text == "$0.006 mock (emulator, not real money)"


# --- references -------------------------------------------------------------------------------


def test_every_turn_of_the_drop_zone_has_its_own_key():
    """Turn 0 keeps the key 'uploader'; each later turn is a new key, so a new, empty widget."""
    keys = [drop_zone_key(t) for t in range(4)]
    assert keys == ["uploader", "uploader_1", "uploader_2", "uploader_3"]
    assert drop_zone_key(-1) == "uploader"


def test_a_click_racing_the_new_link_stays_in_the_workspace_it_just_stored():
    """A workspace stored a moment ago whose ?w= the browser has not shown yet: a request
    with the bare address keeps it (the click belongs to it) and sets the address again;
    once the address has shown it, a bare address is Back to "New workspace"."""
    from batchcore.domain.navigation import choose_workspace

    racing = choose_workspace("", "abc", page_changed=False, confirmed=False)
    assert (racing.action, racing.workspace_id, racing.set_address) == ("keep", "abc", True)
    assert choose_workspace("", "abc", page_changed=False, confirmed=True).action == "fresh"
