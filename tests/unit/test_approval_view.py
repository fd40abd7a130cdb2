"""What the approval gallery draws and which intents it may send (batchcore.domain.gallery)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.gallery import (
    approval_view,
    find_picture,
    picture_key,
    read_intent,
)
from batchcore.domain.workflow import GeneratedImage, WorkflowState, approve


def _image(scene: str, variant: int, batch: str) -> GeneratedImage:
    return GeneratedImage(scene_id=scene, variant=variant, url=f"mock://{batch}/{scene}/{variant}",
                          job_id=f"{batch}_{scene}_{variant}", batch_id=batch,
                          prompt=f"prompt of {scene}")


def _state() -> WorkflowState:
    images = {"S-1": (_image("S-1", 1, "b1"), _image("S-1", 2, "b1"),
                      _image("S-1", 1, "b2"), _image("S-1", 2, "b2")),
              "S-2": (_image("S-2", 1, "b1"),)}
    return WorkflowState(images=images)


def test_newest_take_first_and_the_pick_marked_in_an_earlier_take():
    """Takes newest first, numbered from the oldest; an approved earlier picture stays marked
    there and only there; earlier takes' labels say which take."""
    state = approve(_state(), _image("S-1", 2, "b1"))
    view = approval_view(state)
    s1 = view.scenes[0]
    assert [[(s.take, s.variant) for s in take] for take in s1.takes] == [[(2, 1), (2, 2)],
                                                                         [(1, 1), (1, 2)]]
    assert [s.approved for take in s1.takes for s in take] == [False, False, False, True]
    assert s1.approved is not None and s1.approved.take == 1
    assert s1.takes[0][0].label == "Approve S-1 #1"
    assert s1.takes[1][1].label == "Approve S-1 #2, take 1"
    assert view.summary == "1 of 2 scenes approved"
    assert s1.prompt == "prompt of S-1"


def test_a_picture_is_found_by_its_key_in_any_take_and_nowhere_else():
    """The key names one picture of one scene; another scene's key finds nothing."""
    state = _state()
    earlier = _image("S-1", 2, "b1")
    assert find_picture(state, "S-1", picture_key(earlier)) == earlier
    assert find_picture(state, "S-2", picture_key(earlier)) is None
    assert find_picture(state, "S-1", "0" * 32) is None
    assert len({picture_key(i) for imgs in state.images.values() for i in imgs}) == 5


def test_intents_of_the_gallerys_shape_are_read():
    """approve/unapprove need a scene and a 32-hex key; reroll a scene; video nothing."""
    key = "a" * 32
    ok = read_intent({"kind": "approve", "scene": "S-1", "key": key, "n": "1"})
    assert ok is not None and (ok.kind, ok.scene_id, ok.key) == ("approve", "S-1", key)
    assert read_intent({"kind": "reroll", "scene": "S-1", "key": "", "n": "2"}) is not None
    assert read_intent({"kind": "video", "scene": "", "key": "", "n": "3"}) is not None
    for bad in ({"kind": "approve", "scene": "S-1", "key": "x" * 32, "n": "1"},
                {"kind": "approve", "scene": "", "key": key, "n": "1"},
                {"kind": "reroll", "scene": "", "key": "", "n": "1"},
                {"kind": "approve", "scene": "S-1", "key": key, "n": ""},
                {"kind": "approve", "scene": "S-1", "key": key, "n": "9" * 65},
                {"kind": "drop_table", "scene": "S-1", "key": key, "n": "1"},
                {"kind": "approve", "scene": 1, "key": key, "n": "1"},
                ["approve"], None, "approve"):
        assert read_intent(bad) is None, bad


@given(st.dictionaries(st.sampled_from(["kind", "scene", "key", "n", "x"]),
                       st.one_of(st.text(max_size=300), st.integers(), st.none())))
def test_anything_else_the_browser_sends_is_no_intent_or_a_well_formed_one(value):
    """Whatever arrives, the answer is None or an intent whose fields have the shape."""
    intent = read_intent(value)
    if intent is not None:
        assert intent.kind in ("approve", "unapprove", "reroll", "video")
        assert len(intent.scene_id) <= 200 and 0 < len(intent.n) <= 64
