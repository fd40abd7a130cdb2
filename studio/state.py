"""The page's one workflow state: where it lives in the session and how it is saved.

Every change goes through :func:`commit`, which keeps the new state in the session and
saves it to the workspace store, so a refresh, a second tab or a bookmark restores it.
"""

from __future__ import annotations

import streamlit as st

from batchcore.workflow import WorkflowState

from .runtime import Runtime

STATE_KEY = "wf"
WORKSPACE_KEY = "wid"
NOTICE_KEY = "workspace_notice"


def current() -> WorkflowState:
    return st.session_state[STATE_KEY]


def commit(rt: Runtime, new: WorkflowState) -> WorkflowState:
    """Keep ``new`` as the state and save it when it changed."""
    old = st.session_state.get(STATE_KEY)
    st.session_state[STATE_KEY] = new
    if new != old and rt.store is not None and st.session_state.get(WORKSPACE_KEY):
        try:
            rt.store.save(st.session_state[WORKSPACE_KEY], new)
        except Exception as exc:  # shown, never a crash; the session keeps the state
            st.session_state[NOTICE_KEY] = f"This change could not be saved: {exc}"
    return new


def open_workspace(rt: Runtime) -> None:
    """Load the workspace named by ``?w=`` (or start one) into the session, once per session."""
    wanted = st.query_params.get("w", "")
    if st.session_state.get(WORKSPACE_KEY) and st.session_state[WORKSPACE_KEY] == wanted:
        return
    state = WorkflowState()
    wid = ""
    if rt.store is not None:
        try:
            if wanted:
                loaded = rt.store.load(wanted)
                if loaded.problem:
                    st.session_state[NOTICE_KEY] = loaded.problem
                    wid = rt.store.new_workspace()
                else:
                    state, wid = loaded.state, wanted
            else:
                wid = rt.store.new_workspace()
        except Exception as exc:
            st.session_state[NOTICE_KEY] = f"Workspaces are unavailable: {exc}"
            wid = ""
    for key in [k for k in st.session_state if k not in (NOTICE_KEY,)]:
        del st.session_state[key]
    st.session_state[STATE_KEY] = state
    st.session_state[WORKSPACE_KEY] = wid or wanted or "local"
    if wid:
        st.query_params["w"] = wid


def new_workspace(rt: Runtime) -> None:
    """Start a clean workspace (the old one stays saved under its own link)."""
    st.query_params.clear()
    if rt.store is not None:
        try:
            st.query_params["w"] = rt.store.new_workspace()
        except Exception as exc:
            st.session_state[NOTICE_KEY] = f"Workspaces are unavailable: {exc}"
    st.session_state.pop(WORKSPACE_KEY, None)
