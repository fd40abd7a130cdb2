"""plain(): text from a person or a server reads the same and renders nothing (checked in Chromium)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.plaintext import JOINER, plain

_UNESCAPE = re.compile(r"\\([\\`*_{}\[\]<>#|~:$=&+\-.)])")


def reads(shown: str) -> str:
    """What a person reads of plain()'s output once markdown has resolved it."""
    return _UNESCAPE.sub(r"\1", re.sub(r"(?<!\\)&#58;", ":", shown)).replace(JOINER, "")


@given(st.text())
def test_plain_text_reads_exactly_as_written(text):
    """Whatever the text, what a person reads is exactly it (escapes and joiners are invisible)."""
    assert reads(plain(text)) == text


def test_no_link_can_start_anywhere():
    """https://, http://, ftp:, mailto:, www. and name@host get a word joiner where the link would start."""
    shown = plain("see https://x.example, HTTP://y, ftp://z, mailto:a, www.w.example, a@b.example")
    assert not re.search(r"(?i)\b(?:https?|ftp|mailto)(?::|&#58;)", shown)
    assert not re.search(r"(?i)\bwww\.", shown)
    assert not re.search(r"[\w.+-]@", shown)
    assert shown.count(JOINER) == 6


def test_icons_colours_and_math_cannot_start():
    """A colon is a character reference (a backslash does not stop Streamlit's icons); $ and brackets are escaped."""
    shown = plain(":material/home: :red[x] $x$ **b** <b> [l](javascript:x)")
    assert ":" not in shown.replace("&#58;", "")
    assert "\\$x\\$" in shown and "\\*\\*b\\*\\*" in shown and "\\<b\\>" in shown
    assert "\\[l\\](javascript&#58;x)" in shown


def test_a_written_character_reference_stays_as_written():
    """Text that itself contains "&#58;" or "&lt;" is shown as those characters, not decoded."""
    assert plain("&#58; &lt;") == "\\&\\#58; \\&lt;"
    assert reads(plain("&#58; &lt;")) == "&#58; &lt;"
