"""The page's guardrails: no double submit, unknown outcomes, clear errors, the spend cap."""

from __future__ import annotations

from decimal import Decimal

from batchcore.domain.paid_steps import ask_images
from batchcore.domain.statuslog import render_log
from batchcore.service_layer import services
from studio.page import ASK_KEY
from studio.runtime import latest_runtime
from tests.app.conftest import (
    gallery,
    approve,
    approve_buttons,
    confirm_generate,
    dry_run,
    emulator,
    enter_batch,
    has_button,
    make_app,
    texts,
    wait_until_idle,
)


def _units() -> int:
    return emulator().ledger.units()


def test_a_second_confirmation_cannot_submit_twice(app):
    """An ask for the same dry-run after it was sent opens no dialog; billed once."""
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    assert _units() == 6, render_log(app.session_state["wf"].log)
    assert app.button(key="generate").disabled
    app.session_state[ASK_KEY] = ask_images(next(iter(app.session_state["wf"].receipts)))
    app.run()
    assert not has_button(app, "confirm_images_go")
    assert ASK_KEY not in app.session_state
    wait_until_idle(app)
    assert _units() == 6
    assert "already generated" in texts(app)


def test_a_timeout_after_sending_is_outcome_unknown_and_never_resent(app):
    """A live call that times out after the server accepted it is shown as unknown, not resent."""
    enter_batch(app)
    dry_run(app)
    emulator().faults.add(kind="timeout_after_accept", route="/batch/images", method="POST")
    confirm_generate(app)
    assert _units() == 6
    state = app.session_state["wf"]
    sub = next(iter(state.submissions.values()))
    assert sub.state == "outcome_unknown"
    shown = texts(app)
    assert sub.batch_hash in shown or sub.batch_hash[:12] in shown
    assert "billed" in shown
    assert app.button(key="generate").disabled
    assert _units() == 6


def test_budget_problem_shows_title_and_detail(app):
    """A 402 problem+json from the server is shown with its title and detail."""
    emulator().config.daily_budget = Decimal("0.001")
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    shown = texts(app)
    assert "Budget Exceeded" in shown
    assert _units() == 0
    assert app.session_state["wf"].images == {}


def test_videos_on_todays_server_say_it_does_not_make_videos(app):
    """With the real server's 501 on videos, the page says the backend does not make videos yet."""
    emulator().config.videos = "501"
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-001", 1)
    app.button(key="generate_video").click().run()
    app.text_input(key="video_typed").input("1").run()
    app.button(key="video_go").click().run()
    wait_until_idle(app)
    assert "does not generate videos yet" in texts(app)
    assert emulator().ledger.total("videos") == 0


def test_spend_cap_refuses_an_over_budget_batch_before_any_request(tmp_path):
    """With a $0.01 cap, a $0.012 batch cannot be generated and nothing reaches the emulator."""
    at = make_app(tmp_path, DAILY_SPEND_CAP="0.01").run()
    enter_batch(at)
    dry_run(at)
    assert at.button(key="generate").disabled
    assert "spend cap" in texts(at)
    hash_ = next(iter(at.session_state["wf"].receipts))
    at.session_state[ASK_KEY] = ask_images(hash_)
    at.run()
    assert not has_button(at, "confirm_images_go")
    # and the service the dialog would call refuses it too
    ws = services.Workspace(id=at.session_state["wid"], state=at.session_state["wf"],
                            version=at.session_state["wf_version"])
    out = services.confirm_images(latest_runtime(), ws, hash_)
    assert "spend cap" in " ".join(n.text for n in out.notices)
    assert emulator().ledger.charges == []
    assert out.ws.state.submissions == {}


def test_partial_failure_lists_rows_and_retries_only_those(app):
    """Failed rows are named; Retry failed rows makes a batch of just them that needs its own dry-run."""
    emulator().config.fail_scenes = frozenset({"SCENE-002"})
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    assert "SCENE-002" in texts(app)
    assert _units() == 3
    assert not any("SCENE-002" in b.label for b in approve_buttons(app))
    emulator().config.fail_scenes = frozenset()
    app.button(key="retry_failed").click().run()
    assert app.text_area(key="batch_text").value.strip() == "SCENE-002 | Cozy living room with fireplace | 3"
    assert app.button(key="generate").disabled
    dry_run(app)
    confirm_generate(app)
    charged = [c.scene_id for c in emulator().ledger.charges]
    assert charged.count("SCENE-002") >= 1
    assert _units() == 6


def test_prompts_are_shown_as_text_never_markup(app):
    """A prompt full of markdown and HTML is drawn verbatim as text."""
    prompt = "<b>bold</b> **not bold** [link](http://x) <script>alert(1)</script>"
    enter_batch(app, f"S-1 | {prompt} | 1")
    dry_run(app)
    confirm_generate(app)
    assert gallery(app)["scenes"][0]["prompt"] == prompt  # the gallery sets it as text
    assert not any(prompt in str(m.value) for m in app.markdown)


def test_single_mode_generates_one_prompt(app):
    """Single mode: one prompt and a variants choice make a one-row batch with its cost."""
    app.radio(key="mode").set_value("Single").run()
    app.text_area(key="single_prompt").input("A quiet harbour at dawn").run()
    app.radio(key="single_variants").set_value(3).run()
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Rows"], metrics["Images"], metrics["Estimated cost"]) == ("1", "3", "$0.006")
    dry_run(app)
    confirm_generate(app)
    assert len(approve_buttons(app)) == 3


def test_mock_mode_is_badged_and_the_sidebar_never_shows_a_key(app):
    """Mock mode shows its no-cost badge; the sidebar names backend and mode only."""
    shown = texts(app)
    assert "Mock mode — no real cost" in shown
    assert "Mode: Mock — no real cost" in shown
    assert "aip" + "_" not in shown
