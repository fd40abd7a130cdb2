"""The process-wide runtime for the page: ``batchcore.bootstrap.build``, cached.

Shell code only (it imports streamlit): settings come from ``st.secrets`` first, then the
environment; every decision lives in ``batchcore``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import streamlit as st
from pydantic import SecretStr

from batchcore.bootstrap import Runtime, build
from batchcore.config import Settings, load_settings, secrets_problem, secrets_settings
from batchcore.service_layer import services

__all__ = ["Runtime", "latest_runtime", "runtime", "settings"]


def _secrets() -> tuple[Mapping[str, Any], list[str]]:
    """``st.secrets`` as plain top-level values, and sentences for what could not be read.

    Streamlit raises the same ``FileNotFoundError`` subclass for "there is no secrets.toml"
    (normal: mock mode) and "secrets.toml is broken" (must be said): its error id tells them
    apart, and ``batchcore.config.secrets_problem`` words it.
    """
    try:
        return secrets_settings(dict(st.secrets.items()))
    except Exception as exc:  # noqa: BLE001 - a broken secrets.toml must be said, not ignored
        problem = secrets_problem(str(getattr(exc, "error_id", "") or type(exc).__name__),
                                  str(exc))
        return {}, [problem] if problem else []


def settings() -> Settings:
    """Settings from ``st.secrets`` first, then the environment."""
    secrets, problems = _secrets()
    cfg = load_settings(secrets, os.environ)
    if problems:
        cfg = cfg.model_copy(update={"problems": (*problems, *cfg.problems)})
    return cfg


@st.cache_resource(show_spinner=False)
def _build(settings_json: str, key: str, gcs_account: str = "", signing: str = "") -> Runtime:
    cfg = Settings.model_validate_json(settings_json)
    # SecretStr serialises as '**********': the secrets travel separately
    cfg = cfg.model_copy(update={"api_key": SecretStr(key) if key else None,
                                 "gcs_service_account": SecretStr(gcs_account)
                                 if gcs_account else None,
                                 "signing_key": SecretStr(signing) if signing else None})
    try:
        rt = build(cfg)
    except Exception as exc:  # noqa: BLE001 - a setting that slipped through must not kill the page
        safe = cfg.model_copy(update={
            "use_mock": True, "api_key": None, "mock_reason": "the backend settings could not be used",
            "problems": (*cfg.problems, (f"The backend could not be set up ({type(exc).__name__}); "
                         "running in mock mode."))})
        rt = build(safe)
    _BUILT[:] = [rt]
    # Paid work left open by a restart (or by a replica that died) is reconciled whether or
    # not a page opens it: now, and then every minute (stopped by rt.close()).
    services.start_sweep(rt)
    return rt


_BUILT: list[Runtime] = []


def latest_runtime() -> Runtime | None:
    """The runtime this process built last (for tests and diagnostics)."""
    return _BUILT[0] if _BUILT else None


def runtime() -> Runtime:
    """The shared runtime for the current settings (built once per process)."""
    cfg = settings()
    account = cfg.gcs_service_account.get_secret_value() if cfg.gcs_service_account else ""
    signing = cfg.signing_key.get_secret_value() if cfg.signing_key else ""
    return _build(cfg.model_dump_json(), cfg.key, account, signing)
