"""Which workspace a page run shows, from its address and the session (pure).

The open workspace follows the person: the address's ``?w=`` names it; a page switch that
drops ``?w=`` keeps the session's workspace (and the address gets it back); Back/Forward to
another ``?w=`` opens that one; Back/Forward to an address without ``?w=`` on the same page
is the empty, not yet stored workspace that "New workspace" started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["UNSTORED", "Choice", "choose_workspace"]

#: the session's marker for a workspace that is not stored (yet, or cannot be)
UNSTORED = "local"


@dataclass(frozen=True)
class Choice:
    """``keep`` the session's workspace, ``open`` the one of ``workspace_id``, or start
    ``fresh`` (an empty workspace, stored once it has content). ``set_address`` says the
    address should name ``workspace_id`` again."""

    action: Literal["keep", "open", "fresh"]
    workspace_id: str = ""
    set_address: bool = False


def choose_workspace(address_id: str, session_id: str | None, *, page_changed: bool,
                     confirmed: bool = True) -> Choice:
    """Decide from the address's ``?w=`` (``""`` when absent), the session's workspace id
    (``None`` in a new session, :data:`UNSTORED` when not stored), whether this run
    follows a switch from another page of the app, and whether the browser's address has
    ever shown the session's workspace (``confirmed``): a workspace stored a moment ago may
    get a click whose request still carries the bare address — that click belongs to it."""
    stored = session_id not in (None, "", UNSTORED)
    if session_id is None:
        return Choice("open", address_id) if address_id else Choice("fresh")
    if address_id:
        if address_id == session_id:
            return Choice("keep", address_id)
        return Choice("open", address_id)
    if not stored:
        return Choice("keep")
    if page_changed or not confirmed:  # a page switch dropped ?w=, or it has not arrived yet
        return Choice("keep", session_id or "", set_address=True)
    return Choice("fresh")  # Back/Forward to the bare address of "New workspace"
