"""The studio page's title, drawn before anything heavy is imported or built.

The entry script draws it as soon as it knows the studio page will run and no sign-in
screen can come first, so the first paint does not wait for the imports and the runtime
(~0.4 s of imports, then the store, the emulator and the key check on a cold start).
Light on purpose: Streamlit and the pure sign-in rules only.
"""

from __future__ import annotations

import streamlit as st

from batchcore.domain import access

from .secret_sections import sections

__all__ = ["draw", "sign_in_configured"]

TITLE = "Batch Studio"
TAGLINE = ("Batch image and video generation with no accidental cost: dry-run first, "
           "confirm every paid step.")


def sign_in_configured() -> bool:
    """Whether the secrets have an ``[auth]`` section (a sign-in screen may come first)."""
    return access.auth_configured(sections())


def draw() -> None:
    st.title(TITLE)
    st.caption(TAGLINE)
