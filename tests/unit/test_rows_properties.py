"""Properties of the batch parser, checked on generated text (Hypothesis)."""

from __future__ import annotations

import string
import unicodedata

from hypothesis import assume, example, given
from hypothesis import strategies as st

from batchcore import MAX_ROWS, BatchRow, parse_batch
from batchcore.domain.pricing import MAX_PROMPT_CHARS
from batchcore.domain.rows import format_batch, js_length, row_problems

SCENE_ALPHABET = string.ascii_letters + string.digits + "._-"

# Text that exercises the format: separators, comment marks, digits, all kinds of whitespace,
# plus arbitrary unicode.
# ANY_CHAR includes lone surrogates (a Python str may hold them; Hypothesis leaves them out
# by default).
ANY_CHAR = st.characters(exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR)
_FIELD_CHARS = st.one_of(
    st.sampled_from(list("|||#0123  \t\u3000\u2028\u2029\x0b\x0c\x1c\x85abcXYZ._-\ud800")),
    ANY_CHAR,
)
_FIELD = st.text(_FIELD_CHARS, max_size=12)


@st.composite
def looks_like_a_row(draw) -> str:
    """A line shaped like a row, often but not always valid."""
    scene = draw(st.one_of(st.text(SCENE_ALPHABET, min_size=1, max_size=8), _FIELD))
    prompt = draw(_FIELD)
    variants = draw(st.one_of(st.sampled_from(["1", "2", "3", "02", "0", "4", "2.0", "two"]), _FIELD))
    pad = draw(st.sampled_from(["", " ", "  ", "\t"]))
    return f"{pad}{scene}{pad}|{pad}{prompt}{pad}|{pad}{variants}{pad}"


_LINE = st.one_of(
    looks_like_a_row(),
    st.sampled_from(["", "   ", "# comment", "  # indented | x | 1", "\t"]),
    st.text(_FIELD_CHARS.filter(lambda c: c not in "\r\n"), max_size=30),
)
# Lines joined with LF only, with no carriage return anywhere (so CRLF conversion is exact).
_LF_TEXT = st.lists(_LINE, max_size=16).map("\n".join).filter(lambda t: "\r" not in t)


def entry_lines(text: str) -> list[tuple[int, str]]:
    """The 1-based physical lines that are neither blank nor comments, as the contract says.

    Physical lines are those of str.splitlines (every line break a person may see: a lone
    CR, U+2028, a form feed ...), not only those split at '\\n' as before.
    """
    out = []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if line.strip() and not line.strip().startswith("#"):
            out.append((number, line))
    return out


@given(st.one_of(ANY_TEXT, _LF_TEXT))
@example("A | p | " + "7" * 5000)
@example("A | x\udbff | 1")
@example("\r\n\r\n|\r")
@example("\ud800 | \udfff | 1")
def test_parser_never_raises_on_any_text(text):
    """parse_batch returns a result for any text whatsoever (arbitrary unicode, no exception)."""
    result = parse_batch(text)
    assert isinstance(result.rows, list) and isinstance(result.errors, list)


@given(st.one_of(_LF_TEXT, ANY_TEXT))
def test_every_entry_line_yields_exactly_one_row_or_one_error(text):
    """Each non-blank non-comment line gives one row or one error; errors name exactly those lines."""
    result = parse_batch(text)
    entries = entry_lines(text)
    assert len(result.rows) + len(result.errors) == len(entries)

    entry_numbers = [n for n, _ in entries]
    error_numbers = [e.line for e in result.errors]
    assert error_numbers == sorted(set(error_numbers)), "one error per line, in line order"
    assert set(error_numbers) <= set(entry_numbers), "errors only on entry lines"

    # The rows come, in order, from the entry lines that have no error.
    row_lines = [line for n, line in entries if n not in set(error_numbers)]
    assert [r.scene_id for r in result.rows] == [ln.split("|", 1)[0].strip() for ln in row_lines]

    for error in result.errors:
        assert error.message.strip(), "every error says something"
    assert len(result.rows) <= MAX_ROWS


@st.composite
def valid_rows(draw) -> list[BatchRow]:
    """Up to MAX_ROWS valid rows with distinct ids and prompts that survive collapsing.

    (Valid now also means: no control character, not only invisible characters, and at most
    1,000 UTF-16 units; the old generator made rows the server would refuse.)"""
    ids = draw(
        st.lists(st.text(SCENE_ALPHABET, min_size=1, max_size=50), max_size=MAX_ROWS, unique=True)
    )
    rows = []
    for scene_id in ids:
        raw = draw(
            st.one_of(
                st.text(min_size=1, max_size=60),
                st.text(st.sampled_from(list("ab |#\u00e9\u6f22\U0001f40d\u0301 ")), min_size=1),
                st.text(min_size=990, max_size=1010),
            )
        )
        # Valid as the server counts: no control characters, not only invisible characters,
        # at most 1,000 UTF-16 units (an emoji counts 2), so cut a long prompt to fit.
        text = "".join(c for c in raw if unicodedata.category(c) != "Cc")
        prompt = " ".join(text.split())
        while js_length(prompt) > MAX_PROMPT_CHARS:
            prompt = " ".join(prompt[:-1].split())
        assume(1 <= len(prompt) <= MAX_PROMPT_CHARS)
        row = BatchRow(scene_id=scene_id, prompt=prompt, variants=draw(st.integers(1, 3)))
        assume(row_problems(row) == [])
        rows.append(row)
    return rows


@given(valid_rows())
def test_format_then_parse_gives_the_same_rows(rows):
    """parse_batch(format_batch(rows)) returns exactly the rows, with no error."""
    result = parse_batch(format_batch(rows))
    assert result.errors == []
    assert result.rows == rows


@given(valid_rows())
def test_format_then_parse_with_crlf_gives_the_same_rows(rows):
    """Formatted rows written with CRLF endings parse back to the same rows."""
    text = format_batch(rows).replace("\n", "\r\n") + "\r\n"
    assert parse_batch(text).rows == rows


@given(_LF_TEXT)
def test_crlf_text_gives_the_same_rows_and_line_numbers_as_lf(text):
    """The same text with CRLF endings gives the same rows, error lines and messages as with LF."""
    lf = parse_batch(text)
    crlf = parse_batch(text.replace("\n", "\r\n"))
    assert crlf.rows == lf.rows
    assert [(e.line, e.message, e.text) for e in crlf.errors] == [
        (e.line, e.message, e.text) for e in lf.errors
    ]
