"""OrchestratorClient against small scripted servers (httpx.MockTransport): requests, retries,
money safety and secrecy of the key."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
import stamina
from stamina.instrumentation import set_on_retry_hooks

from batchcore.adapters.client import OrchestratorClient
from batchcore.domain.rows import BatchRow
from batchcore.errors import (
    ApiError,
    AuthError,
    ConfirmationMismatch,
    InputError,
    NotImplementedByBackend,
    OutcomeUnknown,
    RateLimited,
    ResponseFormatError,
    TransportError,
    UploadError,
)
from batchcore.wire.models import JobStatus, VideoItem, counted_cost, generated_images
from tests.conftest import fake_key

BASE = "https://orchestrator.test"
HASH = "3f1c0ffee0ddba11" * 4
KEY = fake_key("t")
ROWS = [
    BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=2),
    BatchRow(scene_id="SCENE-002", prompt="Cozy living room", variants=1, ref_urls=("https://s/ref.png",)),
]

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Server:
    """A scripted server: each request takes the next answer (the last one repeats).

    ``received`` lists the requests that reached it (an exception raised *before* the
    request is "received" — connect failures — is not counted; one raised after is)."""

    def __init__(self, *answers: Answer, not_received: tuple[type[Exception], ...] = (httpx.ConnectError,)):
        self.answers = list(answers)
        self.received: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.not_received = not_received
        self.processed = 0  # requests answered 2xx, i.e. actually carried out

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            if not isinstance(answer, self.not_received):
                self.received.append(request)
                self.bodies.append(request.read())
            raise type(answer)(str(answer), request=request)
        self.received.append(request)
        self.bodies.append(request.read())
        response = answer(request) if callable(answer) else answer
        if response.is_success:
            self.processed += 1
        return response

    def client(self, **kw) -> OrchestratorClient:
        return OrchestratorClient(BASE, KEY, transport=httpx.MockTransport(self), **kw)


def ok(payload) -> httpx.Response:
    return httpx.Response(200, json=payload)


DRY = {"batchId": "batch_1_ab", "runMode": "dry_run", "estimatedCost": 0.006, "message": "ok",
       "items": [{"scene_id": "SCENE-001", "variants": 2, "estimatedCost": 0.004},
                 {"scene_id": "SCENE-002", "variants": 1, "estimatedCost": 0.002}]}
LIVE = {"batchId": "batch_1_ab", "runMode": "live", "estimatedCost": 0.006, "actualCost": 0.008,
        "accepted": 2, "rejected": [],
        "jobs": [{"jobId": "batch_1_ab_SCENE-001_0", "sceneId": "SCENE-001", "status": "completed"},
                 {"jobId": "batch_1_ab_SCENE-002_1", "sceneId": "SCENE-002", "status": "completed"}],
        "results": [{"sceneId": "SCENE-001", "images": [{"signedUrl": "https://s/1a.png", "thumbnailUrl": "https://s/1a_t.png"},
                                                        {"signedUrl": "https://s/1b.png", "thumbnailUrl": "https://s/1b_t.png"}]},
                    {"sceneId": "SCENE-002", "images": [{"signedUrl": "https://s/2a.png", "thumbnailUrl": "https://s/2a_t.png"}]}]}


def problem(status: int, title: str, detail: str = "", **headers: str) -> httpx.Response:
    body = {"type": "https://api.ai-platform.com/problems/x", "title": title, "status": status, "instance": "/"}
    if detail:
        body["detail"] = detail
    return httpx.Response(status, headers={"content-type": "application/problem+json", **headers},
                          content=json.dumps(body).encode())


@pytest.fixture(autouse=True)
def no_waiting():
    """stamina's testing mode: up to 4 attempts, no backoff sleeping."""
    with stamina.set_testing(True, attempts=4):
        yield


# --- the requests ---------------------------------------------------------------------


def test_dry_run_sends_exactly_the_schema_and_headers():
    """A dry-run body has only scene_id/prompt/variants (+ref urls when present) and runMode; key and hash go in headers."""
    server = Server(ok(DRY))
    with server.client() as client:
        result = client.dry_run_images(ROWS, batch_hash=HASH)
    request = server.received[0]
    assert (request.method, request.url.path) == ("POST", "/batch/images")
    assert json.loads(server.bodies[0]) == {"runMode": "dry_run", "items": [
        {"scene_id": "SCENE-001", "prompt": "Modern kitchen with morning light", "variants": 2},
        {"scene_id": "SCENE-002", "prompt": "Cozy living room", "variants": 1,
         "ref_pack_public_urls": [{"url": "https://s/ref.png"}]}]}
    assert request.headers["x-api-key"] == KEY
    assert request.headers["x-batch-hash"] == HASH
    assert result.estimated_cost == Decimal("0.006")


def test_live_call_normalises_and_counts_its_own_cost():
    """A live call returns jobs with numbered images; our cost is 3 images × $0.002, not actualCost."""
    server = Server(ok(LIVE))
    with server.client() as client:
        result = client.generate_images(ROWS, batch_hash=HASH)
    assert json.loads(server.bodies[0])["runMode"] == "live"
    assert counted_cost(result) == Decimal("0.006") and result.reported_actual_cost == Decimal("0.008")
    images = generated_images(result, ROWS)
    assert [(g.scene_id, g.variant, g.prompt) for g in images] == [
        ("SCENE-001", 1, "Modern kitchen with morning light"), ("SCENE-001", 2, "Modern kitchen with morning light"),
        ("SCENE-002", 1, "Cozy living room")]


def test_live_call_uses_the_long_read_timeout():
    """The paid synchronous call waits up to live_read_timeout; ordinary calls use read_timeout."""
    server = Server(ok(LIVE))
    with server.client(read_timeout=12, live_read_timeout=777, connect_timeout=3) as client:
        client.generate_images(ROWS, batch_hash=HASH)
        server.answers = [ok(DRY)]
        client.dry_run_images(ROWS, batch_hash=HASH)
    live, dry = (r.extensions["timeout"] for r in server.received)
    assert (live["read"], live["connect"]) == (777, 3)
    assert (dry["read"], dry["connect"]) == (12, 3)


def test_health_sends_no_key():
    """/healthz is called without the key (it needs none)."""
    server = Server(ok({"status": "healthy", "service": "orchestrator", "version": "1"}))
    with server.client() as client:
        assert client.health().ok
    assert "x-api-key" not in server.received[0].headers
    assert server.received[0].url.query == b""


def test_too_many_rows_are_refused_before_sending():
    """Eleven rows raise InputError and nothing reaches the server."""
    server = Server(ok(DRY))
    rows = [BatchRow(scene_id=f"S{i}", prompt="p", variants=1) for i in range(11)]
    with server.client() as client, pytest.raises(InputError):
        client.dry_run_images(rows, batch_hash=HASH)
    assert server.received == []


def test_job_status_quotes_the_id_and_polls_the_brief_shape():
    """job_status asks /status/<id> and reads the brief's {status, progress, results}."""
    server = Server(ok({"status": "processing", "progress": 40, "results": []}))
    with server.client() as client:
        status = client.job_status("job_1/../x")
    assert server.received[0].url.raw_path == b"/status/job_1%2F..%2Fx"
    assert (status.status, status.progress, status.job_id) == (JobStatus.RUNNING, 0.4, "job_1/../x")


# --- free calls are retried -----------------------------------------------------------


def test_free_call_is_retried_after_a_502_html_page():
    """A dry-run answered 502 (HTML) then 200 succeeds on the retry."""
    server = Server(httpx.Response(502, headers={"content-type": "text/html"}, content=b"<html>bad</html>"), ok(DRY))
    with server.client() as client:
        assert client.dry_run_images(ROWS, batch_hash=HASH).batch_id == "batch_1_ab"
    assert len(server.received) == 2


def test_free_call_gives_up_with_a_transport_error_after_timeouts():
    """A status call that always times out ends as TransportError after the allowed attempts."""
    server = Server(httpx.ReadTimeout("timed out"))
    with server.client() as client, pytest.raises(TransportError) as info:
        client.job_status("job_1_abc")
    assert len(server.received) == 4
    assert "did not answer" in str(info.value)


def test_free_call_502_after_all_attempts_is_an_api_error():
    """A health check answered 503 every time ends as ApiError(503) with a readable message."""
    server = Server(problem(503, "Service Unavailable", "Try later"))
    with server.client() as client, pytest.raises(ApiError) as info:
        client.health()
    assert info.value.status == 503 and "Try later" in str(info.value)


def test_client_errors_are_not_retried():
    """A 400 schema error is not retried: the server sees the request once."""
    server = Server(problem(400, "Invalid Request Schema", "Request does not match expected schema"))
    with server.client() as client, pytest.raises(ApiError):
        client.dry_run_images(ROWS, batch_hash=HASH)
    assert len(server.received) == 1


# --- paid calls are never resent once sent -------------------------------------------


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("timed out"),
                                     httpx.RemoteProtocolError("Server disconnected without sending a response."),
                                     httpx.ReadError("connection reset")])
def test_paid_call_failing_after_sending_is_outcome_unknown_and_not_resent(failure):
    """A live call that fails after sending raises OutcomeUnknown naming the hash; the server got it once."""
    server = Server(failure, ok(LIVE))
    with server.client() as client, pytest.raises(OutcomeUnknown) as info:
        client.generate_images(ROWS, batch_hash=HASH)
    assert len(server.received) == 1
    assert info.value.batch_hash == HASH
    assert HASH in str(info.value) and "billed" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_paid_call_answered_5xx_is_outcome_unknown_and_not_resent(status):
    """A live call answered with a server error may have been processed: OutcomeUnknown, sent once."""
    server = Server(problem(status, "Internal Error"), ok(LIVE))
    with server.client() as client, pytest.raises(OutcomeUnknown) as info:
        client.generate_images(ROWS, batch_hash=HASH)
    assert len(server.received) == 1
    assert info.value.batch_hash == HASH and str(status) in str(info.value)


def test_paid_call_is_retried_after_connect_refused():
    """A live call whose connection was refused is retried and goes through exactly once."""
    server = Server(httpx.ConnectError("[Errno 111] Connection refused"), ok(LIVE))
    with server.client() as client:
        result = client.generate_images(ROWS, batch_hash=HASH)
    assert len(server.received) == 1
    assert result.batch_id == "batch_1_ab"


def test_paid_call_that_never_connects_is_a_transport_error_saying_nothing_was_billed():
    """A live call that can never connect raises TransportError saying nothing was billed."""
    server = Server(httpx.ConnectError("[Errno 111] Connection refused"))
    with server.client() as client, pytest.raises(TransportError) as info:
        client.generate_images(ROWS, batch_hash=HASH)
    assert server.received == []
    assert "nothing was billed" in str(info.value)


def test_paid_call_is_retried_after_429_and_goes_through_once():
    """A live call answered 429 is resent (the limiter refused it) and processed once."""
    server = Server(problem(429, "Too Many Requests", **{"Retry-After": "1"}), ok(LIVE))
    with server.client() as client:
        result = client.generate_images(ROWS, batch_hash=HASH)
    assert (len(server.received), server.processed) == (2, 1)
    assert result.batch_id == "batch_1_ab"


def test_retry_after_sets_the_wait():
    """The wait before retrying a 429 is exactly the server's Retry-After (here 0.01 s)."""
    waits: list[float] = []
    server = Server(problem(429, "Too Many Requests", **{"Retry-After": "0.01"}), ok(DRY))
    set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    try:
        with stamina.set_testing(False), server.client() as client:
            client.dry_run_images(ROWS, batch_hash=HASH)
    finally:
        set_on_retry_hooks(None)
    assert waits == [0.01]


def test_retry_after_longer_than_the_retry_budget_is_not_waited():
    """A 429 asking to wait longer than retry_timeout is raised as RateLimited at once."""
    server = Server(problem(429, "Too Many Requests", **{"Retry-After": "3600"}), ok(LIVE))
    with server.client(retry_timeout=60) as client, pytest.raises(RateLimited) as info:
        client.generate_images(ROWS, batch_hash=HASH)
    assert info.value.retry_after == 3600 and len(server.received) == 1


def test_paid_malformed_200_is_a_response_format_error_that_warns_about_billing():
    """A live call answered 200 with broken JSON raises ResponseFormatError naming the hash."""
    server = Server(httpx.Response(200, headers={"content-type": "application/json"}, content=b'{"batchId": "b", "jobs": ['))
    with server.client() as client, pytest.raises(ResponseFormatError) as info:
        client.generate_images(ROWS, batch_hash=HASH)
    assert HASH in str(info.value) and "billed" in str(info.value)
    assert len(server.received) == 1


def test_paid_call_needs_a_hash():
    """A live call without a batch hash is refused before anything is sent."""
    server = Server(ok(LIVE))
    with server.client() as client, pytest.raises(ValueError):
        client.generate_images(ROWS, batch_hash="")
    assert server.received == []


# --- videos ---------------------------------------------------------------------------

CLIPS = [VideoItem(scene_id="SCENE-001", prompt="push in", approved_image_url="https://s/1a.png", veo_model="veo3_fast"),
         VideoItem(scene_id="SCENE-002", prompt="pan left", approved_image_url="https://s/2a.png", veo_model="veo3_fast",
                   aspect="9:16", resolution=1080)]


def test_video_body_is_exact():
    """The video body has items with every schema field, runMode live and confirmCount."""
    server = Server(ok({"batch_job": {"id": "vb_1", "status": "queued", "videos": []}}))
    with server.client() as client:
        result = client.generate_videos(CLIPS, confirm_count=2, batch_hash=HASH)
    assert json.loads(server.bodies[0]) == {"runMode": "live", "confirmCount": 2, "items": [
        {"scene_id": "SCENE-001", "prompt": "push in", "approved_image_url": "https://s/1a.png",
         "veo_model": "veo3_fast", "aspect": "16:9", "resolution": 720, "duration_s": 8, "fps": 24},
        {"scene_id": "SCENE-002", "prompt": "pan left", "approved_image_url": "https://s/2a.png",
         "veo_model": "veo3_fast", "aspect": "9:16", "resolution": 1080, "duration_s": 8, "fps": 24}]}
    assert result.pending and server.received[0].headers["x-batch-hash"] == HASH


def test_video_confirmation_must_match_the_clip_count():
    """A confirm count other than the number of clips raises ConfirmationMismatch; nothing is sent."""
    server = Server(ok({}))
    with server.client() as client, pytest.raises(ConfirmationMismatch):
        client.generate_videos(CLIPS, confirm_count=3, batch_hash=HASH)
    assert server.received == []


def test_videos_501_is_not_implemented():
    """Today's server answers videos 501: NotImplementedByBackend, not OutcomeUnknown."""
    server = Server(problem(501, "Not Implemented", "Video generation is not yet implemented"))
    with server.client() as client, pytest.raises(NotImplementedByBackend) as info:
        client.generate_videos(CLIPS, confirm_count=2, batch_hash=HASH)
    assert "not yet implemented" in str(info.value)


# --- uploads and assets ---------------------------------------------------------------


def test_upload_sends_multipart_images_and_returns_refs():
    """Reference files go as multipart field "images" and come back as UploadedRefs in order."""
    server = Server(ok({"success": True, "batchId": "u", "totalSize": 6, "images": [
        {"originalName": "a.png", "url": "https://s/a.png", "thumbnailUrl": "https://s/a_t.png", "gcsUri": "gs://b/a",
         "size": 3, "mimeType": "image/png"},
        {"originalName": "b.jpg", "url": "https://s/b.jpg", "gcsUri": "gs://b/b", "size": 3, "mimeType": "image/jpeg"}]}))
    with server.client() as client:
        refs = client.upload_references([("a.png", b"PNG", "image/png"), ("b.jpg", b"JPG", "image/jpeg")])
    body = server.bodies[0]
    assert server.received[0].headers["content-type"].startswith("multipart/form-data")
    assert body.count(b'name="images"') == 2 and b'filename="a.png"' in body and b"JPG" in body
    assert [(r.name, r.url, r.mime) for r in refs] == [("a.png", "https://s/a.png", "image/png"),
                                                      ("b.jpg", "https://s/b.jpg", "image/jpeg")]


def test_upload_failure_is_an_upload_error_but_a_bad_key_stays_an_auth_error():
    """A 500 on upload raises UploadError; a 401 raises AuthError."""
    with Server(problem(500, "Internal Error")).client() as client, pytest.raises(UploadError):
        client.upload_references([("a.png", b"PNG", "image/png")])
    with Server(problem(401, "Invalid API Key")).client() as client, pytest.raises(AuthError):
        client.upload_references([("a.png", b"PNG", "image/png")])


def test_fetch_asset_sends_the_key_only_to_the_orchestrator_host():
    """Assets on the orchestrator's host get the key; assets anywhere else never do."""
    server = Server(httpx.Response(200, content=b"\x89PNG"))
    with server.client() as client:
        assert client.fetch_asset(f"{BASE}/assets/a.png") == b"\x89PNG"
        assert client.fetch_asset("/assets/b.png") == b"\x89PNG"
        assert client.fetch_asset("https://storage.example/c.png?X-Goog-Signature=abc") == b"\x89PNG"
        assert client.fetch_asset("https://orchestrator.test.evil.example/d.png") == b"\x89PNG"
    keys = [r.headers.get("x-api-key") for r in server.received]
    assert keys == [KEY, KEY, None, None]


def test_fetch_asset_404_says_the_link_may_have_expired_without_the_signature():
    """A missing asset raises ApiError explaining expiry, without the URL's signature."""
    server = Server(httpx.Response(403, text="AccessDenied"))
    with server.client() as client, pytest.raises(ApiError) as info:
        client.fetch_asset("https://storage.example/c.png?X-Goog-Signature=secret123")
    assert not isinstance(info.value, AuthError)
    assert "expire" in str(info.value) and "secret123" not in str(info.value)


# --- the key stays secret -------------------------------------------------------------


def test_the_key_is_in_no_repr_message_or_log_line(caplog):
    """Across many failures (some echoing the key back) the key appears in no message, repr or log."""
    caplog.set_level(logging.DEBUG)
    echo = lambda r: httpx.Response(401, text=f"bad key {r.headers['x-api-key']}")  # noqa: E731
    scripts: list[tuple[Answer, Callable[[OrchestratorClient], object]]] = [
        (echo, lambda c: c.dry_run_images(ROWS, batch_hash=HASH)),
        (lambda r: httpx.Response(500, json={"error": "E", "message": r.headers["x-api-key"]}),
         lambda c: c.generate_images(ROWS, batch_hash=HASH)),
        (lambda r: httpx.Response(502, text=f"<html><title>{r.headers['x-api-key']}</title></html>"),
         lambda c: c.job_status("job_1_a")),
        (httpx.ReadTimeout(f"timed out for {KEY}"), lambda c: c.generate_images(ROWS, batch_hash=HASH)),
        (httpx.ConnectError(f"refused {KEY}"), lambda c: c.health()),
        (lambda r: httpx.Response(200, text=f"not json {KEY}"), lambda c: c.generate_images(ROWS, batch_hash=HASH)),
        (lambda r: httpx.Response(429, text=KEY, headers={"Retry-After": "0"}), lambda c: c.dry_run_images(ROWS, batch_hash=HASH)),
        (echo, lambda c: c.upload_references([("a.png", b"x", "image/png")])),
        (lambda r: httpx.Response(500, text=KEY), lambda c: c.upload_references([("a.png", b"x", "image/png")])),
    ]
    seen: list[str] = []
    for answer, call in scripts:
        client = Server(answer).client()
        seen += [repr(client), str(client)]
        with pytest.raises(Exception) as info:
            call(client)
        exc = info.value
        seen += [str(exc), repr(exc)] + [str(getattr(exc, a, "")) for a in ("title", "detail", "type")]
        assert exc.__context__ is None or KEY not in repr(exc.__context__)
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(vars(record)) for record in caplog.records]  # extras too (stamina logs its cause)
    assert any(record.name == "stamina" for record in caplog.records)
    assert all(KEY not in text for text in seen)
    assert any("[redacted]" in text for text in seen)
