"""Links between the app's pages that carry the open workspace (``?w=``) along.

``app_page.py`` registers the pages it gives ``st.navigation``; the sidebar and the
History page link to them with the workspace in the address, so a page switch or a
Back/Forward never loses it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: the app's pages by name ("studio", "history"), registered on every run
PAGES: dict[str, Any] = {}


def link(name: str, label: str, icon: str | None = None, workspace_id: str = "",
         *, key_help: str | None = None) -> None:
    """A link to page ``name`` that opens ``workspace_id`` there (when given)."""
    page = PAGES.get(name)
    if page is None:
        return
    st.page_link(page, label=label, icon=icon, help=key_help,
                 query_params={"w": workspace_id} if workspace_id else None)
