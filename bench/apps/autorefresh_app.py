"""The same Batch Studio page, refreshed every second by the real ``streamlit-autorefresh``.

The comparison for benchmark (a): instead of the status-log fragment ticking on its own
(``@st.fragment(run_every=1)``), the whole script reruns every second, which is what the
common ``st_autorefresh(interval=1000)`` approach does. The page's own code is run unchanged;
only ``st.fragment``'s ``run_every`` is dropped (the fragment still exists, it just does not
tick) and the app's navigation is reduced to its default page (this file lives in ``bench/``,
so the History page's relative path would not resolve; it is never visited here), so the
sidebar's page links are drawn as plain text.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit_autorefresh import st_autorefresh  # noqa: E402


class _Page:
    #: the app remembers which page ran last by its path; here there is only the one
    url_path = ""

    def __init__(self, page, **_kw):
        self.page = page

    def run(self):
        if callable(self.page):
            self.page()


def _patch() -> None:
    """Patch ``st`` once for the life of this server process (it serves only this script).

    This file reruns top to bottom on every run, so the originals are taken only the first
    time, and nothing is restored mid-run, where a concurrent session could see it half done.
    """
    if getattr(st, "_bench_autorefresh_patched", False):
        return
    fragment, set_page_config = st.fragment, st.set_page_config

    def no_tick_fragment(func=None, *, run_every=None):
        return (lambda f: fragment(f)) if func is None else fragment(func)

    def config_then_refresh(*args, **kwargs):
        set_page_config(*args, **kwargs)
        # ``?autorefresh=off``: bench/seed.py generating the batch here (every click would
        # race a whole-page rerun each second, and on a loaded machine lose it)
        if st.query_params.get("autorefresh") != "off":
            st_autorefresh(interval=1000, key="bench_autorefresh")

    def page_link_stand_in(page, *, label=None, icon=None, help=None, **_kw):
        # st.page_link takes only pages registered with st.navigation; here there is none
        # to link to, so each link is one plain element of the same text instead
        st.markdown(label or "")

    st.fragment = no_tick_fragment
    st.page_link = page_link_stand_in
    st.set_page_config = config_then_refresh
    st.Page = _Page
    st.navigation = lambda pages, **_kw: pages[0]
    st._bench_autorefresh_patched = True


_patch()
_APP = ROOT / "app_page.py"
exec(compile(_APP.read_text(), str(_APP), "exec"), {"__name__": "__main__", "__file__": str(_APP)})
