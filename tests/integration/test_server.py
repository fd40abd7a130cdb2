"""The app's own server (studio/server.py): its lifespan and its probes, through Starlette's
test client, on the same runtime the page uses (mock mode, SQLite in a temporary folder)."""

from __future__ import annotations

import re
import threading
import time
import warnings

import pytest
import streamlit as st
from starlette.applications import Starlette

with warnings.catch_warnings():  # it warns that it will move to httpx2 one day
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from batchcore.domain.rows import parse_batch
from batchcore.domain.workflow import Inputs, current_hash
from batchcore.service_layer import services
from studio.server import lifespan, routes
from tests.app.conftest import EXAMPLE
from tests.conftest import run_async


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Mock mode with its own store; the page's runtime cache starts empty."""
    for name in ("ORCHESTRATOR_API_KEY", "API_KEY", "BATCH_USE_MOCK", "ORCHESTRATOR_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/ws.sqlite3")
    monkeypatch.setenv("MOCK_LATENCY_MS", "0")
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


class _Client(TestClient):
    """The app's routes and lifespan; entering waits until the runtime is built (the
    lifespan builds it beside the server, and /readyz says 503 "starting" meanwhile)."""

    def __enter__(self):
        client = super().__enter__()
        deadline = time.monotonic() + 30
        while client.get("/readyz").json().get("reason") == "the app is starting":
            assert time.monotonic() < deadline, "the runtime was never built"
            time.sleep(0.02)
        return client


def _client() -> TestClient:
    return _Client(Starlette(routes=routes(), lifespan=lifespan))


def _generated(rt) -> services.Workspace:
    """The brief's example dry-run and confirmed through the services; returns the workspace."""
    ws = services.new_workspace(rt).ws
    parsed = parse_batch(EXAMPLE)
    ws = services.update_inputs(rt, ws, Inputs(mode="batch", batch_text=EXAMPLE,
                                                parsed_text=EXAMPLE), parsed).ws
    ws = services.dry_run(rt, ws).ws
    out = services.confirm_images(rt, ws, current_hash(ws.state))
    assert not [n for n in out.notices if n.level == "error"], out.notices
    return out.ws


def _metric(text: str, name: str, **labels: str) -> float:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = "^" + re.escape(name + (f"{{{inner}}}" if labels else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, (name, labels, text)
    return float(found.group(1))


def test_healthz_answers_without_asking_the_store(env):
    """GET /healthz is 200 {"status": "ok"} and never cached."""
    with _client() as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert answer.headers["cache-control"] == "no-store"


def test_the_runtime_is_built_at_start_up_before_any_page(env):
    """The lifespan builds the page's runtime and starts its sweep before anyone visits."""
    from studio.runtime import latest_runtime, runtime

    with _client():
        rt = latest_runtime()
        assert rt is not None and runtime() is rt
        assert any(t.name == "batch-resume" and t.is_alive() for t in rt.threads)


def test_readyz_reports_the_store_and_the_key(env):
    """Ready in mock mode with a reachable store: 200 with each check's word."""
    with _client() as client:
        answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"ready": True, "checks": {"store": "ok", "key": "mock"}}


def test_readyz_is_503_with_a_reason_when_the_store_is_gone(env):
    """The SQLite file deleted under a running app: 503 and the store's sentence."""
    with _client() as client:
        (env / "ws.sqlite3").unlink()
        answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False and body["checks"]["store"] == "unavailable"
    assert "is gone" in body["reason"]


def test_metrics_count_spend_calls_jobs_and_sessions(env):
    """After one confirmed batch, /metrics shows its spend and the call as completed."""
    from studio.runtime import latest_runtime

    with _client() as client:
        rt = latest_runtime()
        ws = _generated(rt)
        for job in rt.runner.running():
            rt.runner.wait(job.key, timeout=30)
        services.note_session(rt, "a-session")
        text = client.get("/metrics").text
    assert _metric(text, "batchstudio_spend_today_dollars", backend="mock") == pytest.approx(0.012)
    assert _metric(text, "batchstudio_reserved_today_dollars", backend="mock") == 0
    assert _metric(text, "batchstudio_paid_calls", backend="mock", kind="images",
                   state="completed") == 1
    assert _metric(text, "batchstudio_jobs", state="running") == 0
    assert _metric(text, "batchstudio_sessions") == 1
    assert _metric(text, "batchstudio_ledger_readable") == 1
    assert ws.id not in text  # no workspace id, prompt or key in the metrics


def test_shutdown_lets_a_paid_call_finish_refuses_new_ones_and_stops_the_sweep(env, monkeypatch):
    """SIGTERM mid-call: the call finishes within the grace and is saved, billed once; a new
    confirmation is refused with a sentence; the sweep stops; nothing is resent at restart."""
    from studio.runtime import latest_runtime

    monkeypatch.setenv("MOCK_LATENCY_MS", "400")
    with _client():
        rt = latest_runtime()
        emulator = rt.emulator
        ws = _generated(rt)
        assert rt.runner.running()
    # the client's exit ran the lifespan's shutdown: the grace let the call finish
    assert not rt.runner.running()
    assert rt.closing.is_set() and rt.stopping.is_set()
    assert not any(t.is_alive() for t in rt.threads)
    assert emulator.ledger.units("images") == 6
    refused = services.confirm_images(rt, ws, current_hash(ws.state))
    assert any("shutting down" in n.text for n in refused.notices)
    assert emulator.ledger.units("images") == 6

    st.cache_resource.clear()
    with _client():  # the app starts again on the same store
        again = latest_runtime()
        assert again is not rt
        stored = services.open_workspace(again, ws.id).ws.state
        (sub,) = stored.submissions.values()
        assert sub.state == "completed"
    assert emulator.ledger.units("images") == 6


def test_shutdown_gives_up_after_its_grace_and_says_what_it_left(env, monkeypatch):
    """A call that outlives the grace is left to the ledger's rules; shut_down names it."""
    monkeypatch.setenv("MOCK_LATENCY_MS", "1500")
    from studio.runtime import runtime

    rt = runtime()
    _generated(rt)
    started = time.monotonic()
    left = services.shut_down(rt, grace=0.2)
    assert time.monotonic() - started < 5
    assert len(left) == 1 and "/" in left[0]
    done = threading.Event()
    threading.Thread(target=lambda: (rt.runner.wait(left[0], 30), done.set()), daemon=True).start()
    assert done.wait(30)


def test_the_workers_saves_reach_the_workspace_stream_and_end_with_finished(env):
    """Confirm with a stream open: each save's version arrives, then the job's 'finished'."""
    import asyncio

    from studio.runtime import runtime

    rt = runtime()
    ws = services.new_workspace(rt).ws
    ws = services.update_inputs(rt, ws, Inputs(mode="batch", batch_text=EXAMPLE,
                                                parsed_text=EXAMPLE), parse_batch(EXAMPLE)).ws
    ws = services.dry_run(rt, ws).ws

    async def follow() -> list[str]:
        notes: list[str] = []
        with rt.changes.subscribe(ws.id, asyncio.get_running_loop()) as sub:
            await asyncio.to_thread(services.confirm_images, rt, ws, current_hash(ws.state))
            while not any(n.startswith("finished:") for n in notes):
                note = await sub.next(30)
                assert note is not None, notes
                notes.append(note)
        return notes

    notes = run_async(follow())
    versions = [int(n) for n in notes if n.isdigit()]
    assert versions == sorted(versions) and len(versions) >= 2  # reserved, sent, …, result
    assert versions[-1] == services.stored_version(rt, ws.id)
    rt.close()


def test_event_tokens_are_bound_to_their_workspace_and_expire(env):
    """The page's token opens its own workspace's stream only, and not after it expires."""
    from batchcore.domain.tokens import TOKEN_LIFETIME
    from studio.runtime import runtime

    rt = runtime()
    ws = services.update_inputs(rt, services.new_workspace(rt).ws,
                                Inputs(mode="batch", batch_text=EXAMPLE), parse_batch(EXAMPLE)).ws
    other = services.update_inputs(rt, services.new_workspace(rt).ws,
                                   Inputs(mode="single", single_prompt="x"), parse_batch("")).ws
    assert ws.id and other.id
    now = time.time()
    token = services.event_token(rt, ws, now=now)
    assert services.check_event_token(rt, ws.id, token, now=now) == ""
    assert services.check_event_token(rt, other.id, token, now=now)
    assert services.check_event_token(rt, "../etc/passwd", token, now=now)
    assert "expired" in services.check_event_token(rt, ws.id, token,
                                                   now=now + TOKEN_LIFETIME + 1)
    assert services.event_token(rt, services.Workspace(id="", state=ws.state)) == ""
    rt.close()


def test_replicas_with_one_signing_key_accept_each_others_links():
    """Two runtimes built with the same APP_SIGNING_KEY sign alike; without it they do not."""
    from batchcore.bootstrap import build
    from batchcore.config import load_settings

    shared = load_settings({"APP_SIGNING_KEY": "k" * 40, "DATABASE_URL": "sqlite://"})
    a, b = build(shared), build(shared)
    c = build(load_settings({"DATABASE_URL": "sqlite://"}))
    try:
        assert a.signing_key == b.signing_key != c.signing_key
    finally:
        for rt in (a, b, c):
            rt.close()


def test_sessions_seen_long_ago_are_forgotten_without_a_scrape(env):
    """Past SESSIONS_KEPT remembered sessions, a page run forgets those idle > 5 minutes."""
    from batchcore.bootstrap import build
    from batchcore.config import load_settings

    rt = build(load_settings({"DATABASE_URL": "sqlite://"}))
    try:
        for n in range(services.SESSIONS_KEPT):
            services.note_session(rt, f"old-{n}", now=1000.0)
        services.note_session(rt, "now", now=2000.0)
        assert list(rt.sessions) == ["now"]
        assert services.open_sessions(rt, now=2001.0) == 1
    finally:
        rt.close()
