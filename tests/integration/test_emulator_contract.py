"""Contract tests of the orchestrator emulator, run against both faces.

Every test gets ``connect(emu)``, which returns an ``httpx.Client`` talking to ``emu``
either in-process (``EmulatorTransport``) or over loopback HTTP (``running_server``).
"""

from __future__ import annotations

import io
import json
import re
import threading
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import av
import httpx
import pytest
from PIL import Image

from batchcore.emulator import (
    IN_PROCESS_BASE_URL,
    Emulator,
    EmulatorConfig,
    EmulatorTransport,
    running_server,
)
from tests.conftest import fake_key

PROBLEM = "application/problem+json"
SCHEMA_TYPE = "https://api.ai-platform.com/problems/invalid-request-schema"
GENERIC = "Request does not match expected schema"
BATCH_ID = re.compile(r"^batch_\d+_[0-9a-f]{12}$")
JOB_ID = re.compile(r"^(job|batch)_\d+_[a-z0-9]+$")


class Clock:
    """A manual clock; its ``sleep`` advances time instead of waiting."""

    def __init__(self) -> None:
        self._now = datetime(2025, 3, 14, 12, 0, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    sleep = advance


def make_emu(**overrides) -> Emulator:
    clock = Clock()
    overrides.setdefault("now", clock)
    overrides.setdefault("sleep", clock.sleep)
    emu = Emulator(EmulatorConfig(**overrides))
    emu.clock = clock  # type: ignore[attr-defined]
    return emu


@pytest.fixture(params=["in_process", "served"])
def connect(request):
    """``connect(emu, headers=..., **client_kwargs) -> httpx.Client`` over one face."""
    with ExitStack() as stack:

        def _connect(emu: Emulator, headers: dict | None = None, **kwargs) -> httpx.Client:
            headers = {"X-API-Key": fake_key()} if headers is None else headers
            if request.param == "in_process":
                client = httpx.Client(
                    transport=EmulatorTransport(emu), base_url=IN_PROCESS_BASE_URL, headers=headers, **kwargs
                )
            else:
                base = stack.enter_context(running_server(emu))
                client = httpx.Client(base_url=base, headers=headers, **kwargs)
            return stack.enter_context(client)

        _connect.face = request.param  # type: ignore[attr-defined]
        yield _connect


def rows(*spec, run_mode="dry_run"):
    """``rows(("S1", 2), ("S2", 1))`` → a /batch/images body."""
    return {
        "items": [{"scene_id": s, "prompt": f"prompt for {s}", "variants": v} for s, v in spec],
        "runMode": run_mode,
    }


def live(*spec):
    return rows(*spec, run_mode="live")


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        return img.size


def clip(n=1, model="veo3", url="https://example.com/still.png", aspect="16:9", run_mode="live", confirm=None):
    items = [
        {"scene_id": f"S{i}", "prompt": "slow push in", "approved_image_url": url, "veo_model": model,
         "aspect": aspect, "resolution": 720, "duration_s": 8, "fps": 24}
        for i in range(1, n + 1)
    ]
    return {"items": items, "runMode": run_mode, "confirmCount": n if confirm is None else confirm}


# --- health and auth --------------------------------------------------------------------


def test_health_answers_without_a_key(connect):
    """GET /healthz needs no key and reports healthy with timestamp, service and version."""
    client = connect(make_emu(), headers={})
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "healthy"
    assert {"timestamp", "service", "version"} <= set(r.json())


def test_health_with_a_query_string_needs_a_key(connect):
    """/healthz is only open when called without a query string, like the real server."""
    r = connect(make_emu(), headers={}).get("/healthz?x=1")
    assert r.status_code == 401


def test_missing_key_is_authentication_required(connect):
    """No key → 401 problem+json titled "Authentication Required"."""
    r = connect(make_emu(), headers={}).post("/batch/images", json=rows(("S1", 1)))
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["title"] == "Authentication Required"
    assert body["type"].endswith("/permission-denied")
    assert set(body) == {"type", "title", "status", "instance", "detail"}


@pytest.mark.parametrize("key", ["aip_short", "x" * 44, "aip" + "_" + "x" * 30 + "!" * 10])
def test_badly_formed_key_is_invalid_format(connect, key):
    """A key not starting aip_, shorter than 40 chars or with odd characters → 401 format."""
    r = connect(make_emu(), headers={"X-API-Key": key}).post("/batch/images", json=rows(("S1", 1)))
    assert r.status_code == 401
    assert r.json()["title"] == "Invalid API Key Format"


def test_bearer_and_x_api_key_are_both_accepted(connect):
    """The key may come as Authorization: Bearer or as X-API-Key."""
    emu = make_emu()
    assert connect(emu, headers={"Authorization": "Bearer " + fake_key("b")}).post("/batch/images", json=rows(("S1", 1))).status_code == 200
    assert connect(emu, headers={"X-API-Key": fake_key("c")}).post("/batch/images", json=rows(("S1", 1))).status_code == 200


def test_configured_keys_reject_other_well_formed_keys(connect):
    """With api_keys set, a well-formed key that is not listed → 401 "Invalid API Key"."""
    emu = make_emu(api_keys={fake_key("a")})
    assert connect(emu, headers={"X-API-Key": fake_key("a")}).post("/batch/images", json=rows(("S1", 1))).status_code == 200
    r = connect(emu, headers={"X-API-Key": fake_key("z")}).post("/batch/images", json=rows(("S1", 1)))
    assert r.status_code == 401
    assert r.json()["title"] == "Invalid API Key"


def test_require_key_false_serves_keyless_requests(connect):
    """With require_key=False a request without any key is served."""
    r = connect(make_emu(require_key=False), headers={}).post("/batch/images", json=rows(("S1", 1)))
    assert r.status_code == 200


def test_legacy_error_style_answers_error_and_message(connect):
    """error_style="legacy" gives the older {error, message} application/json bodies."""
    r = connect(make_emu(error_style="legacy"), headers={}).post("/batch/images", json=rows(("S1", 1)))
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    assert set(r.json()) == {"error", "message"}


# --- strict schema ----------------------------------------------------------------------

_ITEM = {"scene_id": "S1", "prompt": "p", "variants": 1}
_BAD_BODIES = {
    "unknown top-level field": {"items": [_ITEM], "runMode": "dry_run", "extra": 1},
    "unknown item field": {"items": [{**_ITEM, "seed": 4}]},
    "no items": {"items": []},
    "eleven items": {"items": [{**_ITEM, "scene_id": f"S{i}"} for i in range(11)]},
    "variants 0": {"items": [{**_ITEM, "variants": 0}]},
    "variants 4": {"items": [{**_ITEM, "variants": 4}]},
    "variants 1.5": {"items": [{**_ITEM, "variants": 1.5}]},
    "variants as text": {"items": [{**_ITEM, "variants": "2"}]},
    "empty scene id": {"items": [{**_ITEM, "scene_id": ""}]},
    "scene id of 51": {"items": [{**_ITEM, "scene_id": "S" * 51}]},
    "empty prompt": {"items": [{**_ITEM, "prompt": ""}]},
    "prompt of 1001": {"items": [{**_ITEM, "prompt": "p" * 1001}]},
    "bad runMode": {"items": [_ITEM], "runMode": "maybe"},
    "seven refs": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": f"https://x.test/{i}.png"} for i in range(7)]}]},
    "plain-string ref": {"items": [{**_ITEM, "ref_pack_public_urls": ["https://x.test/a.png"]}]},
    "http ref": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": "http://x.test/a.png"}]}]},
    "unknown ref field": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": "https://x.test/a.png", "w": 1}]}]},
    "bad reference_mode": {"items": [{**_ITEM, "reference_mode": "copy"}]},
    "items not a list": {"items": "S1|p|1"},
    "body not an object": [_ITEM],
    "item not an object": {"items": ["S1 | p | 1"]},
    "variants true": {"items": [{**_ITEM, "variants": True}]},
    "scene id of 26 emoji (52 UTF-16 units)": {"items": [{**_ITEM, "scene_id": "\U0001F600" * 26}]},
    "ref_pack_id a number": {"items": [{**_ITEM, "ref_pack_id": 7}]},
    "refs not a list": {"items": [{**_ITEM, "ref_pack_public_urls": {"url": "https://x.test/a.png"}}]},
    "ref without url": {"items": [{**_ITEM, "ref_pack_public_urls": [{"mode": "style_only"}]}]},
    "ref url not text": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": 5}]}]},
    "ref url with no host": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": "https://"}]}]},
    "bad ref mode": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": "https://x.test/a.png", "mode": "copy"}]}]},
    "ref hash a number": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": "https://x.test/a.png", "hash": 1}]}]},
    # zod's .optional() means absent: an explicit null is refused, and .default() does not apply to it.
    "refs null": {"items": [{**_ITEM, "ref_pack_public_urls": None}]},
    "reference_mode null": {"items": [{**_ITEM, "reference_mode": None}]},
    "ref_pack_id null": {"items": [{**_ITEM, "ref_pack_id": None}]},
    "runMode null": {"items": [_ITEM], "runMode": None},
    "ref mode null": {"items": [{**_ITEM, "ref_pack_public_urls": [{"url": "https://x.test/a.png", "mode": None}]}]},
}


@pytest.mark.parametrize("body", list(_BAD_BODIES.values()), ids=list(_BAD_BODIES))
def test_schema_problems_are_one_generic_400(connect, body):
    """Every schema problem is the same 400 invalid-request-schema with the generic detail."""
    emu = make_emu()
    r = connect(emu).post("/batch/images", json=body)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json() == {"type": SCHEMA_TYPE, "title": "Invalid Request Schema", "status": 400,
                        "instance": "/batch/images", "detail": GENERIC}
    assert emu.ledger.charges == []


def test_no_body_is_the_generic_400(connect):
    """POST /batch/images with no body is the same generic schema 400."""
    r = connect(make_emu()).post("/batch/images")
    assert r.status_code == 400
    assert r.json()["detail"] == GENERIC


def test_limits_are_inclusive(connect):
    """10 rows, 3 variants, 6 reference objects, a 50-char scene id and 1000-char prompt pass."""
    refs = [{"url": f"https://x.test/{i}.png", "mode": "style_and_composition", "hash": "ab"} for i in range(6)]
    items = [{"scene_id": f"{i:02d}" + "S" * 48, "prompt": "p" * 1000, "variants": 3, "ref_pack_public_urls": refs,
              "reference_mode": "style_only", "ref_pack_id": "pack"} for i in range(10)]
    r = connect(make_emu()).post("/batch/images", json={"items": items})
    assert r.status_code == 200
    assert r.json()["runMode"] == "dry_run"


def test_malformed_json_gets_fastify_shape(connect):
    """Malformed JSON → Fastify's {statusCode, error, message} 400 as application/json."""
    r = connect(make_emu()).post("/batch/images", content=b'{"items": [', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["statusCode"] == 400 and body["error"] == "Bad Request" and body["message"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_get_fastify_shape(connect, token):
    """NaN/Infinity (which Python would read but JSON.parse refuses) → Fastify's malformed-JSON 400, nothing billed."""
    emu = make_emu()
    body = '{"items": [{"scene_id": "S1", "prompt": "p", "variants": ' + token + '}], "runMode": "live"}'
    r = connect(emu).post("/batch/images", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    assert set(r.json()) == {"statusCode", "error", "message"} and r.json()["statusCode"] == 400
    assert emu.ledger.charges == []


def _raw(body: dict) -> bytes:
    """JSON with every non-ASCII character escaped, so lone surrogates can be sent as JavaScript would."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def test_lone_surrogates_count_one_utf16_unit_and_are_served(connect):
    """A lone surrogate counts one UTF-16 unit (a 1000-unit prompt passes, 1001 does not); the live batch is generated and echoed back."""
    emu = make_emu()
    client = connect(emu)
    headers = {"content-type": "application/json"}
    item = {"scene_id": "S\ud800", "prompt": "p" * 999 + "\udc00", "variants": 1}
    r = client.post("/batch/images", content=_raw({"items": [item], "runMode": "live"}), headers=headers)
    assert r.status_code == 200
    assert r.json()["jobs"][0]["sceneId"] == "S\ud800"
    picture = client.get(r.json()["results"][0]["images"][0]["signedUrl"])
    assert picture.status_code == 200 and picture.content[:4] == b"\x89PNG"
    too_long = {**item, "prompt": "p" * 1000 + "\udc00"}
    r = client.post("/batch/images", content=_raw({"items": [too_long]}), headers=headers)
    assert r.status_code == 400 and r.json()["detail"] == GENERIC
    assert len(emu.ledger) == 1


def test_unknown_route_gets_fastify_404(connect):
    """An unknown route → Fastify's 404 body naming the route."""
    r = connect(make_emu()).get("/signed-upload")
    assert r.status_code == 404
    assert r.json() == {"message": "Route GET:/signed-upload not found", "error": "Not Found", "statusCode": 404}


# --- dry run and live -------------------------------------------------------------------


def test_dry_run_shape_and_no_charge(connect):
    """A dry-run returns batchId, float estimatedCost and per-row costs, and bills nothing."""
    emu = make_emu()
    r = connect(emu).post("/batch/images", json=rows(("S1", 2), ("S2", 3)))
    assert r.status_code == 200
    body = r.json()
    assert BATCH_ID.match(body["batchId"])
    assert body["runMode"] == "dry_run"
    assert body["estimatedCost"] == pytest.approx(0.010)
    assert [i["scene_id"] for i in body["items"]] == ["S1", "S2"]
    assert body["items"][0]["estimatedCost"] == pytest.approx(0.004)
    assert emu.ledger.charges == []
    assert emu.ledger.total() == Decimal("0")


def test_run_mode_defaults_to_dry_run(connect):
    """Without runMode the request is a dry-run."""
    emu = make_emu()
    body = connect(emu).post("/batch/images", json={"items": [_ITEM]}).json()
    assert body["runMode"] == "dry_run"
    assert len(emu.ledger) == 0


def test_live_shape_and_ledger(connect):
    """Live answers jobs/results per row and the ledger bills every image with the batch hash."""
    emu = make_emu()
    client = connect(emu)
    r = client.post("/batch/images", json=live(("S1", 1), ("S2", 3)), headers={"X-Batch-Hash": "h1"})
    assert r.status_code == 200
    body = r.json()
    assert body["runMode"] == "live"
    assert BATCH_ID.match(body["batchId"])
    assert body["accepted"] == 2 and body["rejected"] == []
    assert [j["jobId"] for j in body["jobs"]] == [f"{body['batchId']}_S1_0", f"{body['batchId']}_S2_1"]
    assert {j["status"] for j in body["jobs"]} == {"completed"}
    assert [len(res["images"]) for res in body["results"]] == [1, 3]
    image = body["results"][1]["images"][0]
    assert set(image) == {"gcsUri", "signedUrl", "thumbnailUrl"}
    assert image["signedUrl"].startswith(str(client.base_url).rstrip("/") + "/assets/")
    # The server's wrong actualCost: 2 successful rows × first row's 1 variant × 0.002.
    assert body["actualCost"] == pytest.approx(0.004)
    assert emu.ledger.total() == Decimal("0.008")
    assert emu.ledger.units("images") == 4
    assert [(c.scene_id, c.count, c.batch_hash, c.batch_id) for c in emu.ledger.charges] == [
        ("S1", 1, "h1", body["batchId"]), ("S2", 3, "h1", body["batchId"])]


def test_live_latency_is_spent_making_the_pictures_and_never_exceeded(connect):
    """With latency_ms, every picture exists when the live answer comes, and the emulator
    waits at most latency_ms per image in all (the render time is taken out of the wait)."""
    slept: list[float] = []
    emu = make_emu(latency_ms=150, sleep=slept.append)
    client = connect(emu)
    body = client.post("/batch/images", json=live(("S1", 3), ("S2", 2))).json()
    ids = [img["signedUrl"].split("/assets/", 1)[1].split(".", 1)[0]
           for res in body["results"] for img in res["images"]]
    assert len(ids) == 5 and all(emu.assets.rendered(i) for i in ids)
    assert len(slept) == 2 and all(0 <= s <= 0.15 * 3 for s in slept)
    assert sum(slept) <= 0.15 * 5


def test_same_rows_sent_live_twice_are_billed_twice(connect):
    """The server does not deduplicate: a repeated live request has the same batchId and bills again."""
    emu = make_emu()
    client = connect(emu)
    first = client.post("/batch/images", json=live(("S1", 2))).json()
    second = client.post("/batch/images", json=live(("S1", 2))).json()
    assert first["batchId"] == second["batchId"]
    assert emu.ledger.units() == 4
    assert emu.ledger.total() == Decimal("0.008")


def test_dry_run_and_live_of_same_rows_share_the_batch_id_within_five_minutes(connect):
    """batchId is derived from the rows and a 5-minute window."""
    emu = make_emu()
    client = connect(emu)
    dry = client.post("/batch/images", json=rows(("S1", 1))).json()["batchId"]
    assert client.post("/batch/images", json=live(("S1", 1))).json()["batchId"] == dry
    emu.clock.advance(301)
    assert client.post("/batch/images", json=rows(("S1", 1))).json()["batchId"] != dry


def test_failed_rows_are_reported_and_not_billed(connect):
    """fail_scenes rows come back failed with an error, listed in rejected, never billed."""
    emu = make_emu(fail_scenes={"S2"})
    body = connect(emu).post("/batch/images", json=live(("S1", 1), ("S2", 2), ("S3", 1))).json()
    failed = [j for j in body["jobs"] if j["status"] == "failed"]
    assert [j["sceneId"] for j in failed] == ["S2"]
    assert failed[0]["error"]
    assert body["rejected"] == ["S2"] and body["accepted"] == 2
    assert [r["sceneId"] for r in body["results"]] == ["S1", "S3"]
    assert [c.scene_id for c in emu.ledger.charges] == ["S1", "S3"]


def test_all_rows_failing_omits_results(connect):
    """When every row fails there is no results member and nothing is billed."""
    emu = make_emu(fail_scenes={"S1"})
    body = connect(emu).post("/batch/images", json=live(("S1", 1))).json()
    assert "results" not in body and body["accepted"] == 0
    assert emu.ledger.total() == Decimal("0")


def test_seeded_failure_rate_is_deterministic(connect):
    """The same seed and requests fail the same rows on two emulators."""
    outcomes = []
    for _ in range(2):
        emu = make_emu(failure_rate=0.5, seed=7)
        client = connect(emu)
        body = client.post("/batch/images", json=live(*[(f"S{i}", 1) for i in range(10)])).json()
        outcomes.append(body["rejected"])
    assert outcomes[0] == outcomes[1]
    assert 0 < len(outcomes[0]) < 10


# --- budget and rate limit -------------------------------------------------------------


def test_budget_exceeded_is_402_and_bills_nothing(connect):
    """Past the daily budget a live batch is 402 budget-exceeded; dry-runs still work."""
    emu = make_emu(daily_budget=Decimal("0.010"))
    client = connect(emu)
    assert client.post("/batch/images", json=live(("S1", 3))).status_code == 200
    r = client.post("/batch/images", json=live(("S2", 3)))
    assert r.status_code == 402
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == "https://example.com/problems/budget-exceeded"
    assert r.json()["title"] == "Budget Exceeded"
    assert emu.ledger.units() == 3
    assert client.post("/batch/images", json=rows(("S2", 3))).status_code == 200


def test_budget_is_per_key_and_per_day(connect):
    """Another key, or the next UTC day, has a fresh budget."""
    emu = make_emu(daily_budget=Decimal("0.006"))
    assert connect(emu).post("/batch/images", json=live(("S1", 3))).status_code == 200
    assert connect(emu).post("/batch/images", json=live(("S1", 1))).status_code == 402
    assert connect(emu, headers={"X-API-Key": fake_key("o")}).post("/batch/images", json=live(("S1", 1))).status_code == 200
    emu.clock.advance(86400)
    assert connect(emu).post("/batch/images", json=live(("S1", 1))).status_code == 200


def test_video_budget_exceeded_is_402_and_bills_nothing(connect):
    """Clips past the daily budget are refused with 402 budget-exceeded, and none is billed."""
    emu = make_emu(daily_budget=Decimal("0.60"))
    client = connect(emu)
    assert client.post("/batch/videos", json=clip(1)).status_code == 200
    r = client.post("/batch/videos", json=clip(1))
    assert r.status_code == 402
    assert r.json()["type"] == "https://example.com/problems/budget-exceeded"
    assert emu.ledger.units() == 1


def test_rate_limit_is_429_with_retry_after(connect):
    """Over the per-minute limit → 429 rate-limited with Retry-After; a minute later it clears."""
    emu = make_emu(rate_limit_per_minute=3)
    client = connect(emu)
    for _ in range(3):
        ok = client.post("/batch/images", json=rows(("S1", 1)))
        assert ok.status_code == 200
        assert ok.headers["x-ratelimit-limit"] == "3"
    r = client.post("/batch/images", json=rows(("S1", 1)))
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-limit"] == "3"
    assert r.json()["type"].endswith("/rate-limited")
    emu.clock.advance(61)
    assert client.post("/batch/images", json=rows(("S1", 1))).status_code == 200


# --- status, progress, brief profile ----------------------------------------------------


def test_status_of_a_malformed_id_is_fastify_500(connect):
    """/status/<id> not matching ^(job|batch)_\\d+_[a-z0-9]+$ → 500 in Fastify's shape."""
    r = connect(make_emu()).get("/status/batch_1_ABC_S1_0")
    assert r.status_code == 500
    assert r.json()["statusCode"] == 500 and r.json()["error"] == "Internal Server Error"


def test_status_of_an_unknown_id_is_the_placeholder(connect):
    """An unknown well-formed id gets the real server's placeholder (running, 0.65)."""
    body = connect(make_emu()).get("/status/job_123_abc").json()
    assert body["jobId"] == "job_123_abc"
    assert body["status"] == "running" and body["progress"] == 0.65
    assert body["outputs"] == [] and body["error"] is None


def test_progress_stream_ends_with_the_finished_batch(connect):
    """/progress/<batchId> streams SSE ledger events and ends once the batch is done."""
    emu = make_emu(fail_scenes={"S2"})
    client = connect(emu)
    batch_id = client.post("/batch/images", json=live(("S1", 1), ("S2", 1))).json()["batchId"]
    with client.stream("GET", f"/progress/{batch_id}") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    last = events[-1]
    assert last["batchId"] == batch_id and last["status"] == "completed" and last["progress"] == 1
    assert [(i["sceneId"], i["status"]) for i in last["items"]] == [("S1", "completed"), ("S2", "failed")]
    assert last["items"][0]["imageUrls"]


def test_progress_of_an_unknown_batch_says_not_found(connect):
    """An unknown batch id streams one {"error": "Job not found"} event and ends."""
    with connect(make_emu()).stream("GET", "/progress/batch_1_abc") as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert events == [{"error": "Job not found"}]


def test_brief_profile_queues_then_completes_per_poll(connect):
    """Profile brief: live answers {batch_job} queued; each status poll advances to completed."""
    emu = make_emu(profile="brief", seconds_per_step=3600)
    client = connect(emu)
    body = client.post("/batch/images", json=live(("S1", 2), ("S2", 1))).json()
    job = body["batch_job"]
    assert JOB_ID.match(job["id"]) and job["status"] == "queued" and job["images"] == []
    assert emu.ledger.units() == 3  # generated and billed when accepted
    seen = []
    for _ in range(10):
        status = client.get(f"/status/{job['id']}").json()
        seen.append(status["status"])
        if status["status"] == "completed":
            break
    assert seen[0] == "queued" and "running" in seen and seen[-1] == "completed"
    assert status["progress"] == 100
    assert [len(r["images"]) for r in status["results"]] == [2, 1]
    assert client.get(status["results"][0]["images"][0]["url"]).status_code == 200


def test_brief_profile_progress_streams_the_queued_job_to_its_end(connect):
    """Profile brief: /progress/<job id> streams each scene's state and ends when the job does."""
    emu = make_emu(profile="brief", seconds_per_step=1.0, fail_scenes={"S2"})
    client = connect(emu)
    job_id = client.post("/batch/images", json=live(("S1", 2), ("S2", 1))).json()["batch_job"]["id"]
    with client.stream("GET", f"/progress/{job_id}") as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert events[0]["batchId"] == job_id
    last = events[-1]
    assert last["status"] == "completed" and last["progress"] == 1
    assert [(i["sceneId"], i["status"]) for i in last["items"]] == [("S1", "completed"), ("S2", "failed")]
    assert len(last["items"][0]["imageUrls"]) == 2 and last["items"][1]["error"]


def test_brief_profile_advances_with_time(connect):
    """Profile brief: once enough emulated time passed, the first poll already says completed."""
    emu = make_emu(profile="brief", seconds_per_step=1.0)
    client = connect(emu)
    job_id = client.post("/batch/images", json=live(("S1", 1))).json()["batch_job"]["id"]
    emu.clock.advance(5)
    assert client.get(f"/status/{job_id}").json()["status"] == "completed"


# --- videos -------------------------------------------------------------------------------


def test_videos_answer_501_when_configured(connect):
    """videos="501" answers 501 not-implemented problem+json like today's server."""
    r = connect(make_emu(videos="501")).post("/batch/videos", json=clip())
    assert r.status_code == 501
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"].endswith("/not-implemented")


def test_video_dry_run_costs_and_bills_nothing(connect):
    """A video dry-run prices $0.50 per veo3 clip and bills nothing."""
    emu = make_emu()
    body = connect(emu).post("/batch/videos", json=clip(2, run_mode="dry_run")).json()
    assert body["runMode"] == "dry_run" and body["estimatedCost"] == pytest.approx(1.0)
    assert len(emu.ledger) == 0


def test_video_confirm_count_must_equal_items(connect):
    """confirmCount different from the number of items → 400, nothing billed."""
    emu = make_emu()
    r = connect(emu).post("/batch/videos", json=clip(2, confirm=3))
    assert r.status_code == 400
    assert r.json()["type"] == SCHEMA_TYPE
    assert len(emu.ledger) == 0


@pytest.mark.parametrize("field,value", [("veo_model", "veo2"), ("duration_s", 6), ("fps", 30), ("resolution", 480), ("aspect", "1:1")])
def test_video_schema_rejects_bad_values(connect, field, value):
    """Video rows outside the planned schema → the generic 400."""
    body = clip()
    body["items"][0][field] = value
    r = connect(make_emu()).post("/batch/videos", json=body)
    assert r.status_code == 400 and r.json()["detail"] == GENERIC


def test_video_schema_ignores_unknown_fields(connect):
    """The video schema is not strict: unknown members are ignored."""
    body = clip(run_mode="dry_run")
    body["note"] = "x"
    body["items"][0]["extra"] = 1
    assert connect(make_emu()).post("/batch/videos", json=body).status_code == 200


def test_live_videos_bill_per_clip_and_finish_with_a_playable_clip(connect):
    """Live clips bill $0.50/$0.10 each and go queued → running → done with a decodable MP4."""
    emu = make_emu(seconds_per_step=3600)
    client = connect(emu)
    image_url = client.post("/batch/images", json=live(("S1", 1))).json()["results"][0]["images"][0]["signedUrl"]
    emu.ledger.clear()
    body = client.post("/batch/videos", json=clip(1, url=image_url), headers={"X-Batch-Hash": "vh"}).json()
    fast = client.post("/batch/videos", json=clip(1, model="veo3_fast", aspect="9:16")).json()
    assert [c.amount for c in emu.ledger.charges] == [Decimal("0.50"), Decimal("0.10")]
    assert emu.ledger.charges[0].kind == "videos" and emu.ledger.charges[0].batch_hash == "vh"
    assert body["accepted"] == 1 and body["jobs"][0]["status"] == "queued"
    job_id = body["jobs"][0]["jobId"]
    assert JOB_ID.match(job_id)
    words = [client.get(f"/status/{job_id}").json() for _ in range(3)]
    assert [w["status"] for w in words] == ["queued", "running", "done"]
    output = words[-1]["outputs"][0]["url"]
    video = client.get(output)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    container = av.open(io.BytesIO(video.content))
    stream = container.streams.video[0]
    assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 640, 360)
    assert sum(1 for _ in container.decode(video=0)) == 48
    for _ in range(3):
        done = client.get(f"/status/{fast['jobs'][0]['jobId']}").json()
    portrait = av.open(io.BytesIO(client.get(done["outputs"][0]["url"]).content)).streams.video[0]
    assert (portrait.width, portrait.height) == (360, 640)


def test_clips_last_eight_seconds(connect):
    """A finished clip plays for 8 seconds (±0.2), the length the page promises and the schema's duration_s fixes."""
    emu = make_emu(seconds_per_step=0)
    client = connect(emu)
    job_id = client.post("/batch/videos", json=clip(1, model="veo3_fast")).json()["jobs"][0]["jobId"]
    url = client.get(f"/status/{job_id}").json()["outputs"][0]["url"]
    with av.open(io.BytesIO(client.get(url).content)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert abs(container.duration / av.time_base - 8.0) <= 0.2
        assert abs(frames / stream.average_rate - 8.0) <= 0.2


def test_failed_video_ends_in_error_and_is_not_billed(connect):
    """A failing clip's job ends in status error with a message and is never billed."""
    emu = make_emu(fail_scenes={"S1"}, seconds_per_step=0)
    client = connect(emu)
    job_id = client.post("/batch/videos", json=clip(1)).json()["jobs"][0]["jobId"]
    status = client.get(f"/status/{job_id}").json()
    assert status["status"] == "error" and status["error"] and status["outputs"] == []
    assert len(emu.ledger) == 0


def test_video_budget_is_402(connect):
    """Video clips count against the same daily budget (402 beyond it)."""
    emu = make_emu(daily_budget=Decimal("1.00"))
    client = connect(emu)
    assert client.post("/batch/videos", json=clip(2)).status_code == 200
    assert client.post("/batch/videos", json=clip(1)).status_code == 402
    assert emu.ledger.total("videos") == Decimal("1.00")


def test_video_range_requests_get_206(connect):
    """Asset GETs honour a Range header (browsers need it to play MP4)."""
    emu = make_emu(seconds_per_step=0)
    client = connect(emu)
    job_id = client.post("/batch/videos", json=clip(1)).json()["jobs"][0]["jobId"]
    url = client.get(f"/status/{job_id}").json()["outputs"][0]["url"]
    full = client.get(url).content
    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == full[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(full)}"


# --- uploads -----------------------------------------------------------------------------


def _png(colour=(200, 30, 30), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def test_upload_reference_stores_and_serves_images(connect):
    """Uploaded images come back with URLs serving the same bytes and 128×128 thumbnails."""
    emu = make_emu()
    client = connect(emu)
    files = [("images", ("red.png", _png(), "image/png")), ("images", ("blue.png", _png((0, 0, 200)), "image/png"))]
    r = client.post("/upload-reference", files=files)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["batchId"]
    assert [i["originalName"] for i in body["images"]] == ["red.png", "blue.png"]
    assert body["totalSize"] == sum(i["size"] for i in body["images"])
    first = body["images"][0]
    assert {"url", "thumbnailUrl", "gcsUri", "size", "mimeType", "uploadedAt"} <= set(first)
    assert client.get(first["url"]).content == _png()
    assert png_size(client.get(first["thumbnailUrl"]).content) == (128, 128)
    assert len(emu.ledger) == 0


def test_uploaded_reference_is_accepted_and_tints_the_picture(connect):
    """An emulator upload URL is a valid reference, and it changes the generated picture."""
    client = connect(make_emu())
    ref = client.post("/upload-reference", files=[("images", ("g.png", _png((0, 220, 0)), "image/png"))]).json()["images"][0]["url"]
    body = live(("S1", 1))
    plain = client.get(client.post("/batch/images", json=body).json()["results"][0]["images"][0]["signedUrl"]).content
    body["items"][0]["ref_pack_public_urls"] = [{"url": ref}]
    r = client.post("/batch/images", json=body)
    assert r.status_code == 200
    tinted = client.get(r.json()["results"][0]["images"][0]["signedUrl"]).content
    assert tinted != plain


def test_strict_accepts_only_https_references(connect):
    """strict=True: an uploaded reference is usable only if its URL is https (in-process yes; served on http loopback no, unlike the default)."""
    for strict in (False, True):
        emu = make_emu(strict=strict)
        client = connect(emu)
        ref = client.post("/upload-reference", files=[("images", ("g.png", _png((0, 9, 0)), "image/png"))]).json()["images"][0]["url"]
        body = live(("S1", 1))
        body["items"][0]["ref_pack_public_urls"] = [{"url": ref}]
        r = client.post("/batch/images", json=body)
        accepted = not strict or ref.startswith("https://")
        assert r.status_code == (200 if accepted else 400), (connect.face, strict, ref)
        assert len(emu.ledger) == (1 if accepted else 0)
    assert connect.face == "in_process" or not ref.startswith("https://")  # the served face really is plain http


@pytest.mark.parametrize(
    "files",
    [
        [("images", ("notes.txt", b"hello", "text/plain"))],
        [("images", ("big.png", b"\0" * (10 * 1024 * 1024 + 1), "image/png"))],
        [("other", ("a.png", _png(), "image/png"))],
        [("images", ("notes.txt", b"hello", "text/plain"))] + [("images", (f"{i}.png", _png(), "image/png")) for i in range(6)],
    ],
    ids=["not an image", "over 10 MB", "wrong field", "a non-image before the seventh file"],
)
def test_upload_reference_refusals(connect, files):
    """Non-images, files over 10 MB or no `images` field → 400 (a bad file met before a seventh one is still the 400)."""
    r = connect(make_emu()).post("/upload-reference", files=files)
    assert r.status_code == 400
    assert r.json()["type"] == SCHEMA_TYPE


@pytest.mark.parametrize("extra", [("7.png", _png(), "image/png"), ("7.txt", b"hello", "text/plain")],
                         ids=["seventh picture", "seventh file not a picture"])
def test_seventh_upload_file_is_the_servers_500(connect, extra):
    """More than 6 files → 500 internal-error, as observed on the real server (not a 400), whatever the seventh file is."""
    client = connect(make_emu())
    files = [("images", (f"{i}.png", _png((i, 0, 0)), "image/png")) for i in range(6)] + [("images", extra)]
    r = client.post("/upload-reference", files=files)
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"].endswith("/internal-error")
    assert r.json()["detail"] == "Internal error processing upload request"
    assert client.post("/upload-reference", files=files[:6]).status_code == 200  # exactly six is fine


# --- pictures ----------------------------------------------------------------------------


def test_images_are_real_pngs_with_128_thumbnails(connect):
    """signedUrl serves a 512×512 PNG and thumbnailUrl a 128×128 PNG, without a key."""
    emu = make_emu()
    client = connect(emu)
    image = client.post("/batch/images", json=live(("S1", 1))).json()["results"][0]["images"][0]
    keyless = connect(emu, headers={})
    assert png_size(keyless.get(image["signedUrl"]).content) == (512, 512)
    assert png_size(keyless.get(image["thumbnailUrl"]).content) == (128, 128)


def test_images_are_deterministic_and_distinct(connect):
    """The same (scene, prompt, variant) gives the same bytes on any emulator; variants differ."""
    pictures = []
    for _ in range(2):
        client = connect(make_emu())
        images = client.post("/batch/images", json=live(("S1", 2))).json()["results"][0]["images"]
        pictures.append([client.get(i["signedUrl"]).content for i in images])
    assert pictures[0] == pictures[1]
    assert pictures[0][0] != pictures[0][1]


def test_unknown_asset_is_404(connect):
    """An asset id the emulator never made → 404."""
    assert connect(make_emu()).get("/assets/img-0000.png").status_code == 404


# --- faults ------------------------------------------------------------------------------


def test_fault_500_answers_internal_error_once(connect):
    """kind 500: one problem+json internal-error, nothing processed; the next request works."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="500")
    client = connect(emu)
    r = client.post("/batch/images", json=live(("S1", 1)))
    assert r.status_code == 500 and r.json()["type"].endswith("/internal-error")
    assert len(emu.ledger) == 0
    assert client.post("/batch/images", json=live(("S1", 1))).status_code == 200


def test_fault_502_html_is_a_load_balancer_page(connect):
    """kind 502_html: a text/html 502 page, nothing processed."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="502_html")
    r = connect(emu).post("/batch/images", json=live(("S1", 1)))
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert b"502" in r.content and len(emu.ledger) == 0


def test_fault_429_carries_retry_after(connect):
    """kind 429: 429 with the configured Retry-After seconds, nothing processed."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="429", retry_after=7)
    r = connect(emu).post("/batch/images", json=live(("S1", 1)))
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert len(emu.ledger) == 0


def test_fault_slow_still_answers(connect):
    """kind slow: the answer comes late but complete."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="slow", seconds=0.05)
    r = connect(emu).post("/batch/images", json=live(("S1", 1)))
    assert r.status_code == 200 and emu.ledger.units() == 1


def test_fault_slow_past_the_client_timeout_is_a_read_timeout_after_billing(connect):
    """kind slow longer than the client's read timeout: ReadTimeout, yet the batch was billed."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="slow", seconds=2.0)
    client = connect(emu, timeout=httpx.Timeout(5.0, read=0.3))
    with pytest.raises(httpx.ReadTimeout):
        client.post("/batch/images", json=live(("S1", 1)))
    assert emu.ledger.units() == 1


def test_fault_timeout_after_accept_bills_then_times_out(connect):
    """kind timeout_after_accept: the client gets ReadTimeout and the ledger shows the charge."""
    emu = make_emu(hang_seconds=1.5)
    emu.faults.add(route="/batch/images", kind="timeout_after_accept")
    client = connect(emu, timeout=httpx.Timeout(5.0, read=0.3))
    with pytest.raises(httpx.ReadTimeout):
        client.post("/batch/images", json=live(("S1", 2)), headers={"X-Batch-Hash": "t1"})
    assert [(c.count, c.batch_hash) for c in emu.ledger.charges] == [(2, "t1")]


def test_fault_malformed_json_is_a_broken_200(connect):
    """kind malformed_json: 200 whose body does not parse; the batch was processed and billed."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="malformed_json")
    r = connect(emu).post("/batch/images", json=live(("S1", 1)))
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert emu.ledger.units() == 1


def test_fault_unknown_status_word(connect):
    """kind unknown_status: job status words are replaced by an unknown one."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="unknown_status", status="mystery")
    body = connect(emu).post("/batch/images", json=live(("S1", 1), ("S2", 1))).json()
    assert {j["status"] for j in body["jobs"]} == {"mystery"}


def test_fault_partial_fails_every_second_row(connect):
    """kind partial: every second row fails and only the others are billed."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="partial")
    body = connect(emu).post("/batch/images", json=live(("S1", 1), ("S2", 1), ("S3", 1), ("S4", 1))).json()
    assert body["rejected"] == ["S2", "S4"]
    assert [c.scene_id for c in emu.ledger.charges] == ["S1", "S3"]


def test_fault_connect_refused_never_reaches_the_server(connect):
    """kind connect_refused: a transport error and nothing processed; the next request works."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="connect_refused")
    client = connect(emu)
    expected = httpx.ConnectError if connect.face == "in_process" else httpx.TransportError
    with pytest.raises(expected):
        client.post("/batch/images", json=live(("S1", 1)))
    assert len(emu.ledger) == 0
    assert client.post("/batch/images", json=live(("S1", 1))).status_code == 200


def test_fault_times_none_fires_until_cleared(connect):
    """A fault armed with times=None fires on every matching request until cleared."""
    emu = make_emu()
    emu.faults.add(route="/healthz", kind="500", times=None)
    client = connect(emu)
    assert [client.get("/healthz").status_code for _ in range(3)] == [500, 500, 500]
    emu.faults.clear()
    assert client.get("/healthz").status_code == 200


def test_unknown_fault_kind_is_refused():
    """Arming a fault kind that does not exist raises ValueError."""
    with pytest.raises(ValueError):
        Emulator().faults.add(kind="gremlins")


def test_served_emulator_refuses_connections_once_stopped():
    """After running_server exits, connecting to its address is a real ConnectError."""
    emu = make_emu()
    with running_server(emu) as base_url:
        assert httpx.get(base_url + "/healthz").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/healthz", timeout=2)


# --- emulator-only control routes --------------------------------------------------------


def test_control_routes_show_ledger_arm_faults_and_reset(connect):
    """/_emulator/ledger lists charges, /_emulator/faults arms a fault, /_emulator/reset clears."""
    emu = make_emu()
    client = connect(emu)
    client.post("/batch/images", json=live(("S1", 2)), headers={"X-Batch-Hash": "h"})
    ledger = client.get("/_emulator/ledger").json()
    assert ledger["total"] == "0.004" and ledger["units"] == 2
    assert ledger["charges"][0]["batchHash"] == "h"
    assert client.post("/_emulator/faults", json={"kind": "502_html", "route": "/batch/images"}).status_code == 201
    assert client.post("/batch/images", json=rows(("S1", 1))).status_code == 502
    assert client.post("/_emulator/faults", json={"kind": "nope"}).status_code == 400
    client.post("/_emulator/reset")
    assert client.get("/_emulator/ledger").json()["units"] == 0


def test_control_routes_can_be_disabled(connect):
    """With admin_routes=False the control routes are unknown routes (404)."""
    assert connect(make_emu(admin_routes=False)).get("/_emulator/ledger").status_code == 404


def test_disabled_control_routes_neither_arm_faults_nor_reset(connect):
    """With admin_routes=False, POST /_emulator/faults and /_emulator/reset are 404 and change nothing."""
    emu = make_emu(admin_routes=False)
    client = connect(emu)
    assert client.post("/batch/images", json=live(("S1", 1))).status_code == 200
    armed = client.post("/_emulator/faults", json={"kind": "500", "route": "/batch/images"})
    assert armed.status_code == 404 and armed.json()["error"] == "Not Found"
    assert client.post("/_emulator/reset").status_code == 404
    assert emu.faults.pending == [] and len(emu.ledger) == 1
    assert client.post("/batch/images", json=rows(("S1", 1))).status_code == 200


# --- faults limited to one method ---------------------------------------------------------


def test_fault_armed_for_one_method_ignores_the_others(connect):
    """A 500 fault armed for GET does not fire on a POST (and is still armed); the next GET gets it."""
    emu = make_emu()
    emu.faults.add(kind="500", route="/", method="get")
    client = connect(emu)
    assert client.post("/batch/images", json=rows(("S1", 1))).status_code == 200
    assert [f.kind for f in emu.faults.pending] == ["500"]
    assert client.get("/healthz").status_code == 500
    assert emu.faults.pending == []
    assert client.get("/healthz").status_code == 200


# --- asset Range requests -----------------------------------------------------------------


def _image_url(client: httpx.Client) -> str:
    return client.post("/batch/images", json=live(("S1", 1))).json()["results"][0]["images"][0]["signedUrl"]


def test_suffix_range_gets_the_last_bytes(connect):
    """Range: bytes=-100 answers 206 with the last 100 bytes and their Content-Range."""
    client = connect(make_emu())
    url = _image_url(client)
    full = client.get(url).content
    tail = client.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == full[-100:]
    assert tail.headers["content-range"] == f"bytes {len(full) - 100}-{len(full) - 1}/{len(full)}"


@pytest.mark.parametrize("header", ["bytes=-0", "bytes=abc-", "bytes=5-x", "bytes=99999999-", "bytes=50-10",
                                    "bytes=0-1,5-6", "items=0-10"])
def test_unusable_range_is_ignored_and_the_whole_file_served(connect, header):
    """A Range the emulator cannot satisfy (empty, malformed, past the end, reversed, multiple) gets the whole file, 200."""
    client = connect(make_emu())
    url = _image_url(client)
    full = client.get(url).content
    r = client.get(url, headers={"Range": header})
    assert r.status_code == 200 and r.content == full
    assert "content-range" not in r.headers


def test_clip_has_no_thumbnail(connect):
    """A video clip's URL serves the clip, but asking for its _thumb.png is 404 NoSuchKey."""
    client = connect(make_emu(seconds_per_step=0))
    job_id = client.post("/batch/videos", json=clip(1)).json()["jobs"][0]["jobId"]
    url = client.get(f"/status/{job_id}").json()["outputs"][0]["url"]
    thumb = re.sub(r"\.(mp4|webm)\?", "_thumb.png?", url)
    assert thumb != url
    r = client.get(thumb)
    assert r.status_code == 404 and b"<Code>NoSuchKey</Code>" in r.content


# --- /upload-reference multipart rules ---------------------------------------------------


def _jpeg(colour=(0, 0, 200), size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def test_uploaded_jpeg_keeps_its_type(connect):
    """An uploaded JPEG gets a .jpg URL that serves the same bytes as image/jpeg, with a PNG thumbnail."""
    client = connect(make_emu())
    (image,) = client.post("/upload-reference", files=[("images", ("p.jpg", _jpeg(), "image/jpeg"))]).json()["images"]
    assert re.search(r"/assets/ref-[0-9a-f]+\.jpg\?", image["url"])
    served = client.get(image["url"])
    assert served.headers["content-type"] == "image/jpeg" and served.content == _jpeg()
    assert png_size(client.get(image["thumbnailUrl"]).content) == (128, 128)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'{"images": []}', "application/json"), (b"--x\r\n", "multipart/form-data")],
    ids=["json body", "multipart without boundary"],
)
def test_upload_that_is_not_multipart_form_data_is_an_internal_error(connect, body, content_type):
    """A body that is not multipart/form-data with a boundary gets the real server's 500 'Internal error processing upload request'."""
    emu = make_emu()
    r = connect(emu).post("/upload-reference", content=body, headers={"content-type": content_type})
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"].endswith("/internal-error")
    assert r.json()["detail"] == "Internal error processing upload request"


def test_multipart_upload_without_parts_needs_an_image(connect):
    """A multipart body with no parts at all is 400 'At least one image file is required'."""
    r = connect(make_emu()).post("/upload-reference", content=b"",
                                 headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 400 and r.json()["type"] == SCHEMA_TYPE
    assert r.json()["detail"] == "At least one image file is required"


def test_malformed_multipart_part_is_skipped_and_the_good_one_kept(connect):
    """A part without a header/body separator is ignored; the well-formed image part next to it is stored."""
    picture = _png((10, 200, 10))
    body = (b"--xyz\r\ngarbage without a blank line\r\n"
            b"--xyz\r\nContent-Disposition: form-data; name=\"images\"; filename=\"g.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + picture + b"\r\n--xyz--\r\n")
    client = connect(make_emu())
    r = client.post("/upload-reference", content=body, headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 200
    (image,) = r.json()["images"]
    assert (image["originalName"], image["size"]) == ("g.png", len(picture))
    assert client.get(image["url"]).content == picture


def test_upload_of_bytes_that_are_not_a_picture_is_stored_without_a_thumbnail(connect):
    """An image/png part whose bytes are not a picture is stored as sent, just without a thumbnailUrl."""
    client = connect(make_emu())
    r = client.post("/upload-reference", files=[("images", ("a.png", b"not a picture", "image/png"))])
    assert r.status_code == 200
    (image,) = r.json()["images"]
    assert "thumbnailUrl" not in image and client.get(image["url"]).content == b"not a picture"


# --- the ASGI app outside running_server ---------------------------------------------------


def _no_loop(fn, *args, **kwargs):
    """Run ``fn`` in a fresh thread: an event loop left running on this thread (the browser
    tests' Playwright) must not stop it from starting its own."""
    import threading

    out: dict = {}

    def target():
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised on the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_asgi_app_answers_lifespan_startup_and_shutdown():
    """Served by an ASGI server with lifespan on, the app completes startup and shutdown."""
    import anyio

    from batchcore.emulator.asgi import create_asgi_app

    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    _no_loop(anyio.run, create_asgi_app(make_emu()), {"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert incoming == []


def test_asgi_app_ignores_websocket_connections():
    """A websocket scope is neither read nor answered (the server then refuses it)."""
    import anyio

    from batchcore.emulator.asgi import create_asgi_app

    sent: list[dict] = []

    async def receive() -> dict:  # pragma: no cover - must not be called
        raise AssertionError("the app read from a websocket")

    async def send(message: dict) -> None:  # pragma: no cover - must not be called
        sent.append(message)

    _no_loop(anyio.run, create_asgi_app(make_emu()), {"type": "websocket", "path": "/ws", "headers": []}, receive, send)
    assert sent == []


def test_serve_on_a_busy_port_exits_instead_of_hanging():
    """`serve` on a port something else listens on stops with a non-zero exit, serving nothing."""
    import socket

    from batchcore.emulator.asgi import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(SystemExit) as info:
            _no_loop(serve, make_emu(), port=taken.getsockname()[1], log_level="critical")
    assert info.value.code not in (0, None)


# --- crafted answers (faults ``answer`` and ``answer_after``) ------------------------------

ANSWER_MARKUP = {"type": "https://api.ai-platform.com/problems/x", "title": "**Bold** <script>x</script>",
          "status": 400, "detail": "[l](javascript:x) :material/home: $x$"}


def test_answer_replies_with_the_armed_body_and_processes_nothing(connect):
    """kind answer: exactly the armed status, type, headers and body; nothing billed."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="answer", answer_status=400, answer_body=ANSWER_MARKUP,
                   answer_headers={"x-extra": "1"})
    r = connect(emu).post("/batch/images", json=live(("S1", 1)))
    assert r.status_code == 400 and r.json() == ANSWER_MARKUP
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["x-extra"] == "1"
    assert len(emu.ledger) == 0


def test_answer_after_bills_then_replies_with_the_armed_body(connect):
    """kind answer_after: the request is processed and billed, the answer is the armed one."""
    emu = make_emu()
    emu.faults.add(route="/batch/images", kind="answer_after", answer_status=200,
                   answer_body='{"batch_job": {"id": "../x", "status": "queued"}}',
                   answer_type="application/json")
    r = connect(emu).post("/batch/images", json=live(("S1", 2)))
    assert r.status_code == 200 and json.loads(r.content)["batch_job"]["id"] == "../x"
    assert emu.ledger.units() == 2


def test_an_answer_status_outside_http_is_refused():
    """Arming an answer with a status that is not an HTTP status is a ValueError."""
    with pytest.raises(ValueError):
        make_emu().faults.add(kind="answer", answer_status=1000)


def test_answer_faults_can_be_armed_through_the_control_route():
    """POST /_emulator/faults accepts the answer fields (served-emulator tests arm them so)."""
    from batchcore.emulator import EmulatorTransport

    emu = make_emu()
    with httpx.Client(transport=EmulatorTransport(emu), base_url="https://emulator.local") as c:
        armed = c.post("/_emulator/faults", json={"kind": "answer", "route": "/batch/images",
                                                  "answer_status": 418, "answer_body": "teapot",
                                                  "answer_type": "text/plain"})
        assert armed.status_code == 201
        assert emu.faults.pending[0].answer_status == 418
