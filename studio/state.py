"""Where the page keeps its workspace in the session, and its notices.

The session holds the workspace id, state and stored version (``Workspace`` of the service
layer); every change comes back from a service and is kept with :func:`keep`. Notices from
services are kept per page section until the person dismisses them.
"""

from __future__ import annotations

import uuid

import streamlit as st

from batchcore.domain.navigation import UNSTORED, choose_workspace
from batchcore.domain.progress import finished_message
from batchcore.domain.workflow import WorkflowState
from batchcore.service_layer import services
from batchcore.service_layer.services import Notice, Outcome, Workspace

from .runtime import Runtime

STATE_KEY = "wf"
WORKSPACE_KEY = "wid"
VERSION_KEY = "wf_version"
OWNER_KEY = "owner"
NOTICES_KEY = "notices"
#: the workspace id the browser's address has shown at least once
CONFIRMED_KEY = "_address_confirmed"
THUMBS_KEY = "_ref_thumbnails"
#: the url path of the page that ran last (a page switch is told from Back/Forward by it)
PAGE_KEY = "_page"
#: what finished since the last run, for a toast ("" when nothing did)
TOAST_KEY = "_finished_toast"
#: this browser session's own id (for /metrics; never shown)
SESSION_KEY = "_session_id"


def note_session(rt: Runtime) -> None:
    """This browser session ran the page now (an id of its own; /metrics counts them)."""
    sid = st.session_state.get(SESSION_KEY)
    if sid is None:
        sid = st.session_state[SESSION_KEY] = uuid.uuid4().hex
    services.note_session(rt, sid)


def current() -> WorkflowState:
    return st.session_state[STATE_KEY]


def ws() -> Workspace:
    """The page's workspace as the services take it."""
    wid = st.session_state.get(WORKSPACE_KEY) or ""
    return Workspace(id="" if wid == UNSTORED else wid, state=st.session_state[STATE_KEY],
                     version=st.session_state.get(VERSION_KEY),
                     owner=st.session_state.get(OWNER_KEY, ""))


def keep(out: Outcome, section: str = "top", *, action: bool = False) -> Outcome:
    """Keep what a service returned: the workspace, its notices (under ``section``), and any
    thumbnails it made. A workspace stored for the first time gets its link (``?w=``).

    ``action``: this was the section's own action (a Confirm); when it succeeded, the errors
    and warnings its earlier attempts left there are answered and go (one message per fact:
    a wrong count said before the right one was typed does not stay above the clips)."""
    before = st.session_state.get(WORKSPACE_KEY)
    st.session_state[STATE_KEY] = out.ws.state
    st.session_state[VERSION_KEY] = out.ws.version
    st.session_state[WORKSPACE_KEY] = out.ws.id or UNSTORED
    if out.ws.id and out.ws.id != before and st.query_params.get("w") != out.ws.id:
        st.query_params["w"] = out.ws.id
    if action and not any(n.level == "error" for n in out.notices):
        have = st.session_state.get(NOTICES_KEY, {}).get(section)
        if have:
            have[:] = [n for n in have if n.level not in ("error", "warning")]
    if out.notices:
        notices = st.session_state.setdefault(NOTICES_KEY, {})
        have = notices.setdefault(section, [])
        for n in out.notices:
            if n not in have:
                have.append(n)
    if out.thumbnails:
        st.session_state.setdefault(THUMBS_KEY, {}).update(out.thumbnails)
    return out


def note_finished(before: WorkflowState, after: WorkflowState) -> None:
    """Remember a toast for paid work that finished between two states."""
    message = finished_message(before, after)
    if message:
        st.session_state[TOAST_KEY] = message
        # "Generating …" said when the work started is over now
        drop_info("actions", "video")


def drop_info(*sections: str) -> None:
    """Forget the info notices of ``sections`` (what they announced has happened)."""
    for section in sections:
        have = st.session_state.get(NOTICES_KEY, {}).get(section)
        if have:
            have[:] = [n for n in have if n.level != "info"]


def notices(section: str) -> list[Notice]:
    return list(st.session_state.get(NOTICES_KEY, {}).get(section, []))


def dismiss(section: str) -> None:
    st.session_state.get(NOTICES_KEY, {}).pop(section, None)


def open_workspace(rt: Runtime, owner: str = "", *, page_changed: bool = False) -> None:
    """Show the workspace the address names (``?w=``), the session's one after a page
    switch, or a new one (stored with its first content); on a run that keeps the session's
    workspace, bring it up to date (another tab, the background worker)."""
    wanted = st.query_params.get("w", "")
    have = st.session_state.get(WORKSPACE_KEY)
    if wanted and wanted == have:
        st.session_state[CONFIRMED_KEY] = have  # the browser's address shows it
    choice = choose_workspace(wanted, have, page_changed=page_changed,
                              confirmed=st.session_state.get(CONFIRMED_KEY) == have)
    if choice.action == "keep":
        if choice.set_address:
            st.query_params["w"] = choice.workspace_id
        if page_changed:
            _after_page_switch()
        before = current()
        out = services.sync(rt, ws())
        if out.changed:
            st.session_state["_widgets_restored"] = False
        keep(out)
        note_finished(before, out.ws.state)
        return
    kept = st.session_state.get(NOTICES_KEY, {})
    page = st.session_state.get(PAGE_KEY)
    session = st.session_state.get(SESSION_KEY)
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state[OWNER_KEY] = owner
    if session is not None:  # the same browser session, another workspace
        st.session_state[SESSION_KEY] = session
    st.session_state[PAGE_KEY] = page
    if choice.action == "open":
        out = services.open_workspace(rt, choice.workspace_id, owner)
    else:
        out = services.new_workspace(rt, owner)
    st.session_state[NOTICES_KEY] = kept
    keep(out)
    if out.ws.id and out.ws.id == wanted:
        st.session_state[CONFIRMED_KEY] = wanted  # opened from the address: it shows it
    if out.ws.id != wanted:  # a bad or foreign link started a new workspace: drop the link
        if out.ws.id:
            st.query_params["w"] = out.ws.id
        elif wanted:
            del st.query_params["w"]


def _after_page_switch() -> None:
    """Streamlit forgot this page's widgets while another page ran: fill them from the saved
    inputs again, and forget which dropped files were sent (the drop zone is empty now)."""
    st.session_state["_widgets_restored"] = False
    for key in ("_name_for", "uploaded_file_ids"):
        st.session_state.pop(key, None)


def new_workspace(rt: Runtime) -> None:
    """Start a clean workspace (the old one stays saved under its own link; the new one is
    stored with its first content)."""
    st.query_params.clear()
    st.session_state.pop(WORKSPACE_KEY, None)


def workspace_id() -> str:
    """The open workspace's id ("" while it is not stored)."""
    return ws().id
