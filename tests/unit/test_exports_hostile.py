"""Hostile manifests: each is one clear sentence (errors as data), never a traceback."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.exports import (
    MAX_JSON_DEPTH,
    ManifestImport,
    decode_manifest,
    import_manifest,
)
from batchcore.domain.pricing import MAX_ROWS

HEADER = "scene_id,prompt,variants\r\n"


def csv_rows(n: int) -> str:
    return HEADER + "".join(f"S{i},prompt {i},1\r\n" for i in range(1, n + 1))


@pytest.mark.parametrize("text", ["[" * 100_000, "{\"a\":" * 100_000, "[" * (MAX_JSON_DEPTH + 1)])
def test_deeply_nested_json_is_one_error(text):
    """JSON nested 100,000 deep is one error saying it is nested too deep, not a RecursionError."""
    result = import_manifest(text)
    assert result.rows == [] and len(result.errors) == 1
    assert "nested more than" in result.errors[0].message


def test_nesting_inside_strings_does_not_count():
    """Brackets inside a string are text, not nesting."""
    text = json.dumps([{"scene_id": "S1", "prompt": "[" * 500 + "{" * 500, "variants": 1}])
    result = import_manifest(text)
    assert result.errors == [] and result.rows[0].prompt.startswith("[[[")


def test_a_5000_digit_number_is_an_error_on_its_record():
    """A 5,000-digit number as variants or prompt is an error naming its size, not a ValueError."""
    text = ('[{"scene_id": "S1", "prompt": "p", "variants": ' + "9" * 5000 + "},\n"
            ' {"scene_id": "S2", "prompt": ' + "7" * 5000 + ', "variants": 1},\n'
            ' {"scene_id": "S3", "prompt": "fine", "variants": 2}]')
    result = import_manifest(text)
    assert [r.scene_id for r in result.rows] == ["S3"]
    assert [e.line for e in result.errors] == [1, 2]
    assert "5,000-digit number" in result.errors[0].message
    assert "prompt must be text" in result.errors[1].message
    assert all(len(e.message) < 300 for e in result.errors)


@pytest.mark.parametrize("prompt, words", [
    (["a", "b"], "a list of 2 items"), ({"text": "x"}, "an object with 1 field"),
    (42, "the number 42"), (True, "the yes/no value True"), (1.5, "the number 1.5"),
])
def test_non_string_prompts_are_errors_never_coerced(prompt, words):
    """A JSON prompt that is a list, object, number or boolean is an error naming what it is."""
    text = json.dumps([{"scene_id": "S1", "prompt": prompt, "variants": 1}])
    result = import_manifest(text)
    assert result.rows == [] and len(result.errors) == 1
    assert "prompt must be text" in result.errors[0].message and words in result.errors[0].message
    assert result.errors[0].source == "json" and str(result.errors[0]).startswith("Record 1: ")


def test_a_cp1252_csv_is_decoded_and_says_so():
    """A CSV saved by Excel in Windows-1252 is read as cp1252, not mojibake, with a note."""
    data = (HEADER + "S1,Café crème – “quoted” €5,2\r\n").encode("cp1252")
    text, note = decode_manifest(data)
    assert "Windows-1252" in note
    assert import_manifest(text).rows[0].prompt == "Café crème – “quoted” €5"


@pytest.mark.parametrize("data, encoding", [
    (b"\xef\xbb\xbfscene_id,prompt,variants\nS1,caf\xc3\xa9,1\n", "UTF-8"),
    ("scene_id,prompt,variants\nS1,café,1\n".encode("utf-16"), "UTF-16"),
    (b"scene_id,prompt,variants\nS1,caf\x81\x8d,1\n", "Latin-1"),
])
def test_decode_manifest_names_the_encoding(data, encoding):
    """decode_manifest reads UTF-8 (BOM or not), UTF-16 with a BOM and, last, Latin-1, and says which."""
    text, note = decode_manifest(data)
    assert encoding in note and text.startswith("scene_id")


@given(st.binary(max_size=300))
def test_any_bytes_decode_and_import_without_raising(data):
    """Any bytes decode to text and import to rows and errors, never an exception."""
    text, note = decode_manifest(data)
    assert isinstance(text, str) and note.endswith(".")
    result = import_manifest(text)
    assert all(e.message.endswith(".") for e in result.errors)


def test_a_50000_row_file_says_how_many_rows_were_not_imported():
    """A 50,000-row CSV imports 10 rows and one error says the other 49,990 were not imported."""
    result = import_manifest(csv_rows(50_000))
    assert isinstance(result, ManifestImport)
    assert len(result.rows) == MAX_ROWS and len(result.errors) == 1
    error = result.errors[0]
    assert error.line == 12 and "49,990 records from row 12 to 50,001 were not imported" in error.message
    assert result.records == 50_000 and result.over_cap == 49_990
    summary = result.summary("big.csv")
    assert summary == ("Imported 10 of 50,000 records from big.csv; 49,990 were not imported "
                       "(1 problem listed).")


def test_summary_of_a_clean_import_says_all():
    """A clean import's summary says every row was imported."""
    assert import_manifest(csv_rows(2)).summary("a.csv") == "Imported all 2 rows from a.csv."
    assert import_manifest(HEADER).summary("e.csv") == "Nothing was imported from e.csv: it holds no records."


def test_summary_counts_records_with_errors_as_not_imported():
    """Bad records and records that are not objects are counted in 'not imported'."""
    text = json.dumps([{"scene_id": "S1", "prompt": "p", "variants": 1}, "x", [1],
                       {"scene_id": "S2", "prompt": "", "variants": 1}])
    result = import_manifest(text)
    assert result.summary("m.json") == ("Imported 1 of 4 records from m.json; 3 were not "
                                        "imported (3 problems listed).")


def test_a_huge_csv_cell_is_one_error():
    """A cell longer than the CSV field limit is one error saying so, not a csv.Error."""
    result = import_manifest(HEADER + "S1," + "x" * 200_000 + ",1\r\n")
    assert len(result.errors) == 1 and "longer than" in result.errors[0].message


@pytest.mark.parametrize("text", ["42", '"just a string"', "null", "true", '{"records": 5}'])
def test_json_that_is_not_a_list_is_one_error(text):
    """Top-level JSON that is not a list of records is one error, whatever it is."""
    result = import_manifest(" " + text if text[0] not in "[{" else text)
    assert len(result.errors) == 1 and result.rows == []


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["scene_id", "prompt", "variants", "x"]),
                                      inner, max_size=4),
                    max_leaves=30))
def test_any_json_imports_without_raising(data):
    """Any JSON value imports to rows and plain one-line errors, never an exception."""
    result = import_manifest(json.dumps(data))
    for error in result.errors:
        assert error.message.endswith(".") and "\n" not in error.message
        assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in error.message)
