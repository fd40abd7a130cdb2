"""OrchestratorClient's guards: what is refused before sending, how odd answers and failures
read, and which failures are retried. Scripted servers are httpx.MockTransport handlers; money
questions are answered by the in-process emulator's ledger."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import stamina
from stamina.instrumentation import set_on_retry_hooks

from batchcore.adapters.client import OrchestratorClient, image_request
from batchcore.domain.pricing import MAX_REF_IMAGES, MAX_VIDEO_CLIPS
from batchcore.domain.rows import BatchRow
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.errors import InputError, TransportError, UploadError
from batchcore.wire.models import VideoItem
from tests.conftest import fake_key

BASE = "https://orchestrator.test"
HASH = "5eed" * 16
KEY = fake_key("g")
ROW = BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=1)
DRY = {"batchId": "batch_1_ab", "runMode": "dry_run", "estimatedCost": 0.002, "message": "ok",
       "items": [{"scene_id": "SCENE-001", "variants": 1, "estimatedCost": 0.002}]}


class Recorder:
    """A MockTransport handler that records every request it is given, then answers with
    ``answer(request)`` (which may raise to emulate a transport failure)."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self, **kw) -> OrchestratorClient:
        return OrchestratorClient(BASE, KEY, transport=httpx.MockTransport(self), **kw)


def never(request: httpx.Request) -> httpx.Response:  # pragma: no cover - must not be reached
    raise AssertionError(f"nothing should have been sent, but {request.method} {request.url} was")


def emulated() -> tuple[Emulator, OrchestratorClient]:
    emu = Emulator(EmulatorConfig())
    return emu, OrchestratorClient(BASE, KEY, transport=EmulatorTransport(emu))


@pytest.fixture(autouse=True)
def no_waiting():
    """stamina's testing mode: up to 4 attempts, no backoff sleeping."""
    with stamina.set_testing(True, attempts=4):
        yield


@pytest.fixture
def retry_waits():
    """The waits stamina schedules before each retry (one entry per retry)."""
    waits: list[float] = []
    set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    try:
        yield waits
    finally:
        set_on_retry_hooks(None)


def clips(n: int) -> list[VideoItem]:
    return [VideoItem(scene_id=f"S{i}", prompt="push in", approved_image_url=f"https://s/{i}.png")
            for i in range(n)]


# --- refused before anything is sent ---------------------------------------------------


@pytest.mark.parametrize("mode", ["preview", "LIVE", "", "dry-run"])
def test_image_request_refuses_an_unknown_run_mode(mode):
    """A runMode other than dry_run/live is a programming error named in the message."""
    with pytest.raises(ValueError, match="runMode must be 'dry_run' or 'live'") as info:
        image_request([ROW], mode)
    assert repr(mode) in str(info.value)


def test_a_batch_without_rows_is_refused_before_sending():
    """A dry-run of zero rows raises InputError saying there are no rows; the server sees nothing."""
    server = Recorder(never)
    with server.client() as client, pytest.raises(InputError, match="no rows to send"):
        client.dry_run_images([], batch_hash=HASH)
    assert server.requests == []


def test_a_row_with_too_many_references_is_refused_and_nothing_is_billed():
    """A live row with 7 reference images raises InputError naming the scene and the limit of 6; no charge."""
    refs = tuple(f"https://s/ref{i}.png" for i in range(MAX_REF_IMAGES + 1))
    rows = [ROW, BatchRow(scene_id="SCENE-002", prompt="Cozy living room", variants=1, ref_urls=refs)]
    emu, client = emulated()
    with client, pytest.raises(InputError) as info:
        client.generate_images(rows, batch_hash=HASH)
    assert str(info.value) == "Scene SCENE-002 has 7 reference images; the limit is 6."
    assert emu.ledger.charges == []


def test_an_http_reference_is_refused_naming_it_and_nothing_is_billed():
    """A live row with an http:// reference raises InputError naming the scene and reference; no charge."""
    rows = [ROW.model_copy(update={"ref_urls": ("https://s/ok.png", "http://s/plain.png")})]
    emu, client = emulated()
    with client, pytest.raises(InputError) as info:
        client.generate_images(rows, batch_hash=HASH)
    assert str(info.value) == (
        'Scene SCENE-001: Reference 2 ("http://s/plain.png") is not an https:// address; '
        "the server accepts only https:// links. Nothing was sent.")
    assert emu.ledger.charges == []


def test_a_prompt_over_1000_utf16_units_is_refused_before_sending():
    """A row built directly with 999 characters + 1 emoji (1,001 units) never reaches the server."""
    row = BatchRow(scene_id="S1", prompt="x" * 999 + "\U0001f40d", variants=1)
    server = Recorder(never)
    with server.client() as client, pytest.raises(InputError, match="1,001 of 1,000 characters"):
        client.dry_run_images([row], batch_hash=HASH)
    assert server.requests == []


def test_the_orchestrators_own_http_assets_are_sent():
    """A reference served by the orchestrator itself over http (the emulator on loopback) is sent."""
    own = "http://127.0.0.1:8787"
    body = image_request([ROW.model_copy(update={"ref_urls": (f"{own}/assets/r.png",)})], "live",
                         own_base_url=own)
    assert body["items"][0]["ref_pack_public_urls"] == [{"url": f"{own}/assets/r.png"}]


def test_six_references_are_allowed():
    """Exactly MAX_REF_IMAGES references still make a request body, one url object each."""
    refs = tuple(f"https://s/ref{i}.png" for i in range(MAX_REF_IMAGES))
    body = image_request([BatchRow(scene_id="S1", prompt="p", variants=1, ref_urls=refs)], "live")
    assert body["items"][0]["ref_pack_public_urls"] == [{"url": u} for u in refs]


def test_videos_without_clips_are_refused_and_nothing_is_billed():
    """A video call with no approved images raises InputError; the emulator bills nothing."""
    emu, client = emulated()
    with client, pytest.raises(InputError, match="no approved images"):
        client.generate_videos([], confirm_count=0, batch_hash=HASH)
    assert emu.ledger.charges == []


def test_more_clips_than_the_limit_are_refused_even_when_confirmed():
    """51 clips, even with confirmCount 51, raise InputError naming the limit of 50; nothing is sent."""
    server = Recorder(never)
    too_many = clips(MAX_VIDEO_CLIPS + 1)
    with server.client() as client, pytest.raises(InputError) as info:
        client.generate_videos(too_many, confirm_count=len(too_many), batch_hash=HASH)
    assert str(info.value) == "A video batch holds at most 50 clips; this one has 51."
    assert server.requests == []


@pytest.mark.parametrize("base_url", ["", None])
def test_a_client_needs_a_base_url(base_url):
    """Building a client without a base URL fails at once with 'base_url is required'."""
    with pytest.raises(ValueError, match="base_url is required"):
        OrchestratorClient(base_url, KEY)  # type: ignore[arg-type]


def test_status_without_a_job_id_is_refused_before_sending():
    """job_status('') raises InputError instead of asking GET /status/ (another route)."""
    server = Recorder(never)
    with server.client() as client, pytest.raises(InputError, match="no job id"):
        client.job_status("")
    assert server.requests == []


def test_uploading_no_files_sends_nothing():
    """upload_references([]) returns an empty list without calling the server."""
    server = Recorder(never)
    with server.client() as client:
        assert client.upload_references([]) == []
    assert server.requests == []


def test_loading_an_empty_url_is_refused():
    """fetch_asset('') raises InputError instead of fetching the orchestrator's root page."""
    server = Recorder(never)
    with server.client() as client, pytest.raises(InputError, match="no URL to load"):
        client.fetch_asset("")
    assert server.requests == []


# --- answers that cannot be used -------------------------------------------------------


def test_upload_answered_success_false_is_an_upload_error_with_the_servers_reason():
    """A 200 saying success:false raises UploadError quoting the server's message (key scrubbed)."""
    server = Recorder(lambda r: httpx.Response(
        200, json={"success": False, "message": f"bucket quota exceeded for {r.headers['x-api-key']}"}))
    with server.client() as client, pytest.raises(UploadError) as info:
        client.upload_references([("a.png", b"PNG", "image/png")])
    message = str(info.value)
    assert message.startswith("Uploading the reference images failed.")
    assert "did not succeed: bucket quota exceeded for [redacted]" in message
    assert KEY not in message
    assert len(server.requests) == 1


def test_upload_answered_success_false_without_a_reason_says_so():
    """A bare success:false reads 'no reason given' rather than an empty sentence."""
    server = Recorder(lambda r: httpx.Response(200, json={"success": False}))
    with server.client() as client, pytest.raises(UploadError, match="did not succeed: no reason given"):
        client.upload_references([("a.png", b"PNG", "image/png")])


def test_upload_storing_fewer_images_than_sent_attaches_nothing():
    """Two files sent, one stored: UploadError '1 of the 2 … nothing was attached' instead of a short list."""
    one = {"success": True, "images": [{"originalName": "a.png", "url": "https://s/a.png", "mimeType": "image/png"}]}
    server = Recorder(lambda r: httpx.Response(200, json=one))
    with server.client() as client, pytest.raises(UploadError) as info:
        client.upload_references([("a.png", b"PNG", "image/png"), ("b.png", b"PNG2", "image/png")])
    assert "stored 1 of the 2 reference images sent; nothing was attached" in str(info.value)
    assert len(server.requests) == 1  # an upload is not resent: it would store the files twice


# --- transport failures and retries ----------------------------------------------------


def test_asset_that_cannot_be_reached_names_the_file_but_not_its_signature():
    """A connect failure loading a signed URL raises TransportError naming host and path, never the query."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    server = Recorder(refuse)
    with server.client() as client, pytest.raises(TransportError) as info:
        client.fetch_asset("https://storage.example/refs/a.png?X-Goog-Signature=sig-secret-123")
    message = str(info.value)
    assert message.startswith("Could not load the file at storage.example/refs/a.png: Could not connect")
    assert "sig-secret-123" not in message and "X-Goog" not in message
    assert len(server.requests) == 4  # nothing reached the server: safe to try again
    assert all("x-api-key" not in r.headers for r in server.requests)


def test_429_without_retry_after_is_retried_with_the_default_backoff(retry_waits):
    """A dry-run answered 429 with no Retry-After is retried after the default backoff and succeeds."""
    answers = iter([httpx.Response(429, json={"error": "RATE_LIMITED", "message": "slow down"}),
                    httpx.Response(200, json=DRY)])
    server = Recorder(lambda r: next(answers))
    with server.client() as client:
        assert client.dry_run_images([ROW], batch_hash=HASH).batch_id == "batch_1_ab"
    assert len(server.requests) == 2
    assert len(retry_waits) == 1 and retry_waits[0] >= 0


def test_a_base_url_with_an_unsupported_scheme_is_not_retried(retry_waits):
    """ORCHESTRATOR_URL set to ftp://… fails once with 'could not be sent' and no retry (hopeless)."""
    with OrchestratorClient("ftp://orchestrator.test", KEY) as client, pytest.raises(TransportError) as info:
        client.health()
    message = str(info.value)
    assert message.startswith("The health check request could not be sent to orchestrator.test (UnsupportedProtocol:")
    assert "tries" not in message
    assert retry_waits == []


def test_a_failure_that_is_not_an_http_failure_is_raised_as_is_and_not_retried(retry_waits):
    """An unexpected error inside the transport (a bug, not the network) propagates unchanged after one try."""
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("transport bug")

    server = Recorder(broken)
    with server.client() as client, pytest.raises(RuntimeError, match="transport bug"):
        client.dry_run_images([ROW], batch_hash=HASH)
    assert len(server.requests) == 1
    assert retry_waits == []
