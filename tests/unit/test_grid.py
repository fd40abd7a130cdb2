"""The grid's edits applied as the browser sent them (batchcore.domain.grid)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.grid import GRID_COLUMNS, apply_grid_edits
from batchcore.domain.rows import rows_from_records

BASE = ({"scene_id": "S1", "prompt": "one", "variants": 1},
        {"scene_id": "S2", "prompt": "two", "variants": 2})


def test_no_edits_give_the_parsed_rows():
    """Without edits (None, or the editor's empty state) the records are the parsed rows."""
    for edits in (None, {}, {"edited_rows": {}, "added_rows": [], "deleted_rows": []}):
        result = apply_grid_edits(BASE, edits)
        assert result.ok and result.records == [dict(r) for r in BASE]


def test_cell_edits_deletions_and_additions_apply_in_the_editors_order():
    """Cells change by position, deleted positions go, added rows come last."""
    edits = {"edited_rows": {"1": {"prompt": "TWO"}}, "deleted_rows": [0],
             "added_rows": [{"scene_id": "S3", "prompt": "three", "variants": 3}]}
    result = apply_grid_edits(BASE, edits)
    assert result.ok
    assert result.records == [{"scene_id": "S2", "prompt": "TWO", "variants": 2},
                              {"scene_id": "S3", "prompt": "three", "variants": 3}]


def test_values_are_kept_as_sent_so_the_row_check_sees_them():
    """A list in a text cell or 2.5 variants reach rows_from_records unchanged and are refused there."""
    edits = {"added_rows": [{"scene_id": "S3", "prompt": ["a", "b"], "variants": 2.5}]}
    result = apply_grid_edits(BASE, edits)
    assert result.records[-1] == {"scene_id": "S3", "prompt": ["a", "b"], "variants": 2.5}
    errors = rows_from_records(result.records).errors
    assert len(errors) == 1 and "found a list of 2 items" in errors[0].message


def test_a_missing_cell_is_blank():
    """An added row without some columns has those cells blank (None)."""
    result = apply_grid_edits((), {"added_rows": [{"prompt": "p"}]})
    assert result.records == [{"scene_id": None, "prompt": "p", "variants": None}]


def test_the_hidden_index_column_is_ignored():
    """Streamlit's _index column in an edit is not an unknown column."""
    result = apply_grid_edits(BASE, {"added_rows": [{"_index": 5, "scene_id": "S9",
                                                     "prompt": "p", "variants": 1}]})
    assert result.ok and result.records[-1]["scene_id"] == "S9"


def test_wrong_shapes_undo_every_edit_and_name_each_problem():
    """Rows that are not records, unknown columns and positions outside the grid are named; nothing applies."""
    edits = {"edited_rows": {"7": {"prompt": "x"}, "0": {"colour": "red"}, "1": "text"},
             "deleted_rows": [9, True],
             "added_rows": [["S3", "p", 1], None, {"scene_id": "S4", "extra": 1}]}
    result = apply_grid_edits(BASE, edits)
    assert not result.ok
    assert result.records == [dict(r) for r in BASE]
    text = " | ".join(result.problems)
    for fragment in ('grid row "7"', 'the column "colour"', "grid row 2 is the text",
                     'grid row "9"', 'grid row "True"', "grid row 3 is a list of 3 items, not a record",
                     "grid row 4 is nothing, not a record", 'grid row 5 has the column "extra"'):
        assert fragment in text, fragment
    message = result.message()
    assert message.startswith("The last grid edit could not be read, so it was undone: ")
    assert message.endswith(". Edit the grid again or press Parse.")
    assert "(and 3 more)" in message


def test_edits_that_are_not_a_set_of_changes_are_refused():
    """A whole edit state of the wrong type (a list, a text) is one problem, not a traceback."""
    for edits in (["x"], "text", 7, {"edited_rows": [1], "added_rows": {}, "deleted_rows": "0"}):
        result = apply_grid_edits(BASE, edits)
        assert not result.ok and result.records == [dict(r) for r in BASE]


def test_problem_texts_show_hidden_characters_by_name():
    """A hostile column name is quoted short, with invisible characters named, never raw."""
    result = apply_grid_edits(BASE, {"added_rows": [{"a\u202e\u0000" + "x" * 100: 1}]})
    (problem,) = result.problems
    assert "[U+202E]" in problem and "[U+0000]" in problem and "\u202e" not in problem
    assert len(problem) < 120


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                    st.lists(st.integers(), max_size=2))
_keys = st.one_of(st.sampled_from([*GRID_COLUMNS, "_index", "extra"]), st.text(max_size=3))
_records = st.one_of(st.dictionaries(_keys, _values, max_size=4), _values)
_positions = st.one_of(st.integers(-2, 4), st.text(max_size=2), st.booleans())
_edits = st.one_of(_values, st.fixed_dictionaries({}, optional={
    "edited_rows": st.one_of(st.dictionaries(_positions.map(str), _records, max_size=3), _values),
    "added_rows": st.one_of(st.lists(_records, max_size=4), _values),
    "deleted_rows": st.one_of(st.lists(_positions, max_size=3), _values),
}))


@given(_edits)
def test_any_edit_state_gives_records_or_problems_never_an_exception(edits):
    """Whatever the browser sends: records (every one a record of the three columns) or problems."""
    result = apply_grid_edits(BASE, edits)
    if result.ok:
        assert all(set(r) == set(GRID_COLUMNS) for r in result.records)
    else:
        assert result.records == [dict(r) for r in BASE]
        assert result.message().endswith(".")
    rows_from_records(result.records)


def test_an_empty_parse_is_said():
    """Parse with no row and no error says why: empty, or only blanks and comments."""
    from batchcore.domain.grid import empty_parse_note

    assert empty_parse_note(" \n ", 0, 0).startswith("Nothing to parse: the batch is empty.")
    assert "blank or a comment" in empty_parse_note("# note\n\n", 0, 0)
    assert empty_parse_note("S1 | p | 1", 1, 0) == "" == empty_parse_note("x", 0, 1)
