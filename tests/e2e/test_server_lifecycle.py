"""The served app's start-up and shutdown, with a real server process and real Chromium,
against a served emulator whose ledger is the witness of what was billed."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import httpx
import pytest

from tests.app.conftest import EXAMPLE
from tests.conftest import fake_key
from tests.e2e.conftest import confirm_batch, idle, served_emulator, start_app

pytestmark = pytest.mark.e2e


def _units(base: str) -> int:
    return int(httpx.get(base + "/_emulator/ledger", timeout=10).json()["units"])


def _ready(url: str) -> dict:
    """/readyz once the runtime is built (503 "the app is starting" until then)."""
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(url + "/readyz", timeout=10)
        if answer.json().get("reason") != "the app is starting":
            return answer.json()
        assert time.monotonic() < deadline, "the runtime was never built"
        time.sleep(0.1)


def test_sigterm_during_a_paid_call_loses_nothing_and_doubles_nothing(tmp_path, page):
    """SIGTERM right after Confirm: the call finishes within the grace and is saved; the
    restarted app shows it completed; the emulator billed it exactly once."""
    key = fake_key("lifecycle")
    with served_emulator(key, "--latency-ms", "400") as base:
        settings = {"ORCHESTRATOR_URL": base, "ORCHESTRATOR_API_KEY": key}
        server, url = start_app(tmp_path, **settings)
        try:
            page.goto(url)
            idle(page)
            confirm_batch(page, EXAMPLE)
            page.get_by_text(re.compile("Generating 6 image")).first.wait_for(timeout=30_000)
            workspace = re.search(r"[?&]w=([^&]+)", page.url).group(1)
            stopped = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the app did not stop within 60 s of SIGTERM")
            took = time.monotonic() - stopped
        finally:
            server.stop()
        assert _units(base) == 6
        assert took < 30  # the call's own time (6 × 0.4 s) within the 20 s grace

        again, url = start_app(tmp_path, **settings)
        try:
            ready = _ready(url)
            assert ready["ready"] and ready["checks"]["store"] == "ok"
            page.goto(f"{url}/?w={workspace}")
            idle(page)
            page.get_by_role("button", name="Approve SCENE-003 #1").wait_for(timeout=30_000)
            assert page.get_by_role("button", name="Generate Images").is_disabled()
        finally:
            again.stop()
        assert _units(base) == 6


def test_start_up_serves_the_probes_before_any_page(tmp_path):
    """Before any browser visits: /healthz and /readyz answer, /metrics has the gauges."""
    server, url = start_app(tmp_path)
    try:
        assert httpx.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
        ready = _ready(url)
        assert ready["ready"] and ready["checks"]["key"] == "mock"
        text = httpx.get(url + "/metrics", timeout=10).text
        assert 'batchstudio_spend_today_dollars{backend="mock"} 0.0' in text
        assert "batchstudio_sessions 0.0" in text
    finally:
        server.stop()
