"""Exports: the approved-images manifest (CSV/JSON and back), the ZIP, and the log text."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.exports import (
    MANIFEST_FIELDS,
    approved_zip,
    escape_cell,
    import_manifest,
    manifest_csv,
    manifest_json,
    manifest_records,
    status_log_text,
    unescape_cell,
    zip_name,
)
from batchcore.domain.pricing import MAX_PROMPT_CHARS, MAX_ROWS, MAX_VARIANTS
from batchcore.domain.rows import BatchRow, parse_batch, row_problems
from batchcore.domain.statuslog import log_entry
from batchcore.domain.workflow import (
    GeneratedImage,
    WorkflowState,
    append_log,
    approve,
    make_receipt,
    record_images,
)
from tests import factories

T0 = datetime(2026, 11, 24, 11, 24, 33, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=20)
T2 = T0 + timedelta(minutes=5)


def generated(rows, *, batch_id="batch-1", with_prompts=True, approve_variant=None,
              images_per_scene=None):
    """A state in which ``rows`` were dry-run, generated live, and one image per scene approved."""
    state, hash_ = factories.generated(
        factories.drafted(rows), T0, T1, batch_id=batch_id, base="https://x",
        per_scene=images_per_scene, prompts=with_prompts)
    # one take per scene, as the server's jobs make them (job id per scene, no thumbnails)
    state = state.model_copy(update={"images": {
        scene: tuple(i.model_copy(update={"job_id": f"job-{scene}", "thumbnail_url": ""})
                     for i in imgs) for scene, imgs in state.images.items()}})
    for row in rows:
        choices = state.images[row.scene_id]
        pick = approve_variant(row) if approve_variant else len(choices)
        state = approve(state, choices[pick - 1], T2)
    return state, hash_


ROWS = [BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=2),
        BatchRow(scene_id="SCENE-002", prompt="Cozy living room, fireplace", variants=3)]


# --- records --------------------------------------------------------------------------------


def test_manifest_has_one_record_per_approved_scene_with_every_field():
    """Each approved scene gives scene, prompt, variants, approved variant, URL, cost, ids, times."""
    state, hash_ = generated(ROWS, approve_variant=lambda r: 1)
    records = manifest_records(state)
    assert records == [
        {"scene_id": "SCENE-001", "prompt": "Modern kitchen with morning light", "variants": 2,
         "variant": 1, "image_url": "https://x/SCENE-001/1.png", "cost": "0.004",
         "batch_hash": hash_, "batch_id": "batch-1", "job_id": "job-SCENE-001",
         "generated_at": "2026-11-24T11:24:53Z", "approved_at": "2026-11-24T11:29:33Z"},
        {"scene_id": "SCENE-002", "prompt": "Cozy living room, fireplace", "variants": 3,
         "variant": 1, "image_url": "https://x/SCENE-002/1.png", "cost": "0.006",
         "batch_hash": hash_, "batch_id": "batch-1", "job_id": "job-SCENE-002",
         "generated_at": "2026-11-24T11:24:53Z", "approved_at": "2026-11-24T11:29:33Z"},
    ]
    assert all(tuple(r) == MANIFEST_FIELDS for r in records)


def test_unapproved_scenes_are_not_in_the_manifest():
    """Only scenes with an approval appear."""
    state, _ = generated(ROWS)
    state = state.model_copy(update={"approvals": {"SCENE-002": state.approvals["SCENE-002"]}})
    assert [r["scene_id"] for r in manifest_records(state)] == ["SCENE-002"]
    assert manifest_records(WorkflowState()) == []


def test_prompt_and_row_come_from_the_receipt_when_images_lack_them():
    """Without a prompt on the image, the prompt comes from the row the scene was generated from."""
    state, _ = generated(ROWS, with_prompts=False)
    assert [r["prompt"] for r in manifest_records(state)] == [r.prompt for r in ROWS]


def test_without_batch_id_the_row_is_found_in_the_receipts_and_draft():
    """Images with no batch id still find their row via the receipts, then the draft."""
    state, hash_ = generated(ROWS, batch_id="", with_prompts=False)
    records = manifest_records(state)
    assert [r["prompt"] for r in records] == [r.prompt for r in ROWS]
    assert {r["batch_hash"] for r in records} == {hash_}
    assert {r["generated_at"] for r in records} == {""}
    no_receipts = state.model_copy(update={"receipts": {}})
    records = manifest_records(no_receipts)
    assert [r["prompt"] for r in records] == [r.prompt for r in ROWS]
    assert {r["batch_hash"] for r in records} == {""}


def test_unknown_row_falls_back_to_counting_images():
    """When no row is known, variants is the number of images the scene has."""
    state, _ = generated(ROWS, batch_id="", with_prompts=False, images_per_scene=2)
    bare = state.model_copy(update={"receipts": {}, "draft": state.draft.model_copy(update={"rows": ()})})
    records = manifest_records(bare)
    assert [(r["variants"], r["cost"], r["prompt"]) for r in records] == [(2, "0.004", ""), (2, "0.004", "")]


def test_submission_matched_by_batch_id_but_receipt_missing_uses_other_receipts():
    """A known batch whose receipt is gone still finds the row in another receipt."""
    state, hash_ = generated(ROWS, with_prompts=False)
    other = make_receipt("batch", ROWS, now=T0 - timedelta(days=1))
    moved = state.model_copy(update={"receipts": {other.batch_hash: other}})
    records = manifest_records(moved)
    assert [r["prompt"] for r in records] == [r.prompt for r in ROWS]
    assert records[0]["batch_hash"] == hash_  # the submission's hash is still the truth


def test_an_unmatched_batch_id_falls_back_to_the_draft_row():
    """An image from an unknown batch, whose scene no receipt holds, takes its row from the draft."""
    state, _ = generated(ROWS, with_prompts=False)
    stranger = GeneratedImage(scene_id="SCENE-009", variant=1, url="u", batch_id="other")
    draft_rows = (ROWS[0], BatchRow(scene_id="SCENE-009", prompt="From the draft", variants=3))
    state = record_images(state, [stranger]).model_copy(
        update={"draft": state.draft.model_copy(update={"rows": draft_rows})})
    state = approve(state, stranger, T2)
    record = manifest_records(state)[-1]
    assert (record["scene_id"], record["prompt"], record["variants"], record["batch_hash"],
            record["batch_id"], record["cost"]) == ("SCENE-009", "From the draft", 3, "", "other",
                                                    "0.002")


def test_naive_timestamps_are_written_as_utc():
    """A naive approval time is taken as UTC and written with a Z."""
    state, _ = generated(ROWS[:1])
    approval = state.approvals["SCENE-001"].model_copy(update={"approved_at": datetime(2026, 1, 2, 3, 4, 5)})
    state = state.model_copy(update={"approvals": {"SCENE-001": approval}})
    assert manifest_records(state)[0]["approved_at"] == "2026-01-02T03:04:05Z"


# --- CSV and JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell, escaped", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2", "'-2"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("'=x", "''=x"), ("plain", "plain"), ("'quoted", "'quoted"),
    ("", ""), (None, ""), (3, "3"), ("a=b", "a=b"),
])
def test_escape_cell_neutralises_formulas(cell, escaped):
    """Cells a spreadsheet would run get one leading quote; others are left alone."""
    assert escape_cell(cell) == escaped


@given(st.text())
def test_unescape_undoes_escape_exactly(text):
    """unescape_cell(escape_cell(x)) == x for any text, including text starting with quotes."""
    assert unescape_cell(escape_cell(text)) == text
    assert escape_cell(text)[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_csv_escapes_dangerous_cells_and_quotes_commas():
    """The CSV never starts a cell with a formula character, and commas/quotes stay in the cell."""
    records = [{"scene_id": "-S1", "prompt": '=HYPERLINK("http://evil"), "quoted", ok', "variants": 1,
                "variant": 1}]
    text = manifest_csv(records)
    cells = list(csv.reader(io.StringIO(text, newline="")))
    assert cells[0] == list(MANIFEST_FIELDS)
    assert cells[1][:4] == ["'-S1", '\'=HYPERLINK("http://evil"), "quoted", ok', "1", "1"]
    assert text.endswith("\r\n")


def test_json_is_a_list_of_records_with_raw_values():
    """The JSON manifest holds the records unescaped, in field order."""
    state, _ = generated(ROWS)
    records = manifest_records(state)
    data = json.loads(manifest_json(records))
    assert data == records
    assert json.loads(manifest_json([{"prompt": "=raw"}]))[0]["prompt"] == "=raw"


def test_import_round_trips_the_example_through_csv_and_json():
    """Approved rows exported as CSV or JSON import back as the same rows."""
    state, _ = generated(ROWS)
    records = manifest_records(state)
    for text in (manifest_csv(records), manifest_json(records)):
        result = import_manifest(text)
        assert result.ok and result.rows == ROWS


scene_ids = st.from_regex(r"[A-Za-z0-9._-]{1,50}", fullmatch=True)
# No control characters (Cc): the row rules refuse them now (NUL, ESC ... cannot be sent).
prompt_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300,
).map(lambda t: " ".join(t.split())).filter(bool)
prompt_heads = st.sampled_from(["", "=", "+", "-", "@", "'=", "''-", '"', ",", "é ", "日本 "])
prompts = st.tuples(prompt_heads, prompt_text).map(
    lambda p: " ".join((p[0] + p[1]).split())[:MAX_PROMPT_CHARS]).filter(bool)
rows_strategy = st.lists(
    st.builds(lambda s, p, v: BatchRow(scene_id=s, prompt=p, variants=v),
              scene_ids, prompts, st.integers(1, MAX_VARIANTS)
              ).filter(lambda r: not row_problems(r)),  # e.g. a prompt of only U+200B
    min_size=1, max_size=MAX_ROWS, unique_by=lambda r: r.scene_id,
)


@given(rows_strategy, st.booleans(), st.sampled_from(["csv", "json"]))
def test_import_round_trips_any_rows(rows, with_prompts, fmt):
    """rows -> approved state -> CSV/JSON manifest -> import gives the same rows back."""
    state, _ = generated(rows, with_prompts=with_prompts, approve_variant=lambda r: 1)
    records = manifest_records(state)
    text = manifest_csv(records) if fmt == "csv" else manifest_json(records)
    result = import_manifest(text)
    assert result.errors == []
    assert result.rows == rows


def test_import_reports_bad_csv_records_by_spreadsheet_row():
    """Bad CSV records become errors naming their row (header = 1); good ones still come back."""
    text = ("scene_id,prompt,variants\r\n"
            "S1,fine,2\r\n"
            "S2,,1\r\n"            # empty prompt
            ",,,\r\n"               # an empty spreadsheet row: skipped, nothing lost
            "S3,\"multi\nline\",9\r\n"  # too many variants; the record spans two lines
            "S1,again,1\r\n")      # duplicate scene id
    result = import_manifest(text)
    assert result.rows == [BatchRow(scene_id="S1", prompt="fine", variants=2)]
    assert [e.line for e in result.errors] == [3, 5, 6]
    assert "prompt is empty" in result.errors[0].message
    assert "found 9" in result.errors[1].message
    assert 'Scene id "S1" is already used on line 2' in result.errors[2].message


def test_import_reports_a_record_without_row_fields():
    """A record with other data but no scene_id, prompt or variants is an error, not skipped."""
    text = "scene_id,prompt,variants,image_url\r\n,,,https://x/1.png\r\nS1,p,1,x,extra\r\n"
    result = import_manifest(text)
    assert [e.line for e in result.errors] == [2]
    assert "no scene_id, prompt or variants" in result.errors[0].message
    assert result.rows == [BatchRow(scene_id="S1", prompt="p", variants=1)]


def test_import_csv_needs_the_row_columns():
    """A CSV without scene_id/prompt/variants columns is refused on line 1, naming them."""
    result = import_manifest("SCENE-001 | kitchen | 2\n")
    assert not result.ok and result.errors[0].line == 1
    assert "missing: scene_id, prompt, variants" in result.errors[0].message


def test_import_tolerates_bom_header_case_and_short_rows():
    """A UTF-8 BOM, capitalised headers and missing trailing cells are handled."""
    result = import_manifest("\ufeffScene_ID, Prompt ,Variants\nS1,p,2\nS2,q\n")
    assert result.rows == [BatchRow(scene_id="S1", prompt="p", variants=2)]
    assert [(e.line, "Variants are missing" in e.message) for e in result.errors] == [(3, True)]


def test_import_reports_broken_csv_quoting():
    """Malformed CSV quoting is an error with its line, not a crash."""
    result = import_manifest('scene_id,prompt,variants\nS1,"bad"quote,1\n')
    assert not result.rows and result.errors[0].line == 2
    assert "not valid CSV" in result.errors[0].message


def test_import_json_reports_bad_records_by_record_number():
    """Bad JSON records (not objects, bad values, only other fields) are errors by record number."""
    text = json.dumps([
        {"scene_id": "S1", "prompt": "fine", "variants": 1},
        "not a record",
        {"scene_id": "S3", "prompt": "x", "variants": True},
        {},                                         # nothing in it: skipped
        {"image_url": "https://x/5.png"},
        {"scene_id": "S6", "prompt": "=raw stays", "variants": "2"},
    ])
    result = import_manifest(text)
    assert result.rows == [BatchRow(scene_id="S1", prompt="fine", variants=1),
                           BatchRow(scene_id="S6", prompt="=raw stays", variants=2)]
    assert [e.line for e in result.errors] == [2, 3, 5]
    assert "Record 2 is not an object" in result.errors[0].message


def test_import_json_accepts_an_object_with_records():
    """``{"records": [...]}`` is accepted as well as a bare list."""
    text = json.dumps({"records": [{"scene_id": "S1", "prompt": "p", "variants": 3}]})
    assert import_manifest(text).rows == [BatchRow(scene_id="S1", prompt="p", variants=3)]


@pytest.mark.parametrize("text, line, words", [
    ("", 1, "empty"), ("  \n", 1, "empty"), ("\ufeff", 1, "empty"),
    ('[{"scene_id": "S1",\n "prompt": }]', 2, "not valid JSON"),
    ('{"scene_id": "S1"}', 1, "must be a list"), ("[1", 1, "not valid JSON"),
])
def test_import_refuses_empty_or_broken_input(text, line, words):
    """Empty text and broken or wrongly shaped JSON give one clear error with its line."""
    result = import_manifest(text)
    assert not result.rows and len(result.errors) == 1
    assert result.errors[0].line == line and words in result.errors[0].message


def test_import_enforces_the_row_limit():
    """More than the row limit of records gives errors for the extra ones, like any batch."""
    records = [{"scene_id": f"S{i}", "prompt": "p", "variants": 1} for i in range(MAX_ROWS + 1)]
    result = import_manifest(manifest_json(records))
    assert len(result.rows) == MAX_ROWS
    assert [e.line for e in result.errors] == [MAX_ROWS + 1]


def test_imported_rows_are_a_valid_batch_text():
    """Imported rows are ordinary rows: their batch text parses back to them."""
    from batchcore.domain.rows import format_batch

    state, _ = generated(ROWS)
    rows = import_manifest(manifest_csv(manifest_records(state))).rows
    assert parse_batch(format_batch(rows)).rows == rows


# --- ZIP ------------------------------------------------------------------------------------


def _open(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_zip_holds_each_approved_image_and_the_manifest():
    """Every approved image is stored as <scene>_v<variant>.png next to manifest.json."""
    state, _ = generated(ROWS, approve_variant=lambda r: r.variants)
    files = _open(approved_zip(state, lambda url: b"PNG:" + url.encode()))
    assert set(files) == {"SCENE-001_v2.png", "SCENE-002_v3.png", "manifest.json"}
    assert files["SCENE-002_v3.png"] == b"PNG:https://x/SCENE-002/3.png"
    assert json.loads(files["manifest.json"]) == manifest_records(state)


def test_zip_lists_failed_downloads_in_missing_txt():
    """A fetch that raises or returns nothing is listed in MISSING.txt with the reason."""
    state, _ = generated(ROWS + [BatchRow(scene_id="SCENE-003", prompt="Office", variants=1)])

    def fetch(url: str) -> bytes:
        if "SCENE-001" in url:
            raise ConnectionError("timed out")
        if "SCENE-003" in url:
            return b""
        return b"img"

    files = _open(approved_zip(state, fetch))
    assert set(files) == {"SCENE-002_v3.png", "manifest.json", "MISSING.txt"}
    missing = files["MISSING.txt"].decode()
    assert "SCENE-001_v2.png\thttps://x/SCENE-001/2.png\tConnectionError: timed out" in missing
    assert "SCENE-003_v1.png\thttps://x/SCENE-003/1.png\tthe download was empty" in missing
    assert len(json.loads(files["manifest.json"])) == 3  # the manifest still lists all three


def test_zip_of_nothing_approved_has_an_empty_manifest():
    """With no approvals the ZIP still opens and holds an empty manifest."""
    assert json.loads(_open(approved_zip(WorkflowState(), lambda u: b"x"))["manifest.json"]) == []


def test_zip_is_the_same_bytes_for_the_same_state():
    """The ZIP is reproducible (fixed timestamps), so the same approvals give the same file."""
    state, _ = generated(ROWS)
    assert approved_zip(state, lambda u: b"x") == approved_zip(state, lambda u: b"x")


def test_zip_names_are_safe_and_unique_for_server_scene_ids():
    """Scene ids from the server with path characters are made safe, and clashes get a suffix."""
    images = [GeneratedImage(scene_id=s, variant=1, url=f"u{i}") for i, s in
              enumerate(["../etc", "..-etc", "a/b"])]
    state = record_images(WorkflowState(), images)
    for image in images:
        state = approve(state, image, T2)
    files = _open(approved_zip(state, lambda u: u.encode()))
    assert set(files) == {".._etc_v1.png", "..-etc_v1.png", "a_b_v1.png", "manifest.json"}
    assert zip_name("", 2) == "scene_v2.png"
    clash = [GeneratedImage(scene_id=s, variant=1, url=s) for s in ["a/b", "a_b"]]
    state = record_images(WorkflowState(), clash)
    for image in clash:
        state = approve(state, image, T2)
    assert set(_open(approved_zip(state, lambda u: b"x"))) == {"a_b_v1.png", "a_b_v1-2.png",
                                                               "manifest.json"}


# --- status log -----------------------------------------------------------------------------


def test_status_log_text_renders_every_line_oldest_first():
    """Every entry is rendered in order, each line ending in a newline."""
    state = append_log(WorkflowState(),
                       log_entry("dry_run", "3 images, $0.006", now=T0),
                       log_entry("completed", job_id="j1", scene_id="S1", now=T1))
    assert status_log_text(state) == (
        "[2026-11-24 11:24:33Z] - - dry_run 3 images, $0.006\n"
        "[2026-11-24 11:24:53Z] j1 S1 completed\n"
    )
    assert status_log_text(WorkflowState()) == ""
