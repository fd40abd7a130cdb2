"""A dismissed paid dialog stays dismissed, and made clips are not bought again by default.

Esc, ✕ and a click outside a dialog send the same dismiss trigger (``dismiss_dialog``);
Cancel is a button. After any of them, no click elsewhere, rerun, finishing worker or reload
may bring a paid dialog back, and nothing is billed.
"""

from __future__ import annotations

import pytest

from batchcore.domain.paid_steps import ask_images
from studio.page import ASK_KEY
from tests.app.conftest import (
    approve,
    EXAMPLE,
    confirm_generate,
    dismiss_dialog,
    dry_run,
    emulator,
    enter_batch,
    has_button,
    make_app,
    texts,
    wait_until_idle,
)

CLOSERS = ["dismiss", "cancel"]


def _units(kind: str | None = None) -> int:
    return emulator().ledger.units(kind)


def _open_images(at) -> None:
    at.button(key="generate").click().run()
    assert has_button(at, "confirm_images_go")


def _close(at, how: str, cancel_key: str) -> None:
    if how == "dismiss":
        dismiss_dialog(at)
    else:
        at.button(key=cancel_key).click().run()


def _no_paid_dialog(at) -> bool:
    return not has_button(at, "confirm_images_go") and not has_button(at, "video_go")


def _approved_example(at) -> None:
    enter_batch(at)
    dry_run(at)
    confirm_generate(at)
    for scene, variant in (("SCENE-001", 2), ("SCENE-002", 3), ("SCENE-003", 1)):
        approve(at, scene, variant)


def _reload(at, tmp_path):
    """The same workspace in a new tab (a reload: a new session, same address)."""
    again = make_app(tmp_path, clear=False)
    again.query_params["w"] = at.session_state["wid"]
    return again.run()


@pytest.mark.parametrize("how", CLOSERS)
def test_a_closed_image_confirmation_never_comes_back(app, tmp_path, how):
    """Esc/✕ or Cancel on the image confirmation, then clicks, reruns and a reload: no dialog, no charge."""
    enter_batch(app)
    dry_run(app)
    _open_images(app)
    _close(app, how, "confirm_images_cancel")
    assert _no_paid_dialog(app)
    assert ASK_KEY not in app.session_state
    app.radio(key="mode").set_value("Single").run()
    assert _no_paid_dialog(app)
    app.radio(key="mode").set_value("Batch").run()
    app.run()
    assert _no_paid_dialog(app)
    assert _no_paid_dialog(_reload(app, tmp_path))
    assert _units() == 0
    assert not app.session_state["wf"].submissions


@pytest.mark.parametrize("how", CLOSERS)
def test_a_closed_video_dialog_never_comes_back(app, tmp_path, how):
    """Esc/✕ or Cancel on Generate video, then Approve clicks, a worker finishing, a reload: no dialog."""
    _approved_example(app)
    app.button(key="generate_video").click().run()
    assert has_button(app, "video_go")
    app.text_input(key="video_typed").input("3").run()
    _close(app, how, "video_cancel")
    assert _no_paid_dialog(app)
    approve(app, "SCENE-002", 1)
    app.radio(key="mode").set_value("Single").run()
    assert _no_paid_dialog(app)
    # a worker finishes other paid work while the page reruns
    app.radio(key="mode").set_value("Batch").run()
    app.text_area(key="batch_text").input("SCENE-004 | A garden at dusk | 1").run()
    app.button(key="parse").click().run()
    dry_run(app)
    confirm_generate(app)
    wait_until_idle(app)
    assert _no_paid_dialog(app)
    assert _no_paid_dialog(_reload(app, tmp_path))
    assert _units("videos") == 0
    assert not app.session_state["wf"].videos


def test_asking_again_opens_a_fresh_video_dialog(app):
    """After a dismissal, Generate Video opens the dialog again with nothing typed."""
    _approved_example(app)
    app.button(key="generate_video").click().run()
    app.text_input(key="video_typed").input("3").run()
    dismiss_dialog(app)
    app.button(key="generate_video").click().run()
    assert has_button(app, "video_go")
    assert app.text_input(key="video_typed").value == ""
    assert _units("videos") == 0


def test_an_ask_that_lapsed_is_not_revived_by_undoing_an_edit(app):
    """Editing the batch closes its confirmation; restoring the same text does not reopen it."""
    enter_batch(app)
    dry_run(app)
    _open_images(app)
    app.text_area(key="batch_text").input(EXAMPLE + "SCENE-004 | Garden | 1\n").run()
    app.button(key="parse").click().run()
    assert _no_paid_dialog(app)
    app.text_area(key="batch_text").input(EXAMPLE).run()
    app.button(key="parse").click().run()
    assert not app.button(key="generate").disabled
    assert _no_paid_dialog(app)
    assert _units() == 0


def test_a_forged_ask_for_another_batch_opens_nothing(app):
    """An ask whose batch hash is not the batch on screen opens no dialog and is forgotten."""
    enter_batch(app)
    dry_run(app)
    app.session_state[ASK_KEY] = ask_images("0" * 64)
    app.run()
    assert _no_paid_dialog(app)
    assert ASK_KEY not in app.session_state


def test_made_clips_are_left_out_and_a_deliberate_second_purchase_is_billed_once(app):
    """Clips done: the dialog marks them and offers 0; choosing them again bills them exactly once."""
    _approved_example(app)
    app.button(key="generate_video").click().run()
    app.text_input(key="video_typed").input("3").run()
    app.button(key="video_go").click().run()
    wait_until_idle(app)
    assert _units("videos") == 3
    assert app.button(key="generate_video").label == \
        "Generate Video — every approved scene has a clip"
    assert "Left out because they have a clip: SCENE-001, SCENE-002, SCENE-003" in texts(app)

    app.button(key="generate_video").click().run()
    table = app.dataframe[-1].value
    assert list(table["clip"]) == ["clip made (veo3_fast)"] * 3
    assert list(table["sent now"]) == ["no"] * 3
    assert "Every approved scene already has a clip" in texts(app)
    assert not has_button(app, "video_go")  # nothing to send: no count to type, no Confirm
    assert _units("videos") == 3

    app.multiselect(key="video_again").select("SCENE-001").select("SCENE-003").run()
    assert list(app.dataframe[-1].value["sent now"]) == ["again", "no", "again"]
    app.text_input(key="video_typed").input("2").run()
    assert app.button(key="video_go").label == "Confirm — spend $0.20"
    app.button(key="video_go").click().run()
    assert _no_paid_dialog(app)
    wait_until_idle(app)
    assert _units("videos") == 5
    assert len({c.batch_id for c in emulator().ledger.charges if c.kind == "videos"}) == 2
    # the same purchase is not offered again by itself
    app.button(key="generate_video").click().run()
    assert list(app.dataframe[-1].value["sent now"]) == ["no"] * 3
    assert not has_button(app, "video_go")
    app.button(key="video_cancel").click().run()
    assert _no_paid_dialog(app) and _units("videos") == 5


def test_switching_single_and_batch_keeps_what_was_typed_in_both(app):
    """Batch → Single → Batch → Single: each box comes back with its text, and it stays saved."""
    enter_batch(app)
    app.radio(key="mode").set_value("Single").run()
    app.text_area(key="single_prompt").input("A lighthouse at night").run()
    app.radio(key="mode").set_value("Batch").run()
    assert app.text_area(key="batch_text").value == EXAMPLE
    app.radio(key="mode").set_value("Single").run()
    assert app.text_area(key="single_prompt").value == "A lighthouse at night"
    inputs = app.session_state["wf"].inputs
    assert (inputs.batch_text, inputs.single_prompt) == (EXAMPLE, "A lighthouse at night")
