"""Workspace names and "is there anything here yet?" (pure: states in, words out).

A workspace's name is kept in its append-only status log: renaming appends a ``renamed``
line whose message is the new name, and the latest such line is the name. Until then the
name is made from the first scene id and the day the workspace was first used.
"""

from __future__ import annotations

from datetime import datetime

from batchcore.domain.statuslog import LogEntry, log_entry
from batchcore.domain.workflow import WorkflowState

__all__ = ["MAX_NAME", "RENAMED", "clean_name", "default_name", "has_content",
           "name_entry", "workspace_name"]

#: the status word of the log line that names a workspace
RENAMED = "renamed"
#: the longest name kept (longer ones are cut)
MAX_NAME = 60


def clean_name(text: str) -> str:
    """A name as it is kept: one line, spaces collapsed, at most ``MAX_NAME`` characters."""
    return " ".join(str(text).split())[:MAX_NAME].strip()


def has_content(state: WorkflowState) -> bool:
    """True once a workspace holds anything worth keeping (only then is it stored)."""
    i = state.inputs
    return bool(i.batch_text.strip() or i.single_prompt.strip() or i.single_scene_id.strip()
                or i.grid or state.references or state.draft.rows or state.draft.errors
                or state.receipts or state.submissions or state.images or state.approvals
                or state.videos or state.log or state.past_submissions)


def _first_scene(state: WorkflowState) -> str:
    for scene in state.images:
        return scene
    for receipt in sorted(state.receipts.values(), key=lambda r: r.created_at):
        if receipt.rows:
            return receipt.rows[0].scene_id
    if state.draft.rows:
        return state.draft.rows[0].scene_id
    return ""


def _first_moment(state: WorkflowState) -> str:
    stamps = [e.timestamp for e in state.log]
    stamps += [r.created_at for r in state.receipts.values()]
    return min(stamps).strftime("%Y-%m-%d %H:%M") if stamps else ""


def default_name(state: WorkflowState) -> str:
    """``<first scene id> · <first day and time, UTC>``, or what there is of it, or
    "Untitled workspace"."""
    parts = [p for p in (_first_scene(state), _first_moment(state)) if p]
    return clean_name(" · ".join(parts)) or "Untitled workspace"


def workspace_name(state: WorkflowState) -> str:
    """The name given last (a ``renamed`` log line), else :func:`default_name`."""
    for entry in reversed(state.log):
        if entry.status == RENAMED and entry.message.strip():
            return clean_name(entry.message)
    return default_name(state)


def name_entry(name: str, now: datetime | None = None) -> LogEntry:
    """The log line that gives a workspace ``name`` (cleaned)."""
    return log_entry(RENAMED, clean_name(name), now=now)
