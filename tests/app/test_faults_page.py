"""Server and storage faults through the page (AppTest), each with its message and the ledger.

Every test arms one fault in the page's emulator (``emulator().faults.add``: the built-in
kinds and crafted answers), or breaks the workspace store, then acts as a person would.
Each checks the sentence the person reads, that no markup from the server is rendered, and
the emulator's charge ledger: nothing billed that was refused or never sent, nothing billed
twice, nothing resent however often the page reruns. Storage faults are said in the same run.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
import stamina

from studio.runtime import latest_runtime
from tests.app.conftest import (
    approve,
    approve_buttons,
    confirm_generate,
    drop_zone,
    dry_run,
    emulator,
    enter_batch,
    make_app,
    wait_until_idle,
)
from tests.app.hostile_page import assert_sound, markdown_strings, visible
from tests.conftest import fake_key

MARKUP_TITLE = "**Bold** __x__ <script>alert(1)</script>"
MARKUP_DETAIL = "[click](javascript:alert(1)) :material/home: $x$ <img src=x onerror=alert(1)>"
PROBLEM = {"type": "https://api.ai-platform.com/problems/invalid-request-schema",
           "title": MARKUP_TITLE, "status": 400, "detail": MARKUP_DETAIL,
           "instance": "/batch/images"}
SHARED = "shared by everyone using this deployment"


@pytest.fixture(autouse=True)
def _no_backoff_sleeping():
    """stamina's testing mode: retries happen (at most 4 tries) without waiting."""
    with stamina.set_testing(True, attempts=4):
        yield


@pytest.fixture
def app(tmp_path):
    at = make_app(tmp_path).run()
    yield at
    rt = latest_runtime()
    if rt is not None:
        for job in rt.runner.running():
            rt.runner.wait(job.key, timeout=30)


def units() -> int:
    return sum(c.count for c in emulator().ledger.charges)


def submission(at):
    (sub,) = at.session_state["wf"].submissions.values()
    return sub


def boxes(at, kind: str = "error") -> list[str]:
    return [r for w, r in markdown_strings(at) if w == kind]


def rerun_a_few_times(at, times: int = 3) -> None:
    """The page reruns (a person clicking around): nothing may be sent again."""
    for _ in range(times):
        at.run()
        time.sleep(0.05)


def rerun_until(at, what: str, tries: int = 200) -> str:
    for _ in range(tries):
        at.run()
        shown = visible(at)
        if what in shown:
            return shown
        time.sleep(0.05)
    raise AssertionError(f"never shown: {what!r}\n{visible(at)[-2000:]}")


def ready(at) -> None:
    enter_batch(at)
    dry_run(at)
    assert "Dry-run receipt" in visible(at)


def arm_answer(status: int, body: object, *, route: str = "/batch/images", after: bool = False,
               kind_type: str = "application/problem+json; charset=utf-8",
               times: int | None = 1, headers: dict[str, str] | None = None) -> None:
    emulator().faults.add(kind="answer_after" if after else "answer", route=route, method=None,
                          times=times, answer_status=status, answer_body=body,
                          answer_type=kind_type, answer_headers=headers)


# --- 429: the shared rate limit -------------------------------------------------------------


def test_429_on_dry_run_is_waited_out_and_said(app):
    """A 429 on the dry-run: the client waits Retry-After and tries again; the page says the server was busy and that the limit is shared."""
    emulator().faults.add(kind="429", route="/batch/images", retry_after=2)
    ready(app)
    shown = visible(app)
    assert "The server was busy (429 Too Many Requests) 1 time(s); the dry-run waited and " \
           "then went through." in shown and SHARED in shown
    assert "retrying the dry-run in 2 s" in shown  # in the status log
    assert units() == 0


def test_429_asking_for_more_than_a_minute_fails_the_dry_run_with_the_wait(app):
    """A 429 asking to wait 120 s is not waited out: the dry-run fails and says how long and why."""
    emulator().faults.add(kind="429", route="/batch/images", retry_after=120)
    enter_batch(app)
    dry_run(app)
    shown = visible(app)
    assert "Dry-run failed: The orchestrator refused the request (429 Too Many Requests: Rate " \
           "Limited): Please wait 120 seconds before retrying" in shown
    assert "asks to wait 120 s before trying again" in shown and SHARED in shown
    assert app.session_state["wf"].receipts == {} and units() == 0


def test_429_on_live_is_waited_out_and_the_batch_billed_once(app):
    """A 429 on the paid call (refused before any work) is retried after Retry-After; billed exactly once; the wait is in the log."""
    ready(app)
    emulator().faults.add(kind="429", route="/batch/images", retry_after=3)
    confirm_generate(app)
    assert submission(app).state == "completed"
    assert units() == 6
    shown = visible(app)
    assert "retrying the image generation in 3 s" in shown and SHARED in shown
    rerun_a_few_times(app)
    assert units() == 6


# --- the paid call fails --------------------------------------------------------------------


@pytest.mark.parametrize("kind, said, billed", [
    ("500", ("sent and the server answered with an error (The orchestrator refused the request "
             "(500 Internal Server Error): An unexpected error occurred."), 0),
    ("502_html", "The orchestrator's gateway answered 502 Bad Gateway (an HTML error page)", 0),
    ("malformed_json", "so it was probably processed and billed: do not resend batch hash", 6),
    ("timeout_after_accept", "but no answer came back (ReadTimeout", 6),
])
def test_a_paid_call_of_unknown_outcome_is_said_and_never_resent(app, kind, said, billed):
    """500, an HTML 502, a broken 200 or a timeout after sending: outcome unknown, said with the batch hash, never resent."""
    ready(app)
    emulator().faults.add(kind=kind, route="/batch/images", method="POST")
    confirm_generate(app)
    sub = submission(app)
    assert sub.state == "outcome_unknown"
    shown = visible(app)
    assert "Image generation: outcome unknown." in shown and said in shown, shown[-2500:]
    assert sub.batch_hash in shown
    assert units() == billed
    assert app.button(key="generate").disabled
    rerun_a_few_times(app)
    assert units() == billed and submission(app).state == "outcome_unknown"
    assert_sound(app)


def test_a_refused_connection_is_not_sent_and_can_be_sent_again(app):
    """Connection refused on the paid call: 'not sent, nothing billed'; the same dry-run may be generated again."""
    ready(app)
    emulator().faults.add(kind="connect_refused", route="/batch/images", method="POST",
                          times=None)
    confirm_generate(app)
    assert submission(app).state == "not_sent"
    shown = visible(app)
    assert "Image generation was not sent." in shown
    assert "after 4 tries" in shown and "Nothing was sent, so nothing was billed." in shown
    assert units() == 0
    emulator().faults.clear()
    confirm_generate(app)
    assert submission(app).state == "completed" and units() == 6


@pytest.mark.parametrize("status, said", [
    (400, "The orchestrator refused the request (400 Bad Request: "),
    (401, "Check the API key in the app's secrets (ORCHESTRATOR_API_KEY)."),
    (402, "The server's daily spending limit is reached"),
    (403, "Check the API key in the app's secrets (ORCHESTRATOR_API_KEY)."),
])
def test_a_refused_paid_call_shows_the_servers_words_as_plain_text(app, status, said):
    """A problem+json refusal with markup in title and detail: 'refused by the server', nothing billed, the markup shown as text."""
    ready(app)
    arm_answer(status, {**PROBLEM, "status": status})
    confirm_generate(app)
    assert submission(app).state == "rejected"
    shown = visible(app)
    assert "Image generation was refused by the server." in shown and said in shown
    assert MARKUP_TITLE in shown and "nothing was billed" in shown
    assert_sound(app, MARKUP_TITLE, MARKUP_DETAIL)
    assert units() == 0
    rerun_a_few_times(app)
    assert units() == 0


def test_failed_rows_with_markup_in_the_servers_error_are_named_as_text(app):
    """A live answer whose job failed with markup in its error: the row is named, the error is text, nothing resent."""
    enter_batch(app, "S1 | a quiet harbour | 1")
    dry_run(app)
    body = {"batchId": "batch_1_abc", "runMode": "live", "estimatedCost": 0.002,
            "actualCost": 0, "accepted": 0, "rejected": [],
            "jobs": [{"jobId": "batch_1_abc_S1_0", "sceneId": "S1", "status": "failed",
                      "error": MARKUP_TITLE + " " + MARKUP_DETAIL}]}
    arm_answer(200, body, after=True, kind_type="application/json")
    confirm_generate(app)
    shown = visible(app)
    assert "1 row failed: S1." in shown and MARKUP_TITLE in shown
    assert_sound(app, MARKUP_TITLE, MARKUP_DETAIL)
    billed = units()
    rerun_a_few_times(app)
    assert units() == billed == 1


def test_partial_failure_bills_only_the_rows_that_came_back(app):
    """Every second row fails: the failed row is named and offered for retry; only rows that came back are billed."""
    ready(app)
    emulator().faults.add(kind="partial", route="/batch/images", method="POST")
    confirm_generate(app)
    assert submission(app).state == "partial"
    assert "1 row failed: SCENE-002." in visible(app)
    assert units() == 3 and len(approve_buttons(app)) == 3
    assert app.button(key="retry_failed") is not None


# --- the dry-run fails ----------------------------------------------------------------------


# (Every error body a dry-run can get, with markup, is in tests/data/hostile/server_answers.jsonl,
# driven through the page by tests/app/test_hostile_page.py.)


def test_a_dry_run_that_cannot_connect_says_nothing_was_sent(app):
    """Connection refused on every try of the dry-run: 'could not connect … nothing was sent'."""
    emulator().faults.add(kind="connect_refused", route="/batch/images", times=None)
    enter_batch(app)
    dry_run(app)
    shown = visible(app)
    assert "Dry-run failed: Could not connect to emulator.local for the dry-run request after " \
           "4 tries" in shown and "Nothing was sent." in shown
    assert units() == 0


# --- after the server accepted (the brief's asynchronous shape) ------------------------------


@pytest.fixture
def brief(tmp_path):
    at = make_app(tmp_path, MOCK_PROFILE="brief").run()
    yield at
    emulator().faults.clear()
    rt = latest_runtime()
    if rt is not None:
        for job in rt.runner.running():
            rt.runner.wait(job.key, timeout=30)


def test_status_500s_after_accept_stay_billed_and_are_fetched_not_resent(brief):
    """/status answers 500 after the batch was accepted: shown as billed, results not fetched; when it recovers the results come, nothing is resent."""
    ready(brief)
    emulator().faults.add(kind="500", route="/status", times=None)
    brief.button(key="generate").click().run()
    brief.button(key="confirm_images_go").click().run()
    shown = rerun_until(brief, "billed — results not fetched yet")
    assert "The orchestrator refused the request (500 Internal Server Error" in shown
    assert units() == 6
    assert brief.button(key="generate").disabled
    emulator().faults.clear()
    wait_until_idle(brief)
    assert submission(brief).state == "completed" and units() == 6
    assert len(approve_buttons(brief)) == 6


def test_unknown_status_words_are_shown_and_the_batch_still_finishes(brief):
    """A status word the client does not know is logged as the server said it; polling goes on until done."""
    ready(brief)
    emulator().faults.add(kind="unknown_status", route="/status", times=3, status="**mystery**")
    confirm_generate(brief)
    assert "**mystery**" in visible(brief)  # in the status log, as text
    assert_sound(brief, "**mystery**")
    assert submission(brief).state == "completed" and units() == 6


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "<script>x</script>", "a" * 5000,
                                    "job id with spaces"])
def test_a_malformed_job_id_is_not_polled_and_stays_billed(brief, bad_id):
    """An accepted batch whose job id cannot be asked about: outcome unknown (maybe billed), said in words, never polled or resent, no raw JSON."""
    ready(brief)
    arm_answer(200, {"batch_job": {"id": bad_id, "status": "queued"}}, after=True,
               kind_type="application/json")
    confirm_generate(brief)
    sub = submission(brief)
    assert sub.state == "outcome_unknown"
    shown = visible(brief)
    assert "which cannot be asked about" in shown and "probably processed and billed" in shown
    assert '"batch_job"' not in shown and "{" not in "".join(boxes(brief))
    assert units() == 6
    assert_sound(brief, bad_id)
    rerun_a_few_times(brief)
    assert units() == 6


# --- videos on today's server: 501 ---------------------------------------------------------


def test_videos_501_is_said_once_and_generate_video_goes_off(app):
    """The real server's 501 for videos: one message, Generate Video off with 'videos are unavailable on this backend', nothing billed."""
    emulator().config.videos = "501"
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    for scene in ("SCENE-001", "SCENE-002", "SCENE-003"):
        approve(app, scene, 1)
    app.button(key="generate_video").click().run()
    app.text_input(key="video_typed").input("3").run()
    app.button(key="video_go").click().run()
    wait_until_idle(app)
    said = [b for b in boxes(app) + [t.value for t in app.text] if "501" in b]
    assert len(said) == 1, said
    assert app.button(key="generate_video").disabled
    assert "Videos are unavailable on this backend: it answered 501 Not Implemented" in \
        visible(app)
    assert emulator().ledger.total("videos") == 0


# --- uploads and the key ---------------------------------------------------------------------


def test_an_upload_the_server_fails_is_said_and_can_be_retried(app):
    """/upload-reference answers 500 (markup in its detail): the file is named as not uploaded and can be dropped again."""
    from tests.unit.test_hostile_uploads import build as build_upload

    arm_answer(500, {**PROBLEM, "status": 500}, route="/upload-reference")
    png = bytes(build_upload({"kind": "image", "fmt": "PNG", "size": [20, 20]}, seed=1))
    app.file_uploader(key="uploader").set_value([("cat.png", png, "image/png")]).run()
    shown = visible(app)
    assert "cat.png was not uploaded" in shown and "drop it again to retry" in shown
    assert_sound(app, MARKUP_TITLE, MARKUP_DETAIL)
    assert app.session_state["wf"].references == ()
    drop_zone(app).set_value([("cat2.png", png, "image/png")]).run()
    assert len(app.session_state["wf"].references) == 1
    assert units() == 0


def test_a_refused_key_is_said_in_the_sidebar_and_paid_steps_stay_off(app):
    """The backend refuses the key (401 at the start-up check): the sidebar says so; Generate stays off; nothing billed."""
    emulator().config.api_keys = frozenset({fake_key("elsewhere")})
    rt = latest_runtime()
    assert rt is not None
    rt.backend_check = None  # as when the page is opened after a restart
    app.run()
    assert "Key refused by the built-in emulator: Invalid API Key" in visible(app)
    enter_batch(app)
    dry_run(app)
    assert app.button(key="generate").disabled
    assert units() == 0


# --- the workspace store fails -------------------------------------------------------------


def _break_store(pragma: str) -> None:
    rt = latest_runtime()
    assert rt is not None and rt.store is not None
    engine = rt.store.engine
    sa.event.listen(engine, "connect", lambda conn, _rec: conn.execute(pragma))
    engine.dispose()


def _read_only(tmp_path) -> None:
    _break_store("PRAGMA query_only=ON")


def _full(tmp_path) -> None:
    rt = latest_runtime()
    assert rt is not None and rt.store is not None
    with rt.store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    _break_store(f"PRAGMA max_page_count={pages}")


def _deleted(tmp_path) -> None:
    from pathlib import Path

    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path}/workspaces.sqlite3{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("fault", [_read_only, _full, _deleted], ids=["read-only", "full", "deleted"])
def test_a_store_that_cannot_save_is_said_in_the_same_run_and_nothing_is_sent(app, tmp_path, fault):
    """Read-only, full or deleted database: the next edit says it was not saved in the same run, and Confirm sends nothing and says why."""
    ready(app)
    fault(tmp_path)
    text = "".join(f"C{i} | {'a garden in the rain ' * 45} | 1\n" for i in range(10))
    app.text_area(key="batch_text").input(text)
    app.button(key="parse").click().run()
    shown = visible(app)
    assert "could not be saved" in shown or "cannot be read" in shown, shown[-2000:]
    assert_sound(app)
    dry_run(app)
    if app.button(key="generate").disabled:  # the gate already knows nothing can be saved
        assert "paid actions are off" in visible(app).lower()
        assert "more than is left under the daily spend cap" not in visible(app)
    else:
        app.button(key="generate").click().run()
        app.button(key="confirm_images_go").click().run()
        assert "Nothing was sent" in visible(app)
    time.sleep(0.2)
    assert units() == 0 and not app.exception
    assert app.session_state["wf"].submissions == {}


def test_the_fault_suite_is_large_enough():
    """At least 20 distinct server and storage faults are driven through the page here."""
    import sys

    module = sys.modules[__name__]
    count = 0
    for name in dir(module):
        test = getattr(module, name)
        if name.startswith("test_") and name != "test_the_fault_suite_is_large_enough":
            marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
            count += len(marks[0].args[1]) if marks else 1
    assert count >= 20, count
