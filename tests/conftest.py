"""Shared fixtures for every test layer."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def fake_key(tag: str = "x") -> str:
    """A well-formed but fake API key, built at run time so no key-like literal is in the repo."""
    return "aip" + "_" + (tag * 48)[:44]


def run_async(coro):
    """``asyncio.run(coro)`` on a thread of its own: the browser tests' Playwright session
    keeps an event loop running on the main thread for the rest of the run."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def stop_process(proc) -> None:
    """Stop a server the tests started: SIGTERM, then SIGKILL if it has not exited in 10 s."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
