"""Batch Studio's page script: upload references, write prompts, dry-run, generate, approve,
make video.

The page only draws widgets and calls the services of ``batchcore``. ``streamlit_app.py``
serves it with the app's own routes and lifespan (``streamlit run streamlit_app.py``, mock
mode, no key needed); AppTest runs this script directly.
"""

import streamlit as st

from studio import masthead
from studio import nav as links

st.set_page_config(page_title="Batch Studio", page_icon=":material/movie:", layout="wide")


def studio_page() -> None:
    """The single page of the brief, top to bottom."""
    # imported here, after the title is on screen (a cold start's first paint waits for
    # nothing heavy); later runs find them imported
    from studio import auth, page
    from studio.perf import tune_gc, tune_heap
    from studio.runtime import runtime
    from studio.state import note_session, open_workspace

    if not early_title:
        masthead.draw()
    rt = runtime()
    note_session(rt)
    tune_gc()
    tune_heap()
    open_workspace(rt, auth.owner(), page_changed=st.session_state.pop("_page_changed", False))
    # Drawn last (into this slot at the top of the sidebar), so its links carry the
    # workspace id even when this very run stored the workspace for the first time.
    sidebar_slot = st.sidebar.container()
    page.gallery_intents(rt)
    page.header(rt)
    page.show_notices("top")
    page.upload_zone(rt)
    page.prompts(rt)
    page.actions(rt)
    page.thumbnails(rt)
    page.video(rt)
    page.exports(rt)
    page.status_log(rt)
    with sidebar_slot:
        page.workspace_sidebar(rt)
    page.finished_toast()


links.PAGES["studio"] = st.Page(studio_page, title="Studio", icon=":material/movie:",
                                default=True)
links.PAGES["history"] = st.Page("pages/history.py", title="History", icon=":material/history:")
# The pages are linked from the sidebar (studio/page.py) with the open workspace in the
# address: the built-in menu would drop ``?w=`` on every switch.
nav = st.navigation(list(links.PAGES.values()), position="hidden")
# The studio's title first, unless a sign-in screen may take the page instead.
early_title = nav.url_path == links.PAGES["studio"].url_path and not masthead.sign_in_configured()
if early_title:
    masthead.draw()

from studio import auth  # noqa: E402 - after the title: these import the whole app
from studio.state import PAGE_KEY  # noqa: E402

previous = st.session_state.get(PAGE_KEY)
st.session_state["_page_changed"] = previous is not None and previous != nav.url_path
st.session_state[PAGE_KEY] = nav.url_path
auth.sign_in()  # with [auth] in the secrets: the sign-in screen until signed in (stops the run)
nav.run()
