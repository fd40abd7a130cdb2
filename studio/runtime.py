"""The process-wide runtime for the page: ``batchcore.bootstrap.build``, cached.

Shell code only (it imports streamlit): settings come from ``st.secrets`` first, then the
environment; every decision lives in ``batchcore``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import streamlit as st
from pydantic import SecretStr

from batchcore.bootstrap import Runtime, build
from batchcore.config import Settings, load_settings
from batchcore.service_layer import services

__all__ = ["Runtime", "latest_runtime", "runtime", "settings"]


def _secrets() -> tuple[Mapping[str, Any], str]:
    """``st.secrets`` as a plain dict (no sections), and a problem sentence if it is broken."""
    try:
        return {k: v for k, v in st.secrets.items() if not isinstance(v, Mapping)}, ""
    except FileNotFoundError:  # no secrets.toml: the normal mock-mode case
        return {}, ""
    except Exception as exc:  # noqa: BLE001 - a broken secrets.toml must be said, not ignored
        return {}, (f"The secrets file could not be read ({type(exc).__name__}); settings come "
                    "from the environment only.")


def settings() -> Settings:
    """Settings from ``st.secrets`` first, then the environment."""
    secrets, problem = _secrets()
    cfg = load_settings(secrets, os.environ)
    if problem:
        cfg = cfg.model_copy(update={"problems": (problem, *cfg.problems)})
    return cfg


@st.cache_resource(show_spinner=False)
def _build(settings_json: str, key: str) -> Runtime:
    cfg = Settings.model_validate_json(settings_json)
    # SecretStr serialises as '**********': the key travels separately
    cfg = cfg.model_copy(update={"api_key": SecretStr(key) if key else None})
    rt = build(cfg)
    _BUILT[:] = [rt]
    # Paid work left open by a restart is reconciled whether or not a page opens it.
    threading.Thread(target=services.resume_all, args=(rt,), daemon=True,
                     name="batch-resume").start()
    return rt


_BUILT: list[Runtime] = []


def latest_runtime() -> Runtime | None:
    """The runtime this process built last (for tests and diagnostics)."""
    return _BUILT[0] if _BUILT else None


def runtime() -> Runtime:
    """The shared runtime for the current settings (built once per process)."""
    cfg = settings()
    return _build(cfg.model_dump_json(), cfg.key)
