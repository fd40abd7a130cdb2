"""Sign-in shell: reads ``st.user`` and the secrets' ``[auth]`` section, calls ``st.login`` /
``st.logout``. Every decision (is sign-in configured, who owns what) is in
:mod:`batchcore.domain.access`.

The entry script calls :func:`sign_in` once per run, after ``st.navigation`` and before
``nav.run()``: with sign-in configured it draws the sign-in screen and stops the run until
someone is signed in. Pages ask :func:`owner` for the owner to pass to the services; it
stops the run too when sign-in is configured and nobody is signed in, so no page can list
or open workspaces for an anonymous visitor even if it is reached some other way.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import streamlit as st

from batchcore.domain import access

from .runtime import settings
from .secret_sections import sections as secret_sections
from .state import OWNER_KEY, WORKSPACE_KEY

__all__ = ["owner", "sign_in"]


def _problem(sections: Mapping[str, Any]) -> str:
    problem = access.auth_problem(sections)
    if not problem and importlib.util.find_spec("authlib") is None:
        problem = ("Sign-in is configured but Authlib is not installed, so the app stays "
                   "closed: install the requirements (streamlit[auth]).")
    return problem


def _closed(title: str, problem: str) -> None:
    st.title(title)
    st.error(problem)
    st.stop()


def owner() -> str:
    """The owner to pass to the services: the signed-in person, or ``""`` without sign-in.
    With sign-in configured and nobody signed in, the run stops here."""
    sections = secret_sections()
    if not access.auth_configured(sections):
        return ""
    problem = _problem(sections)
    if problem:
        _closed(access.SIGN_IN_TITLE, problem)
    who = access.owner_of(st.user.to_dict())
    if not who:
        _sign_in_screen(sections)
    return who


def _sign_in_screen(sections: Mapping[str, Any]) -> None:
    """The short sign-in screen: a sentence and one Log in button per provider; the run
    stops here."""
    st.title(access.SIGN_IN_TITLE)
    st.write(access.SIGN_IN_TEXT)
    for provider in access.login_providers(sections):
        label = "Log in" if provider == access.DEFAULT_PROVIDER else f"Log in with {provider}"
        if st.button(label, key=f"log_in_{provider or 'default'}", type="primary"):
            st.login(provider or None)
    st.stop()


def sign_in() -> str:
    """The sign-in screen until someone is signed in (the run stops there); then the owner
    goes into the session before any workspace is opened, and the sidebar says who is
    signed in, with Log out. Without sign-in configured: ``""`` and nothing is drawn."""
    if not access.auth_configured(secret_sections()):
        _spend_note("", sign_in_on=False)
        return ""
    who = owner()
    if st.session_state.get(OWNER_KEY) != who:
        # another person in this browser session: the workspace is opened again for them
        st.session_state.pop(WORKSPACE_KEY, None)
    st.session_state[OWNER_KEY] = who
    with st.sidebar:
        st.text(access.signed_in_as(who))
        if st.button("Log out", key="log_out"):
            st.logout()
    _spend_note(who, sign_in_on=True)
    return who


def _spend_note(who: str, *, sign_in_on: bool) -> None:
    note = access.spend_note(who, settings().spend_allowlist, sign_in_on)
    if note:
        with st.sidebar:
            st.warning(note)
