"""Hostile text in the row rules: line breaks, invisible characters, UTF-16 lengths, grid
values that are not text, and reference URLs."""

from __future__ import annotations

import math
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from batchcore.domain.rows import (
    LINE_BREAKS,
    BatchRow,
    LineError,
    LongNumber,
    check_reference_urls,
    describe_value,
    format_batch,
    js_length,
    parse_batch,
    parse_single,
    prompt_length,
    prompt_length_note,
    row_problems,
    rows_from_records,
    split_lines,
    visible,
)

ANY_CHAR = st.characters(exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR)
ODD_BREAKS = [b for b in LINE_BREAKS if b not in ("\n", "\r\n")]


def only_error(result) -> LineError:
    assert result.rows == [] and len(result.errors) == 1, result
    return result.errors[0]


# --- line breaks ------------------------------------------------------------------------


@pytest.mark.parametrize("brk", ODD_BREAKS)
def test_every_line_break_splits_lines(brk):
    """Two rows joined by any line break str.splitlines knows are two rows, never one prompt."""
    result = parse_batch(f"A | kitchen | 1{brk}B | hall | 2")
    assert [(r.scene_id, r.prompt) for r in result.rows] == [("A", "kitchen"), ("B", "hall")]
    assert result.errors == []


@pytest.mark.parametrize("brk", ODD_BREAKS)
def test_a_break_inside_a_row_gives_errors_that_name_it(brk):
    """A line break inside a row splits it; both halves are errors naming the break character."""
    result = parse_batch(f"A | warm{brk}kitchen | 1")
    assert result.rows == [] and [e.line for e in result.errors] == [1, 2]
    code = f"U+{ord(brk):04X}"
    assert all(code in e.message and "counts as a line break" in e.message for e in result.errors)


def test_line_numbers_follow_what_splitlines_sees():
    """Errors name the line a person sees, counting U+2028 and a lone CR as line breaks."""
    result = parse_batch("A | p | 1\u2028\rB | p | 9\r\nC | p | 1\x85bad")
    assert [e.line for e in result.errors] == [3, 5]
    assert [r.scene_id for r in result.rows] == ["A", "C"]


def test_split_lines_keeps_each_ending():
    """split_lines returns every line with the break that ended it."""
    assert split_lines("a\r\nb\u2029c\rd") == [("a", "\r\n"), ("b", "\u2029"), ("c", "\r"), ("d", "")]
    assert split_lines("") == [] and split_lines("x\n") == [("x", "\n")]


@given(st.lists(st.sampled_from(["A | p | 1", "B | q | 2", "", "# c", "bad", "C|r|x"]), max_size=8),
       st.lists(st.sampled_from(list(LINE_BREAKS)), min_size=8, max_size=8))
def test_any_mix_of_line_breaks_gives_the_rows_of_plain_newlines(lines, breaks):
    """The same lines joined by any mix of line breaks parse like the same lines joined by '\\n'."""
    # A lone CR before an empty line and a '\n' would read as one CRLF: use CRLF there.
    breaks = [b if not (b == "\r" and lines[i + 1:i + 2] == [""]) else "\r\n"
              for i, b in enumerate(breaks)]
    mixed = "".join(line + brk for line, brk in zip(lines, breaks))
    plain = parse_batch("\n".join(lines))
    result = parse_batch(mixed)
    assert result.rows == plain.rows
    assert [e.line for e in result.errors] == [e.line for e in plain.errors]


# --- invisible characters ---------------------------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u3164",
             "\u2800", "\u180e", "\ufe0f", "\U000e0041", "\u00a0", "\u3000"]


@pytest.mark.parametrize("ch", INVISIBLE)
def test_a_prompt_of_only_invisible_characters_is_an_error(ch):
    """A prompt made only of invisible characters is an error naming the character."""
    message = only_error(parse_batch(f"A | {ch}{ch} | 1")).message
    if ch.isspace():
        assert "prompt is empty" in message
    else:
        assert "only invisible characters" in message and f"U+{ord(ch):04X}" in message
    assert only_error(parse_single(ch * 3, 1)).line == 1


@pytest.mark.parametrize("ch", [c for c in INVISIBLE if not c.isspace()])
def test_a_scene_id_of_only_invisible_characters_is_an_error(ch):
    """A scene id made only of invisible characters is an error naming the character."""
    result = parse_batch(f"A | p | 1\n{ch} | p | 1")  # not first: a leading BOM is dropped
    assert len(result.rows) == 1 and len(result.errors) == 1
    message = result.errors[0].message
    assert "scene id" in message and f"U+{ord(ch):04X}" in message


def test_invisible_characters_inside_a_prompt_are_kept():
    """Joiners inside visible text (emoji sequences, Persian) are part of the prompt, unchanged."""
    prompt = "family 👨\u200d👩\u200d👧 and می\u200cخواهم"
    assert parse_single(prompt, 1).rows[0].prompt == prompt


@pytest.mark.parametrize("ch", ["\x00", "\x07", "\x1b", "\x7f", "\x80", "\x9f"])
def test_control_characters_in_a_prompt_are_errors(ch):
    """NUL, ESC, DEL and C1 controls in a prompt are one error naming the character."""
    message = only_error(parse_batch(f"A | a{ch}b | 1")).message
    assert "control character" in message and f"U+{ord(ch):04X}" in message


def test_messages_never_carry_raw_invisible_characters():
    """Quoted values in messages show invisible characters as [U+XXXX], so they cannot hide text."""
    result = parse_batch("a\u202eb | p | 1\nA | p | 2\u200b")
    assert "[U+202E]" in result.errors[0].message and "[U+200B]" in result.errors[1].message
    assert all("\u202e" not in e.message and "\u200b" not in e.message for e in result.errors)


def test_visible_escapes_and_shortens():
    """visible() writes hidden characters as [U+XXXX] and cuts long text with an ellipsis."""
    assert visible("a\u200bb\x00") == "a[U+200B]b[U+0000]"
    assert visible("x" * 100, 10) == "x" * 10 + "…"


# --- UTF-16 lengths ---------------------------------------------------------------------


@given(ANY_TEXT)
@example("🐍")
@example("\ud800")
def test_js_length_is_the_utf16_length(text):
    """js_length counts UTF-16 code units: astral characters 2, lone surrogates 1."""
    expected = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    assert js_length(text) == expected


def test_a_prompt_of_994_characters_with_seven_emoji_is_refused():
    """994 characters with 7 emoji is 1,001 units: refused, saying emoji count as 2."""
    prompt = "x" * 987 + "🐍" * 7
    assert len(prompt) == 994
    message = only_error(parse_batch(f"A | {prompt} | 1")).message
    assert "1,001 of 1,000 characters (emoji count as 2)" in message
    assert "shorten it by 1" in message
    assert parse_single("x" * 986 + "🐍" * 7, 1).rows[0].prompt.endswith("🐍")


def test_a_scene_id_is_counted_in_utf16_units():
    """A scene id of 25 emoji is 50 units but still refused for its characters; 26 is too long."""
    assert "may only contain" in only_error(parse_batch("🐍" * 25 + " | p | 1")).message
    assert "52 of 50 characters (emoji count as 2)" in only_error(parse_batch("🐍" * 26 + " | p | 1")).message


def test_prompt_length_note_counts_as_the_server_does():
    """The live note counts the collapsed prompt in UTF-16 units and says how many are too many."""
    assert prompt_length_note("  a   cat ") == "5 of 1,000 characters"
    assert prompt_length_note("🐍") == "2 of 1,000 characters (emoji count as 2)"
    assert prompt_length_note("x" * 999 + "🐍") == "1,001 of 1,000 characters (emoji count as 2): 1 too many"
    assert prompt_length("a \n b") == 3


@given(ANY_TEXT)
def test_prompt_length_note_matches_the_parser(text):
    """The note says 'too many' exactly when the parser refuses the prompt for its length."""
    note = prompt_length_note(text)
    result = parse_single(text, 1)
    too_long = any("shorten it by" in e.message for e in result.errors)
    assert ("too many" in note) == too_long
    assert note.startswith(f"{prompt_length(text):,} of 1,000 characters")


# --- grid values ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [["a"], {"a": 1}, 7, 2.5, True, b"x", LongNumber(5000)])
def test_grid_prompts_and_scene_ids_that_are_not_text_are_errors(value):
    """A grid prompt or scene id that is a list, object, number or yes/no value is an error."""
    for record in ({"scene_id": "A", "prompt": value, "variants": 1},
                   {"scene_id": value, "prompt": "p", "variants": 1}):
        error = only_error(rows_from_records([record]))
        assert "must be text" in error.message and error.line == 1 and error.source == "grid"


@pytest.mark.parametrize("value, ok", [
    (1, True), (3, True), ("2", True), (" 2 ", True), (2.0, True), (0, False), (4, False),
    (-1, False), (2.5, False), (True, False), (False, False), ("2.0", False), ("three", False),
    pytest.param(10**5000, False, id="10**5000"), (float("inf"), False), ([2], False), ({"n": 2}, False), (None, False),
    (float("nan"), False), (LongNumber(5000), False),
])
def test_grid_variants_must_be_whole_numbers_from_1_to_3(value, ok):
    """Grid variants accept 2, "2" and 2.0; refuse bools, fractions, huge and non-numbers."""
    result = rows_from_records([{"scene_id": "A", "prompt": "p", "variants": value}])
    if ok:
        assert result.errors == [] and result.rows[0].variants == int(float(str(value).strip()))
    else:
        error = only_error(result)
        assert "Variants" in error.message and "1 to 3" in error.message
        assert len(error.message) < 200


def test_a_grid_record_that_is_not_a_mapping_is_an_error():
    """A grid row given as a list or a string is an error on its row, not a crash."""
    result = rows_from_records([["A", "p", 1], "A | p | 1", {"scene_id": "B", "prompt": "p", "variants": 1}])
    assert [e.line for e in result.errors] == [1, 2] and len(result.rows) == 1


@given(st.lists(st.dictionaries(st.sampled_from(["scene_id", "prompt", "variants", "x"]),
                                st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                          ANY_TEXT, st.lists(st.integers(), max_size=2))),
                max_size=14))
def test_rows_from_records_never_raises_and_accounts_for_every_filled_row(records):
    """Any grid content gives rows and errors, one per filled row, never an exception."""
    result = rows_from_records(records)
    filled = [
        i for i, r in enumerate(records, 1)
        if not all(v is None or (isinstance(v, float) and math.isnan(v))
                   or (isinstance(v, str) and not v.strip())
                   for v in (r.get("scene_id"), r.get("prompt"), r.get("variants")))
    ]
    assert len(result.rows) + len(result.errors) == len(filled)
    assert {e.line for e in result.errors} <= set(filled)


def test_describe_value_is_short_for_anything():
    """describe_value names a value briefly, even a 5,000-digit number or a huge list."""
    assert describe_value(10**5000).startswith("a number of about 5,00")
    assert describe_value(list(range(10**5))) == "a list of 100,000 items"
    assert describe_value({"a": 1}) == "an object with 1 field"
    assert describe_value("x" * 10**5).endswith('…"')
    assert describe_value(LongNumber(5000)) == "a 5,000-digit number"


def test_line_error_names_its_source():
    """A LineError says where it was found: line, grid row, record, or the single prompt."""
    assert str(LineError(line=2, message="Bad.", source="grid")) == "Grid row 2: Bad."
    assert str(LineError(line=1, message="Bad.", source="single")) == "Prompt: Bad."
    assert str(LineError(line=7, message="Bad.", source="json")) == "Record 7: Bad."
    assert parse_single("", 1).errors[0].source == "single"


# --- format_batch -----------------------------------------------------------------------


def test_format_batch_writes_one_line_per_row_even_for_odd_prompts():
    """A row made elsewhere with a line break in its prompt is still written on one line."""
    odd = BatchRow.model_construct(scene_id="A", prompt="a\u2028b", variants=1, ref_urls=())
    assert format_batch([odd]) == "A | a b | 1"


# --- reference URLs ---------------------------------------------------------------------


def test_https_references_pass():
    """Signed https URLs, up to six, have no problems."""
    urls = [f"https://storage.googleapis.com/b/ref{i}.png?X-Goog-Signature=ab%20c" for i in range(6)]
    assert check_reference_urls(urls) == [] and check_reference_urls(()) == []


@pytest.mark.parametrize("url, words", [
    ("http://x/a.png", "not an https:// address"), ("HTTPS://x/a.png", "not an https:// address"),
    ("ftp://x/a", "not an https:// address"), ("javascript:alert(1)", "not an https:// address"),
    ("https://", "no valid host"), ("https://[::1", "not a valid web address"),
    ("https://x:99999/a", "not a valid web address"), ("https://a b/c", "spaces or invisible"),
    ("https://x/a\u200b", "spaces or invisible"), ("", "is empty"), (7, "not a web address"),
    ("https://exa<mple.com/", "no valid host"),
])
def test_bad_references_are_named(url, words):
    """A reference that is not an https:// address with a host is named by its position."""
    problems = check_reference_urls(["https://ok/a.png", url])
    assert len(problems) == 1 and problems[0].startswith("Reference 2") and words in problems[0]


def test_more_than_six_references_are_refused():
    """Seven references is one problem naming the limit of 6."""
    problems = check_reference_urls([f"https://x/{i}.png" for i in range(7)])
    assert problems == ["A row may have at most 6 reference images; this one has 7."]


def test_the_orchestrators_own_http_assets_are_accepted():
    """A reference under the orchestrator's own base URL (the emulator on loopback) passes."""
    url = "http://127.0.0.1:8787/assets/ref.png"
    assert check_reference_urls([url], own_base_url="http://127.0.0.1:8787") == []
    assert check_reference_urls([url], own_base_url="http://127.0.0.1:9999") != []


def test_reference_list_that_is_not_a_list_is_a_problem():
    """A single string instead of a list of URLs is one clear problem."""
    assert "must be a list" in check_reference_urls("https://x/a.png")[0]


@given(st.one_of(st.lists(st.one_of(ANY_TEXT, st.integers(), st.none())), ANY_TEXT, st.integers()))
def test_check_reference_urls_never_raises(urls):
    """Any value gives a list of sentences, never an exception."""
    problems = check_reference_urls(urls)
    assert all(isinstance(p, str) and p.endswith(".") for p in problems)


def test_row_problems_guards_rows_made_elsewhere():
    """row_problems finds what the parser would refuse in a row built directly."""
    row = BatchRow(scene_id="A", prompt="x" * 999 + "🐍", variants=1, ref_urls=("http://x/a.png",))
    problems = row_problems(row)
    assert "1,001 of 1,000" in problems[0] and "Reference 1" in problems[1]


@given(ANY_TEXT)
def test_every_message_is_one_plain_sentence(text):
    """Every error message is one line with no raw control/format character, and ends with '.'."""
    for result in (parse_batch(text), parse_single(text, 1)):
        for error in result.errors:
            assert error.message.endswith(".")
            assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
                           for c in error.message), error.message
