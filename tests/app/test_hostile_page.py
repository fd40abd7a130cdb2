"""The hostile corpus (tests/data/hostile/) through the page, with Streamlit's AppTest.

Every case of the pure-function corpus is entered where a person (or a tampered browser)
would enter it: batch texts in the Batch box and Parse, Single-mode prompts, grid edits as
the data editor's edit state, uploads in the drop zone, manifests through Import, reference
URLs as the workspace's references. For each case: no traceback; the message the corpus
names is on the page; no line is lost (rows + errors = lines a person sees); nothing from
outside is rendered as markup (``tests/app/hostile_page.py``); and a refused case bills
nothing (the emulator's ledger stays empty). Accepted batches are dry-run and generated so
their scene ids reach headers and button labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchcore.domain.rows import is_blank_cell, parse_batch, parse_single
from batchcore.domain.workflow import Reference
from tests.app.conftest import (
    gallery,
    approve,
    approve_buttons,
    confirm_generate,
    dry_run,
    emulator,
    enter_batch,
    make_app,
    wait_until_idle,
)
from tests.app.hostile_page import assert_sound, visible
from tests.conftest import fake_key
from tests.unit.test_hostile_corpus import build, entry_lines, manifest_bytes
from tests.unit.test_hostile_uploads import build as build_upload

DATA = Path(__file__).resolve().parents[1] / "data" / "hostile"


def load(name: str) -> list[dict[str, Any]]:
    with open(DATA / name, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def params(name: str) -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in load(name)]


def as_sent(text: str) -> str:
    """What a browser sends for ``text``: a lone surrogate cannot travel as UTF-8, so the
    browser's encoder sends U+FFFD in its place (AppTest, like the wire, refuses it)."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def pure_expectation(text: str) -> dict[str, Any]:
    """The pure parser's verdict, for texts the browser changes on the way (see as_sent)."""
    result = parse_batch(text)
    return {"rows": len(result.rows),
            "errors": [{"line": e.line, "has": e.message} for e in result.errors]}


def strings_in(value: Any) -> list[str]:
    """Every text inside a value (records, lists, objects), for the markup check."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*strings_in(k), *strings_in(v))]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in strings_in(v)]
    return []


def units() -> int:
    return sum(c.count for c in emulator().ledger.charges)


def error_table(at) -> dict[int, str]:
    """The batch-text error table: line number → problem."""
    for frame in at.dataframe:
        value = frame.value
        if list(value.columns) == ["line", "problem", "text"]:
            return {int(r["line"]): str(r["problem"]) for r in value.to_dict("records")}
    return {}


def grid_rows(at) -> list[dict[str, Any]]:
    return at.data_editor[0].value.to_dict("records") if len(at.data_editor) else []


def assert_dry_run_refused(at) -> None:
    """Dry-Run Images stays clickable (no click is lost) but refuses, saying why: no receipt."""
    at.button(key="dry_run").click().run()
    assert not at.exception
    assert "Dry-run receipt" not in visible(at)


def assert_nothing_billed(at) -> None:
    """A refused case: Generate is off and the emulator billed nothing."""
    assert at.button(key="generate").disabled
    assert emulator().ledger.charges == []


def generate_and_check(at, inputs: tuple[object, ...], images: int) -> None:
    """Dry-run and generate an accepted batch; every image billed once, all on the page."""
    dry_run(at)
    assert_sound(at, *inputs)
    assert "Dry-run receipt" in visible(at), visible(at)[-2000:]
    confirm_generate(at)
    assert_sound(at, *inputs)
    assert units() == images
    assert len(approve_buttons(at)) == images


# --- batch texts -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", params("batch_texts.jsonl"))
def test_batch_text_through_the_page(case, tmp_path):
    """A hostile batch text, pasted and parsed: its rows in the grid, its errors by line, none lost."""
    at = make_app(tmp_path).run()
    text = build(case["text"])
    expect = case["expect"]
    if as_sent(text) != text:
        text = as_sent(text)
        expect = pure_expectation(text)
    enter_batch(at, text)
    assert_sound(at, text)
    errors = error_table(at)
    assert set(errors) == {e["line"] for e in expect["errors"]}, errors
    for want in expect["errors"]:
        assert want["has"] in errors[want["line"]], (want, errors[want["line"]])
    rows = grid_rows(at)
    assert len(rows) == expect["rows"]
    assert len(rows) + len(errors) == len(entry_lines(text)), "a line was lost"
    if "prompts" in expect:
        assert [r["prompt"] for r in rows] == expect["prompts"]
    if "scene_ids" in expect:
        assert [r["scene_id"] for r in rows] == expect["scene_ids"]
    if errors:
        assert f"{len(errors)} line(s) need fixing" in visible(at)
        assert_dry_run_refused(at)
        assert_nothing_billed(at)
    elif rows:
        generate_and_check(at, (text,), sum(int(r["variants"]) for r in rows))
    else:  # an empty Parse is said, not silent
        assert "Nothing to parse:" in visible(at)
        assert_dry_run_refused(at)
        assert_nothing_billed(at)


# --- Single-mode prompts ------------------------------------------------------------------


def _radio_value(value: Any) -> bool:
    return type(value) is int and value in (1, 2, 3)


SINGLE = [p for p in params("single_prompts.jsonl") if _radio_value(build(p.values[0]["variants"]))]


def metric(at, label: str) -> str:
    return next((str(m.value) for m in at.metric if m.label == label), "")


@pytest.mark.parametrize("case", SINGLE)
def test_single_prompt_through_the_page(case, tmp_path):
    """A hostile Single-mode prompt: its live length note, its one row or its one error on the page."""
    at = make_app(tmp_path).run()
    prompt, variants = build(case["prompt"]), build(case["variants"])
    scene = build(case.get("scene_id"))
    expect = case["expect"]
    if as_sent(prompt) != prompt:
        prompt = as_sent(prompt)
        result = parse_single(prompt, variants, scene)
        expect = {"rows": len(result.rows), "error": result.errors[0].message if result.errors else ""}
    at.radio(key="mode").set_value("Single").run()
    at.text_area(key="single_prompt").input(prompt)
    if scene is not None:
        at.text_input(key="single_scene").input(scene)
    at.radio(key="single_variants").set_value(variants).run()
    assert_sound(at, prompt, scene or "")
    shown = visible(at)
    if "note" in expect:
        assert expect["note"] in shown
    if expect["rows"]:
        assert metric(at, "Rows") == "1"
        generate_and_check(at, (prompt, scene or ""), variants)
        if "prompt" in expect:
            assert expect["prompt"] in [s["prompt"] for s in gallery(at)["scenes"]], \
                "the prompt is shown as sent"
    elif prompt:
        assert expect["error"] in shown, shown[-1500:]
        assert_dry_run_refused(at)
        assert_nothing_billed(at)
    else:  # an empty box is not an error yet: nothing to dry-run, nothing said
        assert_dry_run_refused(at)
        assert_nothing_billed(at)


# --- grid edits ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", params("grid_records.jsonl"))
def test_grid_edit_through_the_page(case, tmp_path):
    """Hostile grid edits, as the browser's edit state: checked as sent, or undone with a sentence."""
    at = make_app(tmp_path).run()
    enter_batch(at, "S0 | seed row | 1")
    records = build(case["records"])
    version = at.session_state["grid_version"]
    at.session_state[f"grid_{version}"] = {"edited_rows": {}, "added_rows": records,
                                           "deleted_rows": [0]}
    at.run()
    assert_sound(at, *strings_in(records))
    shown = visible(at)
    page = case.get("page")
    if page:
        assert "could not be read, so it was undone" in shown
        for fragment in page["undone"]:
            assert fragment in shown, shown[-1500:]
        assert metric(at, "Rows") == "1"  # the parsed row is back, the edit is not applied
        assert "grid edit" in visible(at)  # logged
        assert_nothing_billed(at)
        return
    expect = case["expect"]
    for want in expect["errors"]:
        assert f"Grid row {want['line']}: " in shown and want["has"] in shown, (want, shown[-1500:])
    filled = [r for r in records if not isinstance(r, dict) or any(
        not is_blank_cell(r.get(k)) for k in ("scene_id", "prompt", "variants"))]
    rows = int(metric(at, "Rows") or 0)
    assert rows == expect["rows"]
    assert rows + len({e["line"] for e in expect["errors"]}) == len(filled), "a grid row was lost"
    if expect["errors"]:
        assert_dry_run_refused(at)
        assert_nothing_billed(at)
    else:
        generate_and_check(at, tuple(strings_in(records)),
                           sum(r.variants for r in at.session_state["wf"].draft.rows))


# --- uploads -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params("uploads.jsonl"))
def test_upload_through_the_page(case, tmp_path):
    """A hostile file in the drop zone: refused with its sentence (name shown as text) or attached."""
    at = make_app(tmp_path).run()
    data = bytes(build_upload(case["make"], seed=len(case["id"])))
    name = as_sent(case["name"])
    at.file_uploader(key="uploader").set_value([(name, data, "image/png")]).run()
    assert_sound(at, name)
    shown = visible(at)
    refs = at.session_state["wf"].references
    if case["expect"] == "refused" and name == case["name"]:
        assert refs == ()
        for phrase in case["says"]:
            assert phrase in shown, (phrase, shown[-1500:])
    elif case["expect"] == "accepted":
        assert len(refs) == 1
        safe = case["facts"].get("safe_name", refs[0].name)
        assert refs[0].name == safe and any(t.value == safe for t in at.text)
    assert emulator().ledger.charges == []


# --- manifests -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", params("manifests.jsonl"))
def test_manifest_through_the_page(case, tmp_path):
    """A hostile manifest through Import: its rows become the batch, each refused record is said."""
    at = make_app(tmp_path).run()
    data = manifest_bytes(case)
    at.file_uploader(key="manifest_upload").set_value((f"{case['id']}.csv", data, "text/csv"))
    at.run()
    at.button(key="import_manifest").click().run()
    expect = case["expect"]
    assert_sound(at, *(data.decode("utf-8", "replace").splitlines()[:50] if len(data) < 300_000
                       else ()))
    shown = visible(at)
    for want in expect["errors"]:
        assert want["has"] in shown, (want, shown[-2000:])
    for key in ("summary", "note"):
        if key in expect:
            assert expect[key] in shown, (expect[key], shown[-2000:])
    assert (int(metric(at, "Rows") or 0)) == expect["rows"]
    if "prompts" in expect:
        assert [r["prompt"] for r in grid_rows(at)] == expect["prompts"]
    if expect["errors"] or not expect["rows"]:
        assert "not imported" in shown or "Nothing was imported" in shown or \
            "holds no records" in shown
    if not expect["rows"]:
        assert_nothing_billed(at)
    elif not expect["errors"]:
        rows = at.session_state["wf"].draft.rows
        generate_and_check(at, tuple(r.prompt for r in rows), sum(r.variants for r in rows))


# --- reference URLs --------------------------------------------------------------------------


REFS = [p for p in params("reference_urls.jsonl")
        if "own_base_url" not in p.values[0] and all(isinstance(u, str) for u in p.values[0]["urls"])]


@pytest.mark.parametrize("case", REFS)
def test_reference_urls_through_the_page(case, tmp_path):
    """References the server's schema would refuse are named at Dry-Run, before anything is sent."""
    at = make_app(tmp_path).run()
    urls = [build(u) for u in case["urls"]]
    state = at.session_state["wf"]
    refs = tuple(Reference(name=f"ref-{i}.png", url=u) for i, u in enumerate(urls, start=1))
    at.session_state["wf"] = state.model_copy(update={"references": refs})
    enter_batch(at, "S1 | a kitchen | 1")
    assert_sound(at, *urls)
    dry_run(at)
    assert_sound(at, *urls)
    shown = visible(at)
    expect = case["expect"]
    if expect["problems"]:
        for fragment in case.get("page", expect)["has"]:
            assert fragment in shown, (fragment, shown[-2000:])
        assert "Dry-run failed" in shown
        assert at.session_state["wf"].receipts == {}
        assert len([b for b in at.button if str(b.label) == "Remove"]) == len(urls), \
            "every reference has its chip"
        assert_nothing_billed(at)
    else:
        assert "Dry-run receipt" in shown, shown[-2000:]


# --- the paid dialogs ----------------------------------------------------------------------


def test_the_paid_dialogs_render_no_markup(tmp_path):
    """The confirmation dialogs (money amounts, hostile scene ids) render no formula, tag or bold."""
    at = make_app(tmp_path).run()
    text = "S__x__ | **b** <script>x</script> [l](javascript:x) :material/home: $x$ | 1"
    enter_batch(at, text)
    dry_run(at)
    at.button(key="generate").click().run()
    assert_sound(at, text)
    at.button(key="confirm_images_go").click().run()
    wait_until_idle(at)
    approve(at, "S__x__", 1)
    at.button(key="generate_video").click().run()
    assert_sound(at, text)
    assert "1 clip × $0.10 = $0.10" in visible(at).replace("*", "")


# --- server answers ----------------------------------------------------------------------------


def build_answer(value: Any) -> Any:
    """Answer bodies may hold builders: ``$fake_key`` (an echoed key), ``$concat``."""
    if isinstance(value, dict) and "$fake_key" in value:
        return fake_key("echo")
    if isinstance(value, dict) and "$concat" in value:
        return "".join(build_answer(v) for v in value["$concat"])
    if isinstance(value, dict):
        return {k: build_answer(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", params("server_answers.jsonl"))
def test_server_answer_through_the_page(case, tmp_path):
    """A hostile answer from the server (or a proxy) to a dry-run, a paid call or an upload: said as plain text, nothing billed that was refused."""
    at = make_app(tmp_path).run()
    body = build_answer(case["body"])
    when = case["when"]
    route = "/upload-reference" if when == "upload" else "/batch/images"
    if when.startswith("live"):
        enter_batch(at)
        dry_run(at)
    emulator().faults.add(kind="answer_after" if when == "live_after" else "answer", route=route,
                          times=None if when == "dry_run" else 1, answer_status=case["status"],
                          answer_body=body, answer_type=case["type"],
                          answer_headers=case["headers"])
    if when == "dry_run":
        enter_batch(at)
        dry_run(at)
        assert at.session_state["wf"].receipts == {}
    elif when == "upload":
        png = bytes(build_upload({"kind": "image", "fmt": "PNG", "size": [20, 20]}, seed=1))
        at.file_uploader(key="uploader").set_value([("cat.png", png, "image/png")]).run()
        assert at.session_state["wf"].references == ()
    else:
        confirm_generate(at)
    shown = visible(at)
    for fragment in case["expect"]["says"]:
        assert fragment in shown, (fragment, shown[-2500:])
    assert fake_key("echo") not in shown
    assert_sound(at, *strings_in(body))
    billed = 6 if when == "live_after" else 0
    assert units() == billed
    for _ in range(3):
        at.run()
    assert units() == billed
