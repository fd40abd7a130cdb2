"""The hostile corpus (tests/data/hostile/*.jsonl): every case through the pure functions.

Each case names what it expects (rows, and the line and a fragment of each error). For every
case: no exception; exactly the expected rows and error lines; every line a person sees is a
row, an error or a blank/comment line; markup-looking text is kept unchanged; every message
is one plain sentence; and accepted rows make a body the server's schema accepts.
"""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from batchcore.adapters.client import image_request
from batchcore.domain.exports import ManifestImport, decode_manifest, import_manifest
from batchcore.domain.rows import (
    LineError,
    ParseResult,
    check_reference_urls,
    format_batch,
    parse_batch,
    parse_single,
    prompt_length_note,
    rows_from_records,
)
from tests.unit.test_rows_request_body import as_received, zod_problems

DATA = Path(__file__).resolve().parents[1] / "data" / "hostile"
HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def build(value: Any) -> Any:
    """Expand the corpus' builders: $repeat, $concat, $int_pow10, $nan, $inf (recursively)."""
    if isinstance(value, list):
        return [build(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$repeat" in value:
        return value["$repeat"] * value["times"]
    if "$concat" in value:
        return "".join(build(v) for v in value["$concat"])
    if "$int_pow10" in value:
        return 10 ** value["$int_pow10"]
    if "$nan" in value:
        return math.nan
    if "$inf" in value:
        return math.inf
    return {k: build(v) for k, v in value.items()}


def cases(name: str) -> list[Any]:
    """One parameter a line of the corpus file (a list: pytest 10 refuses a generator)."""
    with open(DATA / name, encoding="utf-8") as lines:
        return [pytest.param(case, id=case["id"]) for case in map(json.loads, lines)]


def assert_plain(errors: list[LineError] | list[str]) -> None:
    """Messages are one plain sentence: no hidden character, no backtick, a full stop, short."""
    for error in errors:
        message = error.message if isinstance(error, LineError) else error
        assert message.endswith("."), message
        assert "`" not in message, message
        assert not any(unicodedata.category(c) in HIDDEN for c in message), ascii(message)
        assert len(message) < 1200


def assert_errors(result: ParseResult, expected: list[dict[str, Any]]) -> None:
    """Exactly the expected error lines, each holding its expected fragment."""
    lines = [e.line for e in result.errors]
    assert lines == sorted(set(lines)), "one error per line, in order"
    assert set(lines) == {e["line"] for e in expected}, [str(e) for e in result.errors[:5]]
    by_line = {e.line: e.message for e in result.errors}
    for want in expected:
        assert want["has"] in by_line[want["line"]], (want, by_line[want["line"]])
    assert_plain(result.errors)


def assert_rows(result: ParseResult, expect: dict[str, Any]) -> None:
    assert len(result.rows) == expect["rows"], [str(e) for e in result.errors[:5]]
    if "prompts" in expect:
        assert [r.prompt for r in result.rows] == expect["prompts"]
    if "scene_ids" in expect:
        assert [r.scene_id for r in result.rows] == expect["scene_ids"]
    if result.rows:
        assert zod_problems(as_received(image_request(result.rows, "dry_run"))) == []
        assert parse_batch(format_batch(result.rows)).rows == result.rows


def entry_lines(text: str) -> list[int]:
    """The lines a person sees that are neither blank nor comments (str.splitlines lines)."""
    return [n for n, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1)
            if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("case", cases("batch_texts.jsonl"))
def test_batch_text(case):
    """A hostile batch text gives exactly its expected rows and line errors, and loses no line."""
    text = build(case["text"])
    result = parse_batch(text)
    assert_rows(result, case["expect"])
    assert_errors(result, case["expect"]["errors"])
    entries = entry_lines(text)
    assert len(result.rows) + len(result.errors) == len(entries)
    assert {e.line for e in result.errors} <= set(entries)
    assert all(e.source == "batch" for e in result.errors)


@pytest.mark.parametrize("case", cases("single_prompts.jsonl"))
def test_single_prompt(case):
    """A hostile Single-mode prompt gives its one row or its one error, and the live note."""
    prompt, variants = build(case["prompt"]), build(case["variants"])
    result = parse_single(prompt, variants, build(case.get("scene_id")))
    expect = case["expect"]
    assert_rows(result, {"rows": expect["rows"]})
    if expect["rows"]:
        assert result.errors == []
    else:
        assert len(result.errors) == 1 and result.errors[0].line == 1
        assert expect["error"] in result.errors[0].message, result.errors[0].message
        assert result.errors[0].source == "single"
    if "prompt" in expect:
        assert result.rows[0].prompt == expect["prompt"]
    if "note" in expect:
        assert prompt_length_note(prompt) == expect["note"]
    assert_plain(result.errors)


def filled(record: Any) -> bool:
    if not isinstance(record, dict):
        return True
    values = [record.get(k) for k in ("scene_id", "prompt", "variants")]
    return not all(v is None or (isinstance(v, float) and math.isnan(v))
                   or (isinstance(v, str) and not v.strip()) for v in values)


@pytest.mark.parametrize("case", cases("grid_records.jsonl"))
def test_grid_records(case):
    """Hostile grid content gives its expected rows and errors by grid row, never coerced."""
    records = build(case["records"])
    result = rows_from_records(records)
    assert_rows(result, case["expect"])
    assert_errors(result, case["expect"]["errors"])
    assert len(result.rows) + len(result.errors) == sum(filled(r) for r in records)
    assert all(e.source == "grid" and str(e).startswith("Grid row ") for e in result.errors)


@pytest.mark.parametrize("case", cases("reference_urls.jsonl"))
def test_reference_urls(case):
    """Each hostile reference list gives its expected problems, naming the reference."""
    problems = check_reference_urls(build(case["urls"]), own_base_url=case.get("own_base_url", ""))
    assert len(problems) == case["expect"]["problems"], problems
    for fragment in case["expect"]["has"]:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert_plain(problems)


def manifest_bytes(case: dict[str, Any]) -> bytes:
    if "file" in case:
        return (DATA / "manifests" / case["file"]).read_bytes()
    if "build" in case:
        spec = case["build"]
        if "csv_rows" in spec:
            rows = "".join(f"S{i},prompt {i},1\r\n" for i in range(1, spec["csv_rows"] + 1))
            return ("scene_id,prompt,variants\r\n" + rows).encode()
        return json.dumps([{"scene_id": f"S{i}", "prompt": f"prompt {i}", "variants": 1}
                           for i in range(1, spec["json_rows"] + 1)]).encode()
    return build(case["text"]).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("case", cases("manifests.jsonl"))
def test_manifest(case):
    """A hostile manifest file imports to its expected rows and one plain sentence per problem."""
    text, note = decode_manifest(manifest_bytes(case))
    result = import_manifest(text)
    expect = case["expect"]
    assert isinstance(result, ManifestImport)
    assert_rows(result, expect)
    assert_errors(result, expect["errors"])
    if "note" in expect:
        assert expect["note"] in note
    summary = result.summary(case["id"])
    if "summary" in expect:
        assert expect["summary"] in summary, summary
    assert_plain([note, summary])
    if result.errors or result.records > len(result.rows):
        assert "not imported" in summary or "Nothing was imported" in summary


def test_the_corpus_is_large_enough():
    """The corpus holds at least 120 cases, each with an id and an expectation."""
    total = 0
    for name in ("batch_texts.jsonl", "single_prompts.jsonl", "grid_records.jsonl",
                 "reference_urls.jsonl", "manifests.jsonl"):
        for param in cases(name):
            case = param.values[0]
            assert case["id"] and "expect" in case
            total += 1
    assert total >= 120
