"""Real-browser tests: the app served by Streamlit, driven by Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import stop_process

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Server:
    """A subprocess on loopback that is stopped at the end."""

    def __init__(self, args: list[str], env: dict[str, str], health: str,
                 cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # nobody reads it: a full pipe would hang
        try:
            wait_http(health)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.proc)


@contextmanager
def served_emulator(key: str, *args: str, scheme: str = "http",
                    verify: Any = True) -> Iterator[str]:
    """``python -m batchcore.emulator`` on a free loopback port that accepts ``key`` (extra
    command-line ``args``, e.g. ``--strict`` or a certificate for https): its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchcore.emulator", "--port", str(port), *args],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1",
                       "BATCH_STUDIO_EMULATOR_KEYS": key},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", verify=verify, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the emulator did not start on {base}")
            time.sleep(0.2)
        yield base
    finally:
        stop_process(proc)


def paste_batch(page, text: str) -> None:
    """Type a batch (committed with Ctrl+Enter), then press Parse."""
    box = page.locator("textarea[aria-label='Batch']")
    box.fill(text)
    box.press("Control+Enter")
    idle(page)
    page.get_by_role("button", name="Parse").click()
    idle(page)


def start_app(tmp_path: Path, **settings: str) -> tuple[Server, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORCHESTRATOR_API_KEY", "BATCH_USE_MOCK", "DATABASE_URL")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path}/ws.sqlite3", "MOCK_LATENCY_MS": "100",
                "NO_PROXY": "127.0.0.1,localhost"})
    env.update(settings)
    args = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false"]
    url = f"http://127.0.0.1:{port}"
    return Server(args, env, f"{url}/_stcore/health"), url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (bash scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def mock_app(tmp_path):
    server, url = start_app(tmp_path)
    yield url
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def idle(page) -> None:
    """Wait until the script has finished its run (and give the DOM a moment to settle)."""
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_timeout(300)


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def approved_count(page) -> int:
    """How many of the gallery's pictures show as approved (pressed, with the checkmark)."""
    return page.get_by_role("button", name=re.compile(r"^Approve "), pressed=True).count()


def confirm_batch(page, text: str | None = None) -> None:
    """(Paste ``text`` and Parse, when given,) Dry-Run Images, Generate Images, then Confirm
    in the dialog: the one paid click. Returns once Confirm is clicked."""
    if text is not None:
        paste_batch(page, text)
    page.get_by_role("button", name="Dry-Run Images").click()
    idle(page)
    page.get_by_role("button", name="Generate Images").click()
    idle(page)
    page.get_by_role("button", name=re.compile(r"^Confirm — spend")).click()
