"""The idempotency hash, byte for byte the brief's JavaScript, checked against real node."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from batchcore import BatchRow, batch_hash
from batchcore.domain.hashing import day_bucket, rows_json

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DAY_MS = 86_400_000

# The brief's snippet, verbatim, with Date.now() returning the vector's epoch milliseconds.
NODE_SCRIPT = r"""
const crypto = require('crypto');
const sha256 = (s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((v) => {
    const Date = { now: () => v.now_ms };
    const mode = v.mode;
    const rows = v.rows;
    const dayBucket = Math.floor(Date.now() / 86400000);
    const content = mode + JSON.stringify(rows) + dayBucket;
    const hash = sha256(content);
    return { hash, json: JSON.stringify(rows), dayBucket };
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def at_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def ms_of(y, mo, d, h=0, mi=0, s=0, ms=0) -> int:
    moment = datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=timezone.utc)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def r(scene_id="S1", prompt="p", variants=1, ref_urls=()) -> BatchRow:
    return BatchRow(scene_id=scene_id, prompt=prompt, variants=variants, ref_urls=ref_urls)


def js_rows(rows: list[BatchRow]) -> list[dict]:
    """The rows as the JS side sees them, built from the contract, not from rows_json."""
    out = []
    for row in rows:
        item = {"scene_id": row.scene_id, "prompt": row.prompt, "variants": row.variants}
        if row.ref_urls:
            item["ref_urls"] = list(row.ref_urls)
        out.append(item)
    return out


NOON = ms_of(2026, 11, 24, 12)
LAST_MS = ms_of(2026, 11, 24, 23, 59, 59, 999)
FIRST_MS = ms_of(2026, 11, 25, 0, 0, 0, 0)

VECTORS: list[tuple[str, str, list[BatchRow], int]] = [
    ("plain batch", "batch", [r("SEQ01-001", "Warm kitchen, morning backlight", 3),
                              r("SEQ01-002", "Wide hallway, tungsten spill", 2)], NOON),
    ("plain single", "single", [r("SCENE-001", "Modern kitchen with morning light", 2)], NOON),
    ("empty batch", "batch", [], NOON),
    ("CJK and emoji", "batch", [r("A", "東京の夜景 🌃 네온 👩‍👩‍👧 🇯🇵", 1)], NOON),
    ("combining marks", "batch", [r("A", "e\u0301 a\u0308 Z\u0335\u0336 \u0915\u094d\u0937", 2)], NOON),
    ("line/paragraph separators", "batch", [r("A", "a\u2028b\u2029c \u0085 \ufeff", 1)], NOON),
    ("quotes and backslashes", "batch",
     [r("A", 'say "hi" \'there\' \\ back\\slash \\u0041 \\n /slash/ </script>', 3)], NOON),
    ("pipes", "batch", [r("A", "left | right || x |", 1), r("B", "|", 2)], NOON),
    ("control characters", "batch",
     [r("A", "".join(chr(c) for c in range(0x20)) + "\x7f\x80\x9f", 1)], NOON),
    ("tab newline cr", "single", [r("A", "a\tb\nc\rd\x08e\x0cf", 1)], NOON),
    # BatchRow validation refuses lone surrogates, but model_construct can still build one:
    # JSON.stringify writes them as \udxxx escapes (well-formed JSON.stringify).
    ("lone surrogates", "batch",
     [BatchRow.model_construct(scene_id="A", prompt="x\ud800y\udfffz\udbff", variants=1, ref_urls=())],
     NOON),
    ("ref_urls present", "batch",
     [r("A", "p", 1, ("https://storage.googleapis.com/b/a%20b.png?X-Goog-Signature=ab&c=d",
                      "gs://bucket/é.jpg")), r("B", "q", 2)], NOON),
    ("ref_urls empty tuple", "batch", [r("R", "no refs", 2, ())], NOON),
    ("last ms of a day", "batch", [r("A", "p", 1)], LAST_MS),
    ("first ms of next day", "batch", [r("A", "p", 1)], FIRST_MS),
    ("epoch zero", "single", [r("A", "p", 1)], 0),
    ("1 ms before epoch", "single", [r("A", "p", 1)], -1),
    ("pre-1970 date", "batch", [r("A", "p", 1)], ms_of(1960, 6, 15, 13, 30)),
    ("pre-1970 exact midnight", "batch", [r("A", "p", 1)], -DAY_MS),
    ("max limits", "batch",
     [r(f"{'S' * 48}{i:02d}", "x" * 1000, 3) for i in range(10)], NOON),
]


@pytest.fixture(scope="session")
def node_results() -> list[dict]:
    """Run every vector through the brief's snippet under node, once for the whole session."""
    node = shutil.which("node") or shutil.which("/usr/bin/node")
    if node is None:
        pytest.skip("node is not installed: cannot compare batch_hash with the JavaScript snippet")
    payload = [{"mode": mode, "rows": js_rows(rows), "now_ms": ms} for _, mode, rows, ms in VECTORS]
    proc = subprocess.run(
        [node, "-e", NODE_SCRIPT],
        input=json.dumps(payload, ensure_ascii=True),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert len(results) == len(VECTORS)
    return results


@pytest.mark.parametrize("index", range(len(VECTORS)), ids=[v[0] for v in VECTORS])
def test_batch_hash_matches_node(node_results, index):
    """batch_hash equals the brief's JS snippet under node, byte for byte, on this vector."""
    _, mode, rows, ms = VECTORS[index]
    expected = node_results[index]
    assert day_bucket(at_ms(ms)) == expected["dayBucket"]
    assert rows_json(rows) == expected["json"]
    assert batch_hash(mode, rows, at_ms(ms)) == expected["hash"]


def test_there_are_at_least_twelve_vectors():
    """The node comparison covers at least 12 distinct vectors with distinct hashes."""
    assert len(VECTORS) >= 12
    assert len({batch_hash(m, rows, at_ms(ms)) for _, m, rows, ms in VECTORS}) == len(VECTORS)


def test_hash_is_sha256_hex_of_mode_json_and_day():
    """The hash is the lowercase SHA-256 hex of mode + JSON + day number."""
    rows = [r("A", "p", 2)]
    content = 'batch[{"scene_id":"A","prompt":"p","variants":2}]20416'
    expected = hashlib.sha256(content.encode()).hexdigest()
    assert batch_hash("batch", rows, at_ms(20416 * DAY_MS + 5)) == expected
    assert len(expected) == 64


def test_rows_json_key_order_and_ref_urls_only_when_present():
    """Keys are scene_id, prompt, variants, then ref_urls only when non-empty; no spaces."""
    assert rows_json([r("A", "p", 1)]) == '[{"scene_id":"A","prompt":"p","variants":1}]'
    assert rows_json([r("A", "p", 1, ("u",))]) == (
        '[{"scene_id":"A","prompt":"p","variants":1,"ref_urls":["u"]}]'
    )
    assert rows_json([]) == "[]"


def test_rows_json_keeps_unicode_unescaped():
    """Non-ASCII text is written as itself, not as \\u escapes (as JSON.stringify does)."""
    assert "東京🌃" in rows_json([r("A", "東京🌃", 1)])
    assert "\u2028" in rows_json([r("A", "a\u2028b", 1)])


def test_day_boundary_changes_the_hash():
    """The last millisecond of a UTC day and the first of the next give different hashes."""
    rows = [r()]
    assert day_bucket(at_ms(LAST_MS)) + 1 == day_bucket(at_ms(FIRST_MS))
    assert batch_hash("batch", rows, at_ms(LAST_MS)) != batch_hash("batch", rows, at_ms(FIRST_MS))
    assert batch_hash("batch", rows, at_ms(FIRST_MS)) == batch_hash(
        "batch", rows, at_ms(FIRST_MS + DAY_MS - 1)
    )


def test_day_bucket_floors_before_1970():
    """Before 1970 the day number is floored like Math.floor: -1 ms is day -1."""
    assert day_bucket(at_ms(-1)) == -1
    assert day_bucket(at_ms(-DAY_MS)) == -1
    assert day_bucket(at_ms(-DAY_MS - 1)) == -2
    assert day_bucket(at_ms(0)) == 0


def test_day_bucket_is_utc_whatever_the_offset():
    """An aware time in another zone gives the UTC day of the same instant."""
    tokyo = timezone(timedelta(hours=9))
    moment = datetime(2026, 11, 25, 8, 59, tzinfo=tokyo)  # 2026-11-24 23:59 UTC
    assert day_bucket(moment) == day_bucket(datetime(2026, 11, 24, 23, 59, tzinfo=timezone.utc))
    assert batch_hash("batch", [r()], moment) == batch_hash("batch", [r()], moment.astimezone(timezone.utc))


def test_naive_datetime_is_refused():
    """A naive datetime raises ValueError instead of silently picking a zone."""
    with pytest.raises(ValueError, match="aware"):
        batch_hash("batch", [r()], datetime(2026, 11, 24, 12))


def test_default_now_is_the_current_utc_day():
    """Without now, the hash is that of the current UTC day."""
    before = datetime.now(timezone.utc)
    value = batch_hash("batch", [r()])
    after = datetime.now(timezone.utc)
    assert value in {batch_hash("batch", [r()], before), batch_hash("batch", [r()], after)}
    assert day_bucket() in {day_bucket(before), day_bucket(after), day_bucket(after) + 1}


def test_mode_rows_order_and_every_field_change_the_hash():
    """Changing mode, row order, any field or the refs changes the hash."""
    now = at_ms(NOON)
    base = [r("A", "p", 1), r("B", "q", 2)]
    variants = [
        ("single", base),
        ("batch", list(reversed(base))),
        ("batch", [r("A", "P", 1), r("B", "q", 2)]),
        ("batch", [r("A", "p", 2), r("B", "q", 2)]),
        ("batch", [r("A2", "p", 1), r("B", "q", 2)]),
        ("batch", [r("A", "p", 1, ("u",)), r("B", "q", 2)]),
        ("batch", base[:1]),
    ]
    hashes = {batch_hash(mode, rows, now) for mode, rows in variants}
    assert batch_hash("batch", base, now) not in hashes
    assert len(hashes) == len(variants)


def test_empty_ref_urls_hash_like_no_ref_urls():
    """A row with ref_urls=() hashes exactly like one without ref_urls."""
    now = at_ms(NOON)
    assert batch_hash("batch", [r("A", "p", 1, ())], now) == batch_hash("batch", [r("A", "p", 1)], now)
