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
VERSION_KEY = "wf_version"
NOTICE_KEY = "workspace_notice"


def current() -> WorkflowState:
    return st.session_state[STATE_KEY]


def commit(rt: Runtime, new: WorkflowState) -> WorkflowState:
    """Keep ``new`` as the state and save it when it changed."""
    from batchcore.store import StaleWorkspace

    old = st.session_state.get(STATE_KEY)
    st.session_state[STATE_KEY] = new
    wid = st.session_state.get(WORKSPACE_KEY)
    if new == old or rt.store is None or not wid or wid == "local":
        return new
    try:
        st.session_state[VERSION_KEY] = rt.store.save(
            wid, new, expected_version=st.session_state.get(VERSION_KEY))
    except StaleWorkspace:
        # Another tab (or replica) saved this workspace since we loaded it: take its state
        # rather than overwrite it, say so, and draw the page again from it.
        loaded = rt.store.load(wid)
        st.session_state[STATE_KEY] = loaded.state
        st.session_state[VERSION_KEY] = loaded.version
        st.session_state["_widgets_restored"] = False
        st.session_state[NOTICE_KEY] = ("This workspace was changed in another tab; "
                                        "the page now shows the latest version.")
        st.rerun()
    except Exception as exc:  # shown, never a crash; the session keeps the state
        st.session_state[NOTICE_KEY] = f"This change could not be saved: {exc}"
    return new


def open_workspace(rt: Runtime) -> None:
    """Load the workspace named by ``?w=`` (or start one) into the session, once per session."""
    wanted = st.query_params.get("w", "")
    have = st.session_state.get(WORKSPACE_KEY)
    if have and (have == wanted or (have == "local" and not wanted)):
        return
    state = WorkflowState()
    wid, version = "", None
    if rt.store is not None:
        try:
            if wanted:
                loaded = rt.store.load(wanted)
                if loaded.problem:
                    st.session_state[NOTICE_KEY] = loaded.problem
                    wid, version = rt.store.new_workspace(), 1
                else:
                    state, wid, version = loaded.state, wanted, loaded.version
            else:
                wid, version = rt.store.new_workspace(), 1
        except Exception as exc:
            st.session_state[NOTICE_KEY] = f"Workspaces are unavailable: {exc}"
            wid = ""
    for key in [k for k in st.session_state if k not in (NOTICE_KEY,)]:
        del st.session_state[key]
    st.session_state[STATE_KEY] = state
    st.session_state[VERSION_KEY] = version
    st.session_state[WORKSPACE_KEY] = wid or "local"
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
