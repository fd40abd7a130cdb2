"""The job runner (one running job per key, off the script thread) and process tokens."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from batchcore.adapters.jobs import Job, JobRunner, process_token, token_may_be_alive


@pytest.fixture
def runner():
    """A fresh runner, shut down after the test."""
    r = JobRunner(max_workers=2)
    yield r
    r.shutdown()


def _held(gate: threading.Event, started: threading.Event | None = None, result="done"):
    """A job body that signals it started, then waits for ``gate`` before returning ``result``."""
    def body(job: Job):
        if started is not None:
            started.set()
        assert gate.wait(10), "the test never released the job"
        return result
    return body


# --- JobRunner ------------------------------------------------------------------------------


def test_start_runs_the_function_in_the_background_and_wait_returns_its_result(runner):
    """start() returns True at once; the function runs on another thread; wait() gives 'done'."""
    seen = {}

    def body(job: Job):
        seen["thread"] = threading.current_thread().name
        seen["job"] = job
        return 42

    assert runner.start("k1", "images", body) is True
    job = runner.wait("k1", timeout=10)
    assert job is not None
    assert (job.key, job.kind, job.state, job.result, job.error) == ("k1", "images", "done", 42, None)
    assert job.finished is not None and job.finished >= job.started
    assert seen["job"] is job
    assert seen["thread"] != threading.current_thread().name
    assert seen["thread"].startswith("batch-job")


def test_an_exception_becomes_the_error_state_with_the_exception_kept(runner):
    """A function that raises leaves the job in state 'error' holding that very exception."""
    boom = RuntimeError("the server hung up")

    def body(job: Job):
        raise boom

    assert runner.start("k", "images", body)
    job = runner.wait("k", timeout=10)
    assert job.state == "error"
    assert job.error is boom
    assert job.result is None
    assert job.finished is not None


def test_a_base_exception_is_reported_too(runner):
    """Even a BaseException (not an Exception) ends the job as an error instead of vanishing."""
    def body(job: Job):
        raise KeyboardInterrupt

    runner.start("k", "videos", body)
    job = runner.wait("k", timeout=10)
    assert job.state == "error" and isinstance(job.error, KeyboardInterrupt)


def test_a_second_start_with_a_running_key_is_refused_and_runs_nothing(runner):
    """While a key is running, start() with that key returns False and never calls its function."""
    gate, started = threading.Event(), threading.Event()
    second_ran = threading.Event()
    assert runner.start("hash-1", "images", _held(gate, started, result="first"))
    assert started.wait(10)
    first = runner.get("hash-1")

    assert runner.start("hash-1", "images", lambda job: second_ran.set()) is False
    assert runner.get("hash-1") is first  # the running job was not replaced
    gate.set()
    done = runner.wait("hash-1", timeout=10)
    assert done is first and done.result == "first"
    time.sleep(0.05)
    assert not second_ran.is_set()


def test_another_key_can_run_alongside_a_running_one(runner):
    """A running job only blocks its own key: a different key starts."""
    gate = threading.Event()
    runner.start("a", "images", _held(gate))
    try:
        assert runner.start("b", "images", lambda job: "b") is True
        assert runner.wait("b", timeout=10).result == "b"
    finally:
        gate.set()
    assert runner.wait("a", timeout=10).state == "done"


@pytest.mark.parametrize("first", [lambda job: "ok", lambda job: 1 / 0], ids=["done", "error"])
def test_a_finished_key_can_start_again(runner, first):
    """Once the job with a key has finished (done or error), the same key starts a new job."""
    runner.start("k", "images", first)
    old = runner.wait("k", timeout=10)
    assert old.state != "running"
    assert runner.start("k", "images", lambda job: "again") is True
    new = runner.wait("k", timeout=10)
    assert new is not old
    assert (new.state, new.result) == ("done", "again")


def test_get_of_an_unknown_key_is_none(runner):
    """get() of a key this runner never started gives None."""
    assert runner.get("never") is None


def test_wait_for_an_unknown_key_returns_none_at_once(runner):
    """wait() of a key that was never started returns None without waiting out the timeout."""
    t0 = time.monotonic()
    assert runner.wait("never", timeout=5) is None
    assert time.monotonic() - t0 < 1


def test_running_lists_only_running_jobs(runner):
    """running() holds the jobs still running, not the finished ones."""
    gate, started = threading.Event(), threading.Event()
    runner.start("fast", "images", lambda job: "x")
    runner.wait("fast", timeout=10)
    runner.start("slow", "videos", _held(gate, started))
    assert started.wait(10)
    try:
        assert [j.key for j in runner.running()] == ["slow"]
    finally:
        gate.set()
    runner.wait("slow", timeout=10)
    assert runner.running() == []


def test_forget_drops_finished_jobs_only(runner):
    """forget() removes a finished job but leaves a running one (and ignores unknown keys)."""
    gate, started = threading.Event(), threading.Event()
    runner.start("done", "images", lambda job: "x")
    runner.wait("done", timeout=10)
    runner.start("busy", "images", _held(gate, started))
    assert started.wait(10)

    runner.forget("done")
    runner.forget("busy")
    runner.forget("never")
    assert runner.get("done") is None
    assert runner.get("busy") is not None and runner.get("busy").state == "running"
    gate.set()
    runner.wait("busy", timeout=10)
    runner.forget("busy")
    assert runner.get("busy") is None


def test_forget_drops_a_failed_job(runner):
    """A job that ended in error is finished, so forget() drops it."""
    runner.start("bad", "images", lambda job: 1 / 0)
    runner.wait("bad", timeout=10)
    runner.forget("bad")
    assert runner.get("bad") is None


def test_elapsed_grows_while_running_and_freezes_when_finished(runner):
    """Job.elapsed increases while the job runs and stays fixed once it has finished."""
    gate, started = threading.Event(), threading.Event()
    runner.start("k", "images", _held(gate, started))
    assert started.wait(10)
    job = runner.get("k")
    first = job.elapsed
    time.sleep(0.05)
    second = job.elapsed
    assert second > first
    gate.set()
    runner.wait("k", timeout=10)
    frozen = job.elapsed
    time.sleep(0.05)
    assert job.elapsed == frozen
    assert frozen >= second


def test_wait_times_out_returning_the_running_job(runner):
    """wait() with a short timeout on a held job returns that job, still running."""
    gate, started = threading.Event(), threading.Event()
    runner.start("k", "images", _held(gate, started))
    assert started.wait(10)
    t0 = time.monotonic()
    job = runner.wait("k", timeout=0.1)
    waited = time.monotonic() - t0
    state = job.state if job is not None else None
    gate.set()
    assert job is runner.get("k")
    assert state == "running"
    assert 0.1 <= waited < 5


def test_the_job_body_can_report_events_and_progress(runner):
    """What the worker writes on its Job (events, progress, poll ids) is visible through get()."""
    def body(job: Job):
        job.events.append("sent")
        job.progress = 0.5
        job.poll_ids["job-1"] = "SCENE-001"
        return None

    runner.start("k", "images", body)
    job = runner.wait("k", timeout=10)
    assert (job.events, job.progress, job.poll_ids) == (["sent"], 0.5, {"job-1": "SCENE-001"})
    assert job.cursor == 0


def test_jobs_beyond_the_workers_wait_in_order_and_say_how_many_are_ahead():
    """With one worker busy, later jobs report their place in the queue until they start."""
    r = JobRunner(max_workers=1)
    gate, started = threading.Event(), threading.Event()
    try:
        r.start("first", "images", _held(gate, started))
        assert started.wait(5)
        r.start("second", "images", _held(gate))
        r.start("third", "videos", _held(gate))
        assert [r.queued_ahead(k) for k in ("first", "second", "third", "nobody")] == [
            None, 0, 1, None]
        gate.set()
        assert r.wait("third", timeout=10).state == "done"
        assert r.queued_ahead("third") is None
    finally:
        gate.set()
        r.shutdown()


def test_shutdown_refuses_new_work():
    """After shutdown() the pool takes no more jobs (submitting raises)."""
    r = JobRunner(max_workers=1)
    r.shutdown()
    with pytest.raises(RuntimeError):
        r.start("k", "images", lambda job: None)


# --- process tokens ------------------------------------------------------------------------


def test_process_token_is_host_pid_a_hex_boot_id_and_a_scope():
    """process_token() is host:pid:12-hex[:8-hex scope] for this process, the same on every call."""
    token = process_token()
    host, pid, boot, *scope = token.split(":")
    assert host == socket.gethostname()
    assert pid == str(os.getpid())
    assert re.fullmatch(r"[0-9a-f]{12}", boot)
    assert scope == [] or re.fullmatch(r"[0-9a-f]{8}", scope[0])
    assert process_token() == token


def _scoped(pid: int, scope: str | None = None) -> str:
    """A token of this host for ``pid``, in our scope (or the given one)."""
    ours = process_token().split(":")[3:]
    return f"{socket.gethostname()}:{pid}:0123456789ab" + \
        (f":{scope}" if scope is not None else (f":{ours[0]}" if ours else ""))


@pytest.mark.skipif(len(process_token().split(":")) < 4, reason="tokens carry no scope here")
def test_our_pid_in_our_scope_under_another_boot_is_dead():
    """A token with our pid and scope but not ours is a previous process (a restarted container): dead at once."""
    assert token_may_be_alive(_scoped(os.getpid()), age_seconds=0, grace_seconds=1_000) is False


def test_our_pid_without_a_scope_is_judged_by_age():
    """An older token (no scope) naming our pid may be a container beside us: alive within grace only."""
    token = f"{socket.gethostname()}:{os.getpid()}:0123456789ab"
    assert token_may_be_alive(token, age_seconds=1, grace_seconds=60) is True
    assert token_may_be_alive(token, age_seconds=61, grace_seconds=60) is False


def test_another_scope_on_this_host_is_judged_by_age():
    """A live pid of another pid namespace or boot (same host name) says nothing: grace decides."""
    token = _scoped(os.getppid(), scope="ffffffff")
    assert token_may_be_alive(token, age_seconds=1, grace_seconds=60) is True
    assert token_may_be_alive(token, age_seconds=61, grace_seconds=60) is False


def test_a_dead_pid_in_our_scope_is_dead():
    """A token of our scope whose pid no longer exists (a restart) is dead, even within grace."""
    assert token_may_be_alive(_scoped(_dead_pid()), age_seconds=0, grace_seconds=1_000) is False


def test_own_token_is_alive_whatever_its_age():
    """This process's own token is always alive, even far past the grace period."""
    assert token_may_be_alive(process_token(), age_seconds=10_000, grace_seconds=1) is True


def test_empty_token_is_never_alive():
    """A submission without a token (no runner recorded) is not alive."""
    assert token_may_be_alive("", age_seconds=0, grace_seconds=1_000) is False


def _dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_same_host_dead_pid_is_not_alive():
    """A token of this host whose pid no longer exists (a restart) is dead, even within grace."""
    token = f"{socket.gethostname()}:{_dead_pid()}:0123456789ab"
    assert token_may_be_alive(token, age_seconds=0, grace_seconds=1_000) is False


def test_same_host_other_boot_of_a_live_pid_is_alive():
    """A token of this host with a live pid (here the parent process) is alive, even after grace."""
    token = f"{socket.gethostname()}:{os.getppid()}:0123456789ab"
    assert token_may_be_alive(token, age_seconds=10_000, grace_seconds=1) is True


@pytest.mark.skipif(os.geteuid() == 0, reason="root may signal every process: no EPERM to meet")
def test_same_host_pid_of_another_user_is_alive():
    """A live pid we may not signal (EPERM) is taken as alive, not dead."""
    token = f"{socket.gethostname()}:1:0123456789ab"  # init belongs to root
    assert token_may_be_alive(token, age_seconds=10_000, grace_seconds=1) is True


@pytest.mark.parametrize("age, expected", [(0.0, True), (59.9, True), (60.0, False), (3600.0, False)])
def test_another_host_is_alive_within_grace_only(age, expected):
    """A token from another host (a replica) counts as alive until the call is older than grace."""
    token = f"not-{socket.gethostname()}-replica:{os.getpid()}:0123456789ab"
    assert token_may_be_alive(token, age_seconds=age, grace_seconds=60.0) is expected


@pytest.mark.parametrize("token", [f"{socket.gethostname()}:old", f"{socket.gethostname()}",
                                   "garbage"])
def test_a_token_without_a_readable_pid_falls_back_to_grace(token):
    """A malformed token (no numeric pid) is judged by age like another host's."""
    assert token_may_be_alive(token, age_seconds=1, grace_seconds=60) is True
    assert token_may_be_alive(token, age_seconds=61, grace_seconds=60) is False
