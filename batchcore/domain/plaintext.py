r"""Text from a person or a server, made safe to show where Streamlit renders markdown.

Streamlit's alert boxes, captions and labels render markdown (and ``:material/…:`` icons,
``$…$`` math, ``:color[…]``); :func:`plain` escapes every character that could start one, so
the text reads exactly as it was written.

Two things a backslash does not stop (both checked in Chromium): Streamlit finds Material
icons in ``\:material/home\:`` after escapes are resolved, so ``:`` is written as the
character reference ``&#58;``; and GitHub's *autolink literals* (``https://…``, ``www.…``,
``name@host``) become live links even then, so an invisible WORD JOINER (U+2060,
:data:`JOINER`) is put where such a link would start — between ``http``/``https``/``ftp`` and
``:``, between ``www`` and ``.``, before ``@``. The text reads the same, with no link in it.
"""

from __future__ import annotations

import re

__all__ = ["JOINER", "plain"]

JOINER = "\u2060"
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$=&])")
#: list markers and headings only mean something at the start of a line
_LINE_START = re.compile(r"^(\s*)([-+]|\d+)([.)]?)", re.MULTILINE)
#: where a GitHub autolink literal could start
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=ftp)(?=:)|(?<=mailto)(?=:)|"
                       r"(?<=xmpp)(?=:)|(?<=www)(?=\.)|(?=@)")


def plain(text: object) -> str:
    """``text`` with every markdown-active character neutralised; newlines kept."""
    escaped = _AUTOLINK.sub(JOINER, _SPECIAL.sub(r"\\\1", str(text))).replace(":", "&#58;")
    return _LINE_START.sub(_line_start, escaped)


def _line_start(m: re.Match[str]) -> str:
    lead, mark, dot = m.groups()
    if mark in "-+":
        return f"{lead}\\{mark}{dot}"
    return f"{lead}{mark}\\{dot}" if dot else m.group(0)
