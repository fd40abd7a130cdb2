"""Batch Studio: upload references, write prompts, dry-run, generate, approve, make video.

The page only draws widgets and calls the services of ``batchcore``; run it with
``streamlit run streamlit_app.py`` (mock mode, no key needed).
"""

import streamlit as st

from studio import auth, page
from studio.runtime import runtime
from studio.state import WORKSPACE_KEY, new_workspace, open_workspace

st.set_page_config(page_title="Batch Studio", page_icon=":material/movie:", layout="wide")


def studio_page() -> None:
    """The single page of the brief, top to bottom."""
    rt = runtime()
    open_workspace(rt, auth.owner())
    _sidebar(rt)
    page.header(rt)
    page.show_notices("top")
    page.upload_zone(rt)
    page.prompts(rt)
    page.actions(rt)
    page.thumbnails(rt)
    page.video(rt)
    page.exports(rt)
    page.status_log(rt)


def _sidebar(rt) -> None:
    with st.sidebar:
        st.subheader("Workspace")
        st.text(f"Id: {st.session_state.get(WORKSPACE_KEY, '')}")
        st.caption("Bookmark this page's address to come back to this workspace.")
        if st.button("New workspace", key="new_workspace"):
            new_workspace(rt)
            st.rerun()
        if rt.store_problem:
            st.error(rt.store_problem)


nav = st.navigation([
    st.Page(studio_page, title="Studio", icon=":material/movie:", default=True),
    st.Page("pages/history.py", title="History", icon=":material/history:"),
])
auth.sign_in()  # with [auth] in the secrets: the sign-in screen until signed in (stops the run)
nav.run()
