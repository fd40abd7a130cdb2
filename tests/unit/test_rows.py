"""The batch format: ``scene_id | prompt | variants``, checked line by line."""

from __future__ import annotations

from decimal import Decimal

import pydantic
import pytest

from batchcore import (
    MAX_ROWS,
    MAX_VARIANTS,
    BatchRow,
    LineError,
    ParseResult,
    parse_batch,
    parse_single,
)
from batchcore.domain.pricing import MAX_PROMPT_CHARS, MAX_SCENE_ID_CHARS
from batchcore.domain.rows import (
    DEFAULT_SINGLE_SCENE_ID,
    SCENE_ID_PATTERN,
    attach_refs,
    format_batch,
    rows_from_records,
)


def row(scene_id: str = "S1", prompt: str = "p", variants: int = 1, **kw) -> BatchRow:
    return BatchRow(scene_id=scene_id, prompt=prompt, variants=variants, **kw)


def only_error(result: ParseResult) -> LineError:
    assert result.rows == []
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


# --- BatchRow -------------------------------------------------------------------------


def test_batchrow_is_frozen():
    """A BatchRow cannot be changed after it is made."""
    r = row()
    with pytest.raises(pydantic.ValidationError):
        r.prompt = "other"  # type: ignore[misc]


def test_batchrow_defaults_ref_urls_to_empty_tuple():
    """ref_urls defaults to an empty tuple, and a list given is stored as a tuple."""
    assert row().ref_urls == ()
    assert row(ref_urls=["https://x/a.png"]).ref_urls == ("https://x/a.png",)


def test_batchrow_is_hashable_and_compares_by_value():
    """Two rows with the same fields are equal and hash the same."""
    assert row() == row()
    assert len({row(), row()}) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"scene_id": "", "prompt": "p", "variants": 1},
        {"scene_id": "a b", "prompt": "p", "variants": 1},
        {"scene_id": "x" * (MAX_SCENE_ID_CHARS + 1), "prompt": "p", "variants": 1},
        {"scene_id": "S\n", "prompt": "p", "variants": 1},
        {"scene_id": "S", "prompt": "", "variants": 1},
        {"scene_id": "S", "prompt": "x" * (MAX_PROMPT_CHARS + 1), "variants": 1},
        {"scene_id": "S", "prompt": "p", "variants": 0},
        {"scene_id": "S", "prompt": "p", "variants": MAX_VARIANTS + 1},
        {"scene_id": "S", "prompt": "p", "variants": 1, "extra": 1},
    ],
)
def test_batchrow_refuses_values_outside_the_rules(fields):
    """BatchRow built directly still enforces id, prompt and variants limits and no extras."""
    with pytest.raises(pydantic.ValidationError):
        BatchRow(**fields)


def test_batchrow_accepts_the_limits_exactly():
    """A 50-char id, a 1000-char prompt and 1..3 variants are all valid."""
    r = row("a" * MAX_SCENE_ID_CHARS, "x" * MAX_PROMPT_CHARS, MAX_VARIANTS)
    assert len(r.scene_id) == 50 and len(r.prompt) == 1000 and r.variants == 3


def test_scene_id_pattern_is_the_documented_alphabet():
    """The exported pattern allows exactly A-Z a-z 0-9 . _ - and 1..50 characters."""
    assert SCENE_ID_PATTERN == r"^[A-Za-z0-9._-]{1,50}$"


# --- parse_batch: the happy path ------------------------------------------------------


def test_parses_the_brief_example():
    """The brief's example batch parses to three rows with their variants."""
    text = (
        "SCENE-001 | Modern kitchen with morning light | 2\n"
        "SCENE-002 | Cozy living room with fireplace | 3\n"
        "SCENE-003 | Home office with plants | 1\n"
    )
    result = parse_batch(text)
    assert result.errors == []
    assert result.rows == [
        row("SCENE-001", "Modern kitchen with morning light", 2),
        row("SCENE-002", "Cozy living room with fireplace", 3),
        row("SCENE-003", "Home office with plants", 1),
    ]
    assert result.ok and result.total_images == 6 and result.cost == Decimal("0.012")


def test_empty_text_gives_nothing_and_is_not_ok():
    """Empty text has no rows and no errors, and is not ready to send."""
    result = parse_batch("")
    assert result.rows == [] and result.errors == []
    assert not result.ok and result.total_images == 0 and result.cost == 0


def test_result_with_an_error_is_not_ok():
    """A result holding any error is not ok even if other rows passed."""
    result = parse_batch("A | p | 1\nB | p | 9")
    assert len(result.rows) == 1 and len(result.errors) == 1
    assert not result.ok


def test_blank_and_comment_lines_are_ignored():
    """Blank, whitespace-only and '#' lines yield nothing; line numbers still count them."""
    text = "\n   \n# a comment | x | 9\n\t\n  # indented comment\nA | p | 1\n\nB | q | 7\n"
    result = parse_batch(text)
    assert result.rows == [row("A", "p", 1)]
    assert [e.line for e in result.errors] == [8]


def test_fields_are_trimmed_and_prompt_whitespace_collapsed():
    """Fields are trimmed and any run of whitespace in the prompt becomes one space.

    (A vertical tab used to be collapsed here too; it is a line break, so it now splits the
    line: see test_every_line_break_splits_lines.)"""
    result = parse_batch("  S.1_a-B  |   warm \t kitchen\u3000  light \xa0 \x1f |  2  ")
    assert result.rows == [row("S.1_a-B", "warm kitchen light", 2)]


def test_prompt_may_contain_pipes():
    """The scene id ends at the first '|' and variants start after the last: pipes stay in the prompt."""
    result = parse_batch("A | left | right || middle | 3")
    assert result.rows == [row("A", "left | right || middle", 3)]


def test_no_spaces_around_pipes_is_fine():
    """'A|p|1' parses the same as 'A | p | 1'."""
    assert parse_batch("A|p|1").rows == parse_batch("A | p | 1").rows == [row("A", "p", 1)]


def test_crlf_line_endings_give_the_same_rows_and_line_numbers():
    """CRLF text parses to the same rows and error lines as LF text."""
    lf = "A | p | 1\n\nB | q | x\n# c\nC | r | 3\n"
    crlf = lf.replace("\n", "\r\n")
    assert parse_batch(crlf) == parse_batch(lf)
    assert [e.line for e in parse_batch(crlf).errors] == [3]


def test_line_error_text_has_no_carriage_return():
    """The line text kept on an error is the line without its CRLF ending."""
    error = only_error(parse_batch("A | p | 9\r\n"))
    assert error.text == "A | p | 9"


def test_line_numbers_are_physical_lines():
    """Errors name the 1-based physical line, counting blank and comment lines."""
    text = "# header\n\nA | p | 1\nbad line\n\n\nB | | 2\n"
    result = parse_batch(text)
    assert [e.line for e in result.errors] == [4, 7]
    assert str(result.errors[0]).startswith("Line 4: ")


def test_leading_zero_variants_are_accepted():
    """Variants '02' and '003' are plain ASCII digits and parse as 2 and 3."""
    result = parse_batch("A | p | 02\nB | p | 003")
    assert [r.variants for r in result.rows] == [2, 3]


def test_huge_variants_number_is_an_error_not_a_crash():
    """A variants field with thousands of digits is one error, never an exception."""
    error = only_error(parse_batch("A | p | " + "9" * 5000))
    assert "1 to 3" in error.message
    zeros = parse_batch("A | p | " + "0" * 5000 + "2")
    assert zeros.rows == [row("A", "p", 2)]


def test_lone_surrogate_in_prompt_is_an_error_not_a_crash():
    """A prompt holding a lone surrogate is one error naming the code point, never an exception."""
    error = only_error(parse_batch("A | x\ud800y | 1"))
    assert "U+D800" in error.message
    assert "U+DFFF" in only_error(parse_single("\udfff", 1)).message
    grid = rows_from_records([{"scene_id": "A", "prompt": "\udbff", "variants": 1}])
    assert "U+DBFF" in only_error(grid).message


# --- parse_batch: one error per bad line ----------------------------------------------


@pytest.mark.parametrize(
    "variants",
    ["0", "4", "2.0", "two", "-1", "+2", "1e0", "²", "٢", "２", "0x2", "1 2", "10", "99"],
)
def test_bad_variants_are_errors_naming_the_limit(variants):
    """Variants must be a plain integer 1..3: anything else is an error naming '1 to 3'."""
    error = only_error(parse_batch(f"A | p | {variants}"))
    assert error.line == 1
    assert "Variants" in error.message and f"1 to {MAX_VARIANTS}" in error.message


def test_missing_variants_is_an_error():
    """An empty variants field is an error that says they are missing and the limit."""
    error = only_error(parse_batch("A | p | "))
    assert "missing" in error.message and "1 to 3" in error.message


@pytest.mark.parametrize("line, found", [("just a prompt", "1 field"), ("A | prompt", "2 fields")])
def test_too_few_fields_is_an_error(line, found):
    """A line with fewer than two '|' is one error naming the expected format and what it found."""
    error = only_error(parse_batch(line))
    assert "scene_id | prompt | variants" in error.message and found in error.message
    assert error.text == line


def test_empty_scene_id_is_an_error_naming_the_limit():
    """An empty scene id is an error naming the 1..50 limit."""
    error = only_error(parse_batch(" | p | 1"))
    assert "scene id" in error.message and "empty" in error.message
    assert "1 to 50" in error.message


def test_long_scene_id_is_an_error_naming_the_limit():
    """A 51-character scene id is an error naming its length and the limit of 50."""
    error = only_error(parse_batch("a" * 51 + " | p | 1"))
    assert "51" in error.message and "50" in error.message
    assert parse_batch("a" * 50 + " | p | 1").rows[0].scene_id == "a" * 50


@pytest.mark.parametrize("scene_id, bad", [("SC ENE", "' '"), ("é1", "'é'"), ("a/b", "'/'"), ("a#", "'#'")])
def test_scene_id_with_a_bad_character_is_an_error_naming_it(scene_id, bad):
    """A scene id outside A-Z a-z 0-9 . _ - is an error naming the offending character."""
    error = only_error(parse_batch(f"{scene_id} | p | 1"))
    assert bad in error.message and "A-Z a-z" in error.message


def test_empty_prompt_is_an_error_naming_the_limit():
    """A prompt of only whitespace is an error naming the 1..1,000 limit."""
    error = only_error(parse_batch("A |   \t  | 1"))
    assert "prompt is empty" in error.message and "1,000" in error.message


def test_prompt_length_is_counted_after_collapsing():
    """A 1000-char prompt passes, 1001 fails, and collapsed whitespace does not count."""
    assert parse_batch("A | " + "x" * 1000 + " | 1").rows[0].prompt == "x" * 1000
    error = only_error(parse_batch("A | " + "x" * 1001 + " | 1"))
    assert "1,001" in error.message and "1,000" in error.message
    spaced = "x" * 500 + " " * 50 + "y" * 499
    assert len(parse_batch(f"A | {spaced} | 1").rows[0].prompt) == 1000


def test_repeated_scene_id_is_an_error_on_the_later_line_naming_the_first():
    """A repeated scene id errors on the later line and names the line of the first use."""
    result = parse_batch("A | p | 1\n\nB | q | 1\nA | r | 2\nA | s | 3")
    assert result.rows == [row("A", "p", 1), row("B", "q", 1)]
    assert [e.line for e in result.errors] == [4, 5]
    assert all('"A"' in e.message and "line 1" in e.message for e in result.errors)


def test_scene_ids_are_case_sensitive():
    """'a' and 'A' are different scene ids."""
    assert len(parse_batch("a | p | 1\nA | p | 1").rows) == 2


def test_rows_beyond_the_cap_are_errors_on_their_lines():
    """Entries 11 and 12 are errors on their own lines naming the cap of 10."""
    lines = [f"S{i} | p | 1" for i in range(1, 13)]
    result = parse_batch("\n".join(lines))
    assert len(result.rows) == MAX_ROWS
    assert [e.line for e in result.errors] == [11, 12]
    assert all(f"at most {MAX_ROWS} rows" in e.message for e in result.errors)
    assert "row 11" in result.errors[0].message


def test_row_cap_counts_entries_not_valid_rows():
    """Bad lines count toward the cap: the 11th entry is over it even if earlier ones failed."""
    lines = ["bad"] * 3 + [f"S{i} | p | 1" for i in range(1, 9)]
    result = parse_batch("\n".join(lines))
    assert len(result.rows) == 7
    assert [e.line for e in result.errors] == [1, 2, 3, 11]


def test_blank_and_comment_lines_do_not_count_toward_the_cap():
    """Ten rows interleaved with blank and comment lines are all accepted."""
    lines = []
    for i in range(1, 11):
        lines += [f"S{i} | p | 1", "", "# note"]
    result = parse_batch("\n".join(lines))
    assert len(result.rows) == 10 and result.errors == []


def test_each_bad_line_gets_one_error_combining_its_problems():
    """A line with several problems yields exactly one error naming each of them."""
    lines = [f"S{i} | p | 1" for i in range(1, 11)] + ["S1 |  | 7"]
    result = parse_batch("\n".join(lines))
    error = result.errors[-1]
    assert len(result.errors) == 1 and error.line == 11
    for part in ("already used on line 1", "prompt is empty", "from 1 to 3", "at most 10 rows"):
        assert part in error.message


def test_invalid_scene_id_does_not_claim_the_id():
    """A line whose scene id is invalid does not reserve it; a line with a valid id does even if it fails."""
    result = parse_batch("A | | 1\nA | p | 1")
    assert [e.line for e in result.errors] == [1, 2]
    assert "already used on line 1" in result.errors[1].message


def test_every_entry_line_yields_exactly_one_row_or_error():
    """Nothing is dropped: rows + errors equals the number of non-blank non-comment lines."""
    text = "A | p | 1\nnope\nB | q | 0\n\n# x\nC | r | 3\nA | s | 1\n|\n"
    result = parse_batch(text)
    assert len(result.rows) + len(result.errors) == 6
    assert [e.line for e in result.errors] == [2, 3, 7, 8]


def test_error_messages_are_sentences():
    """Every error message starts with a capital letter and ends with a full stop."""
    text = "x\nA | | 0\n" + "b" * 60 + " | p | 1\nc d | p | 2.0\nC | p | two"
    for error in parse_batch(text).errors:
        assert error.message[0].isupper() and error.message.endswith("."), error.message


# --- parse_single ---------------------------------------------------------------------


def test_parse_single_uses_the_default_scene_id():
    """A Single-mode prompt without a scene id becomes one row with the default id."""
    result = parse_single("  a   cat  ", 2)
    assert result.rows == [row(DEFAULT_SINGLE_SCENE_ID, "a cat", 2)] and result.errors == []


def test_parse_single_keeps_a_given_scene_id_and_text_variants():
    """parse_single uses the given scene id and accepts variants as text."""
    assert parse_single("p", "3", scene_id=" HERO-1 ").rows == [row("HERO-1", "p", 3)]


def test_parse_single_may_contain_pipes_and_newlines():
    """In Single mode the whole prompt is the prompt: '|' stays, newlines collapse."""
    assert parse_single("a | b\nc", 1).rows[0].prompt == "a | b c"


@pytest.mark.parametrize("variants", [0, 4, 2.0, True, "two", None, "", float("nan")])
def test_parse_single_refuses_bad_variants_on_line_1(variants):
    """Bad Single-mode variants are one error on line 1 naming the limit."""
    error = only_error(parse_single("p", variants))
    assert error.line == 1 and "1 to 3" in error.message


def test_parse_single_refuses_an_empty_prompt():
    """An empty Single-mode prompt is one error on line 1."""
    error = only_error(parse_single("   ", 1))
    assert error.line == 1 and "prompt is empty" in error.message


def test_parse_single_refuses_a_bad_scene_id():
    """A bad scene id given to parse_single is an error."""
    assert "scene id" in only_error(parse_single("p", 1, scene_id="no spaces")).message


# --- rows_from_records (the grid) -----------------------------------------------------


def test_rows_from_records_checks_grid_rows():
    """Grid records are checked with the same rules; errors name the 1-based grid row."""
    records = [
        {"scene_id": "A", "prompt": "  p  q ", "variants": 2},
        {"scene_id": None, "prompt": None, "variants": None},
        {"scene_id": "", "prompt": " ", "variants": float("nan")},
        {"scene_id": "B", "prompt": "p", "variants": 2.0},
        {"scene_id": "A", "prompt": "p", "variants": "1"},
        {"scene_id": 7, "prompt": "p", "variants": 3},
        {"scene_id": float("nan"), "prompt": float("nan"), "variants": 1},
        {"scene_id": "C", "prompt": "p", "variants": 2.5},
    ]
    result = rows_from_records(records)
    # 2.0 is a whole number (a grid column with one blank cell holds floats); the number 7 as
    # a scene id is not text and is refused, never coerced (it used to become "7").
    assert result.rows == [row("A", "p q", 2), row("B", "p", 2)]
    assert [e.line for e in result.errors] == [5, 6, 7, 8]
    assert "already used on line 1" in result.errors[0].message
    assert "scene id must be text" in result.errors[1].message
    assert "the number 7" in result.errors[1].message
    assert "scene id" in result.errors[2].message and "prompt is empty" in result.errors[2].message
    assert "2.5" in result.errors[3].message
    assert all(e.source == "grid" and str(e).startswith("Grid row ") for e in result.errors)


def test_rows_from_records_caps_rows():
    """More than 10 filled grid rows: the extra ones are errors."""
    records = [{"scene_id": f"S{i}", "prompt": "p", "variants": 1} for i in range(12)]
    result = rows_from_records(records)
    assert len(result.rows) == 10 and [e.line for e in result.errors] == [11, 12]


def test_rows_from_records_error_text_shows_the_row():
    """A grid error keeps the row as 'scene | prompt | variants' text."""
    error = only_error(rows_from_records([{"scene_id": "A", "prompt": None, "variants": 9}]))
    assert error.text == "A |  | 9"


def test_numpy_integer_variants_are_accepted():
    """Integral variants that are not int (numpy ints from a grid) are accepted by value."""
    np = pytest.importorskip("numpy")
    records = [{"scene_id": "A", "prompt": "p", "variants": np.int64(2)}]
    assert rows_from_records(records).rows == [row("A", "p", 2)]
    bad = [{"scene_id": "A", "prompt": "p", "variants": np.int64(5)}]
    assert "found 5" in only_error(rows_from_records(bad)).message


# --- format_batch and attach_refs -----------------------------------------------------


def test_format_batch_round_trips():
    """format_batch writes text that parse_batch reads back to the same rows."""
    rows = [row("A", "x | y", 1), row("B.2", "ünïcode 🐍 text", 3)]
    text = format_batch(rows)
    assert text == "A | x | y | 1\nB.2 | ünïcode 🐍 text | 3"
    assert parse_batch(text).rows == rows


def test_format_batch_of_nothing_is_empty():
    """No rows format to the empty string."""
    assert format_batch([]) == ""


def test_attach_refs_gives_every_row_the_same_refs():
    """attach_refs replaces every row's ref_urls with the given URLs, leaving the originals alone."""
    rows = [row("A", ref_urls=("old",)), row("B")]
    out = attach_refs(rows, ["u1", "u2"])
    assert [r.ref_urls for r in out] == [("u1", "u2"), ("u1", "u2")]
    assert rows[0].ref_urls == ("old",)
    assert [r.ref_urls for r in attach_refs(out, [])] == [(), ()]


def test_line_error_str_names_the_line():
    """str(LineError) is 'Line N: message'."""
    assert str(LineError(line=3, message="Bad.")) == "Line 3: Bad."


def test_a_byte_order_mark_at_the_start_is_not_part_of_the_first_scene_id():
    """Text pasted from a file with a UTF-8 BOM parses its first row normally."""
    result = parse_batch("\ufeffSCENE-001 | kitchen | 2\nSCENE-002 | hall | 1")
    assert [r.scene_id for r in result.rows] == ["SCENE-001", "SCENE-002"]
    assert result.errors == []


def test_counts_read_as_a_person_writes_them():
    """1 row, 2 rows, 1 entry, 1,000 entries, 3 days: never '1 rows' or '1 entries'."""
    from batchcore.domain.rows import plural

    assert [plural(1, "row"), plural(2, "row"), plural(0, "image")] == ["1 row", "2 rows",
                                                                        "0 images"]
    assert [plural(1, "entry"), plural(1000, "entry"), plural(3, "day")] == [
        "1 entry", "1,000 entries", "3 days"]
