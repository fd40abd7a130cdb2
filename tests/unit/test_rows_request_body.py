"""The ``POST /batch/images`` body the client builds, checked against a transcription of the
server's zod schema (``packages/shared/src/schemas.ts`` at commit 1e11507): for any rows the
parser accepts, the body the server receives validates."""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from batchcore.adapters.client import image_request
from batchcore.domain.rows import (
    BatchRow,
    attach_refs,
    check_reference_urls,
    parse_batch,
    parse_single,
    rows_from_records,
)
from batchcore.errors import InputError

# --- the server's schema, transcribed -----------------------------------------------------
#
#   RefUrlSchema = z.object({ url: z.string().url().startsWith('https://'),
#                             mode: ReferenceModeSchema.optional().default('style_only'),
#                             hash: z.string().optional() }).strict();
#   ImageBatchItemSchema = z.object({ scene_id: z.string().min(1).max(50),
#                                     prompt: z.string().min(1).max(1000),
#                                     ref_pack_id: z.string().optional(),
#                                     ref_pack_public_urls: z.array(RefUrlSchema).max(6).optional(),
#                                     reference_mode: ReferenceModeSchema.optional().default(...),
#                                     variants: z.number().int().min(1).max(3) }).strict();
#   ImageBatchRequestSchema = z.object({ items: z.array(ImageBatchItemSchema).min(1).max(10),
#                                        runMode: z.enum(['dry_run','live']).default('dry_run')
#                                      }).strict();
#
# zod's string .min/.max compare JavaScript .length: UTF-16 code units.

REF_MODES = ("style_only", "style_and_composition")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _js_url_ok(value: str) -> bool:
    """Roughly `new URL(value)` for an https URL: a host, a valid port, no space in the host."""
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return False
    host = parts.netloc.rsplit("@", 1)[-1].split(":")[0] if not parts.netloc.startswith("[") else "x"
    return bool(host) and not any(c in host for c in " <>^|\\%\t\n\r")


def _ref_problems(refs: Any, at: str) -> list[str]:
    """The schema's issues with one row's ``ref_pack_public_urls``."""
    if not isinstance(refs, list) or len(refs) > 6:
        return [f"{at}.ref_pack_public_urls: expected an array of at most 6"]
    issues: list[str] = []
    for j, ref in enumerate(refs):
        rat = f"{at}.ref_pack_public_urls[{j}]"
        if not isinstance(ref, dict):
            issues.append(f"{rat}: expected object")
            continue
        issues += [f"{rat}: unknown key {k!r}" for k in set(ref) - {"url", "mode", "hash"}]
        url = ref.get("url")
        if not isinstance(url, str) or not _js_url_ok(url) or not url.startswith("https://"):
            issues.append(f"{rat}.url: invalid url")
        if ref.get("mode", "style_only") not in REF_MODES:
            issues.append(f"{rat}.mode: invalid enum value")
        if "hash" in ref and not isinstance(ref["hash"], str):
            issues.append(f"{rat}.hash: expected string")
    return issues


def zod_problems(body: Any) -> list[str]:
    """Every issue the server's ImageBatchRequestSchema would raise for ``body`` (strict)."""
    issues: list[str] = []

    def string(value: Any, where: str, lo: int = 0, hi: int | None = None) -> None:
        if not isinstance(value, str):
            issues.append(f"{where}: expected string")
        elif utf16_len(value) < lo or (hi is not None and utf16_len(value) > hi):
            issues.append(f"{where}: length {utf16_len(value)} outside {lo}..{hi}")

    if not isinstance(body, dict):
        return ["body: expected object"]
    issues += [f"body: unknown key {k!r}" for k in set(body) - {"items", "runMode"}]
    if body.get("runMode", "dry_run") not in ("dry_run", "live"):
        issues.append("runMode: invalid enum value")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 10:
        return [*issues, "items: expected an array of 1..10"]
    for i, item in enumerate(items):
        at = f"items[{i}]"
        if not isinstance(item, dict):
            issues.append(f"{at}: expected object")
            continue
        known = {"scene_id", "prompt", "ref_pack_id", "ref_pack_public_urls", "reference_mode",
                 "variants"}
        issues += [f"{at}: unknown key {k!r}" for k in set(item) - known]
        string(item.get("scene_id"), f"{at}.scene_id", 1, 50)
        string(item.get("prompt"), f"{at}.prompt", 1, 1000)
        variants = item.get("variants")
        if isinstance(variants, bool) or not isinstance(variants, (int, float)):
            issues.append(f"{at}.variants: expected number")
        elif variants != int(variants) or not 1 <= variants <= 3:
            issues.append(f"{at}.variants: not an integer 1..3")
        if "ref_pack_id" in item:
            string(item["ref_pack_id"], f"{at}.ref_pack_id")
        if item.get("reference_mode", "style_only") not in REF_MODES:
            issues.append(f"{at}.reference_mode: invalid enum value")
        if "ref_pack_public_urls" in item:
            issues += _ref_problems(item["ref_pack_public_urls"], at)
    return issues


def as_received(body: dict[str, Any]) -> Any:
    """The body as the server receives it: httpx's own JSON encoding, decoded again."""
    return json.loads(httpx.Request("POST", "https://server.test/batch/images", json=body).content)


# --- the transcription is not vacuous ----------------------------------------------------

GOOD = {"items": [{"scene_id": "A", "prompt": "p", "variants": 1}], "runMode": "dry_run"}


@pytest.mark.parametrize("change", [
    lambda b: b.update(extra=1),
    lambda b: b.update(runMode="LIVE"),
    lambda b: b.update(items=[]),
    lambda b: b.update(items=b["items"] * 11),
    lambda b: b["items"][0].update(variants=0),
    lambda b: b["items"][0].update(variants=4),
    lambda b: b["items"][0].update(variants=2.5),
    lambda b: b["items"][0].update(variants=True),
    lambda b: b["items"][0].update(prompt="x" * 994 + "🐍" * 7),
    lambda b: b["items"][0].update(scene_id="s" * 51),
    lambda b: b["items"][0].update(scene_id=""),
    lambda b: b["items"][0].update(unknown="x"),
    lambda b: b["items"][0].update(ref_pack_public_urls=[{"url": "http://x/a.png"}]),
    lambda b: b["items"][0].update(ref_pack_public_urls=[{"url": "https://x/a.png"}] * 7),
    lambda b: b["items"][0].update(ref_pack_public_urls=[{"url": "https://x/a", "size": 1}]),
    lambda b: b["items"][0].update(ref_pack_public_urls=["https://x/a.png"]),
])
def test_the_transcribed_schema_refuses_what_the_server_refuses(change):
    """Each change the real server answers with a 400 is an issue in the transcription."""
    body = json.loads(json.dumps(GOOD))
    assert zod_problems(body) == []
    change(body)
    assert zod_problems(body) != []


# --- every body the client builds from accepted rows validates ------------------------------

HOSTILE = st.sampled_from(list(
    "|#\\ \t\u3000\u00a0\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85\r\n\u200b\u200d\ufeff\u202e\x00"
    "🐍👨‍👩\u0301<>*_[]():$`") + ["🐍" * 3, "**x**", "<script>", "__x__", "\ud83d"])
TEXT = st.lists(st.one_of(HOSTILE, st.characters(exclude_categories=())), max_size=40).map("".join)
LONG = st.builds(lambda a, n, b: a * n + b, st.sampled_from(["x", "🐍", "é", " "]),
                 st.integers(480, 1010), st.sampled_from(["", "🐍", "x", "🐍🐍"]))
SCENES = st.one_of(st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=52),
                   TEXT)
SCENE_IDS = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=50)
VARIANTS = st.sampled_from(["1", "2", "3", "0", "4", "02", "2.0", "-1", "1e9", "three", " 3 "])


@st.composite
def batch_texts(draw) -> str:
    lines = draw(st.lists(st.one_of(
        st.builds(lambda s, p, v: f"{s} | {p} | {v}", SCENES, st.one_of(TEXT, LONG), VARIANTS),
        TEXT), max_size=14))
    seps = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r", "\u2028", "\x0c", "\x85"]),
                         min_size=len(lines), max_size=len(lines)))
    first = draw(st.builds(lambda s, p: f"{s} | {p}x | 1", SCENE_IDS, TEXT))  # one row, mostly
    return first + "\n" + "".join(line + sep for line, sep in zip(lines, seps))


GOOD_URL = st.builds(lambda h, p: f"https://{h}/{p}.png?X-Goog-Signature=abc",
                     st.sampled_from(["storage.googleapis.com", "x.test", "127.0.0.1:8443"]),
                     st.text(string.ascii_letters + string.digits + "-_%", min_size=1, max_size=20))
ANY_URL = st.one_of(GOOD_URL, TEXT, st.sampled_from([
    "http://x/a.png", "https://", "https://[::1", "HTTPS://x/a", "https://a b/c",
    "javascript:alert(1)", "https://x:99999/a", "",
]))


def assert_body_validates(rows: list[BatchRow], mode: str) -> None:
    body = image_request(rows, mode)
    assert zod_problems(as_received(body)) == [], body


@given(batch_texts(), st.lists(GOOD_URL, max_size=6), st.sampled_from(["dry_run", "live"]))
def test_any_rows_parse_batch_accepts_make_a_valid_body(text, urls, mode):
    """Rows accepted from any batch text, with good references, always make a valid body."""
    rows = parse_batch(text).rows
    assume(rows)
    assert_body_validates(attach_refs(rows, urls), mode)


@given(st.one_of(TEXT, LONG), st.sampled_from([1, 2, 3, "2", 0, None]), st.one_of(st.none(), SCENES))
def test_any_row_parse_single_accepts_makes_a_valid_body(prompt, variants, scene):
    """A Single-mode row that is accepted always makes a valid body."""
    rows = parse_single(prompt, variants, scene).rows
    assume(rows)
    assert_body_validates(rows, "live")


GRID_VALUE = st.one_of(TEXT, LONG, st.none(), st.integers(-5, 5), st.floats(), st.booleans(),
                       st.lists(st.integers(), max_size=2))


GRID_RECORD = st.fixed_dictionaries({
    "scene_id": st.one_of(SCENE_IDS, SCENES, GRID_VALUE),
    "prompt": st.one_of(TEXT, LONG, GRID_VALUE),
    "variants": st.one_of(st.sampled_from([1, 2, 3, "2", 2.0, 3.0]), GRID_VALUE),
})


@given(st.lists(GRID_RECORD, max_size=12), st.lists(st.tuples(SCENE_IDS, TEXT), min_size=1, max_size=3))
def test_any_rows_rows_from_records_accepts_make_a_valid_body(records, plain):
    """Rows accepted from any grid content always make a valid body."""
    records = [{"scene_id": s, "prompt": p + "x", "variants": 1} for s, p in plain] + records
    rows = rows_from_records(records).rows
    if rows:
        assert_body_validates(rows, "dry_run")


@given(batch_texts(), st.lists(ANY_URL, max_size=8))
def test_references_are_checked_before_a_body_is_built(text, urls):
    """With any references, image_request refuses (InputError) exactly when a reference is bad;
    otherwise the body validates."""
    rows = parse_batch(text).rows
    assume(rows)
    rows = attach_refs(rows, urls)
    if check_reference_urls(urls):
        with pytest.raises(InputError) as info:
            image_request(rows, "live")
        assert f"Scene {rows[0].scene_id}" in str(info.value)
    else:
        assert_body_validates(rows, "live")


@given(st.lists(st.builds(lambda s, p, v: (s, p, v), SCENES, st.one_of(TEXT, LONG), st.integers(1, 3)),
                min_size=1, max_size=10))
def test_rows_built_directly_are_refused_or_valid(fields):
    """Any BatchRow pydantic accepts is either refused by image_request or makes a valid body."""
    rows = []
    for scene_id, prompt, variants in fields:
        try:
            rows.append(BatchRow(scene_id=scene_id, prompt=prompt, variants=variants))
        except ValueError:
            continue
    assume(rows and len({r.scene_id for r in rows}) == len(rows))
    try:
        body = image_request(rows, "dry_run")
    except InputError:
        return
    assert zod_problems(as_received(body)) == []
