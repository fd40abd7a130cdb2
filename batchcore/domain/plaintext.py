"""Text from a person or a server, made safe to show where Streamlit renders markdown.

Streamlit's alert boxes, captions and labels render markdown (and ``:material/…:`` icons,
``$…$`` math, ``:color[…]``); :func:`plain` escapes every character that could start one, so
the text reads exactly as it was written.
"""

from __future__ import annotations

import re

__all__ = ["plain"]

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~:$=&])")
#: list markers and headings only mean something at the start of a line
_LINE_START = re.compile(r"^(\s*)([-+]|\d+)([.)]?)", re.MULTILINE)


def plain(text: object) -> str:
    """``text`` with every markdown-active character backslash-escaped; newlines kept."""
    escaped = _SPECIAL.sub(r"\\\1", str(text))
    return _LINE_START.sub(_line_start, escaped)


def _line_start(m: re.Match[str]) -> str:
    lead, mark, dot = m.groups()
    if mark in "-+":
        return f"{lead}\\{mark}{dot}"
    return f"{lead}{mark}\\{dot}" if dot else m.group(0)
