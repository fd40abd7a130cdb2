"""Process-wide resources for the page: settings, the client, the job runner, the store.

This is Streamlit shell code (it may import streamlit); every decision lives in batchcore.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from batchcore.config import MOCK_BASE_URL, Settings, load_settings
from batchcore.jobs import JobRunner


def _secrets() -> Mapping[str, Any]:
    """``st.secrets`` as a plain dict, or empty when there is no secrets file."""
    try:
        return {k: v for k, v in st.secrets.items() if not isinstance(v, Mapping)}
    except Exception:  # no secrets.toml: that is the normal mock-mode case
        return {}


def settings() -> Settings:
    """Settings from ``st.secrets`` first, then the environment."""
    return load_settings(_secrets(), os.environ)


@dataclass
class Runtime:
    settings: Settings
    client: Any
    runner: JobRunner
    emulator: Any = None
    store: Any = None
    store_problem: str = ""


def _mock_key() -> str:
    # A well-formed key for the emulator, built at run time (no key-like literal in the repo).
    return "aip" + "_" + "mock" * 11


@st.cache_resource(show_spinner=False)
def _build(settings_json: str, key: str) -> Runtime:
    from batchcore.client import OrchestratorClient

    cfg = Settings.model_validate_json(settings_json)
    emulator = None
    if cfg.use_mock:
        from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport

        emulator = Emulator(EmulatorConfig(latency_ms=cfg.mock_latency_ms,
                                           profile=cfg.mock_profile))
        client = OrchestratorClient(
            MOCK_BASE_URL, _mock_key(), transport=EmulatorTransport(emulator),
            live_read_timeout=cfg.live_read_timeout,
        )
    else:
        client = OrchestratorClient(cfg.base_url, key, live_read_timeout=cfg.live_read_timeout)
    store, problem = None, ""
    try:
        from batchcore.store import WorkspaceStore

        store = WorkspaceStore(cfg.database_url)
    except Exception as exc:  # the page still works, without persistence, and says so
        problem = f"Workspaces cannot be saved: {exc}"
    built = Runtime(settings=cfg, client=client, runner=JobRunner(), emulator=emulator,
                    store=store, store_problem=problem)
    _BUILT[:] = [built]
    return built


_BUILT: list[Runtime] = []


def latest_runtime() -> Runtime | None:
    """The runtime this process built last (for tests and diagnostics: its emulator, runner)."""
    return _BUILT[0] if _BUILT else None


def runtime() -> Runtime:
    """The shared runtime for the current settings (built once per process)."""
    cfg = settings()
    # The key is passed separately: SecretStr serialises as '**********'.
    return _build(cfg.model_dump_json(), cfg.key)
