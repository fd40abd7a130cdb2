"""The tables of ``st.secrets`` (``[auth]``, ``[GCS_SERVICE_ACCOUNT]``, …), read without
importing the app: the entry script asks before anything heavy is loaded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

__all__ = ["sections"]


def sections() -> dict[str, Any]:
    """The sections of ``st.secrets`` (``{}`` without a readable secrets file: the runtime
    already says when it is broken)."""
    try:
        return {k: v for k, v in st.secrets.items() if isinstance(v, Mapping)}
    except Exception:  # noqa: BLE001 - no or broken secrets.toml: no section to use
        return {}
