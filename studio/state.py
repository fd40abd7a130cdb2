"""Where the page keeps its workspace in the session, and its notices.

The session holds the workspace id, state and stored version (``Workspace`` of the service
layer); every change comes back from a service and is kept with :func:`keep`. Notices from
services are kept per page section until the person dismisses them.
"""

from __future__ import annotations

import streamlit as st

from batchcore.service_layer import services
from batchcore.service_layer.services import Notice, Outcome, Workspace
from batchcore.domain.workflow import WorkflowState

from .runtime import Runtime

STATE_KEY = "wf"
WORKSPACE_KEY = "wid"
VERSION_KEY = "wf_version"
OWNER_KEY = "owner"
NOTICES_KEY = "notices"
THUMBS_KEY = "_ref_thumbnails"


def current() -> WorkflowState:
    return st.session_state[STATE_KEY]


def ws() -> Workspace:
    """The page's workspace as the services take it."""
    wid = st.session_state.get(WORKSPACE_KEY) or ""
    return Workspace(id="" if wid == "local" else wid, state=st.session_state[STATE_KEY],
                     version=st.session_state.get(VERSION_KEY),
                     owner=st.session_state.get(OWNER_KEY, ""))


def keep(out: Outcome, section: str = "top") -> Outcome:
    """Keep what a service returned: the workspace, its notices (under ``section``), and any
    thumbnails it made."""
    st.session_state[STATE_KEY] = out.ws.state
    st.session_state[VERSION_KEY] = out.ws.version
    st.session_state[WORKSPACE_KEY] = out.ws.id or "local"
    if out.notices:
        notices = st.session_state.setdefault(NOTICES_KEY, {})
        have = notices.setdefault(section, [])
        for n in out.notices:
            if n not in have:
                have.append(n)
    if out.thumbnails:
        st.session_state.setdefault(THUMBS_KEY, {}).update(out.thumbnails)
    return out


def notices(section: str) -> list[Notice]:
    return list(st.session_state.get(NOTICES_KEY, {}).get(section, []))


def dismiss(section: str) -> None:
    st.session_state.get(NOTICES_KEY, {}).pop(section, None)


def open_workspace(rt: Runtime, owner: str = "") -> None:
    """Load the workspace named by ``?w=`` (or start one) into the session, once per session;
    on every other run, bring it up to date (another tab, the background worker)."""
    wanted = st.query_params.get("w", "")
    have = st.session_state.get(WORKSPACE_KEY)
    if have and (have == wanted or (have == "local" and not wanted)):
        out = services.sync(rt, ws())
        if out.changed:
            st.session_state["_widgets_restored"] = False
        keep(out)
        return
    kept = st.session_state.get(NOTICES_KEY, {})
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state[OWNER_KEY] = owner
    out = services.open_workspace(rt, wanted, owner)
    st.session_state[NOTICES_KEY] = kept
    keep(out)
    if out.ws.id:
        st.query_params["w"] = out.ws.id


def new_workspace(rt: Runtime) -> None:
    """Start a clean workspace (the old one stays saved under its own link)."""
    out = services.new_workspace(rt, st.session_state.get(OWNER_KEY, ""))
    st.query_params.clear()
    if out.ws.id:
        st.query_params["w"] = out.ws.id
    st.session_state.pop(WORKSPACE_KEY, None)
