"""OrchestratorClient against the in-process emulator: what is billed, what is resent, and
that both server shapes normalise to the same models."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import stamina
from PIL import Image

from batchcore.adapters.client import OrchestratorClient
from batchcore.domain.pricing import image_cost
from batchcore.domain.rows import BatchRow
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.errors import (
    ApiError,
    AuthError,
    BudgetExceeded,
    NotImplementedByBackend,
    OutcomeUnknown,
    ResponseFormatError,
)
from batchcore.wire.models import JobStatus, VideoItem, counted_cost, generated_images
from tests.conftest import fake_key

BASE = "https://emulator.local"
HASH = "9e107d9d372bb6826bd81d3542a419d6" * 2
ONE_ROW = [BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=2)]
ROWS = [
    BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=2),
    BatchRow(scene_id="SCENE-002", prompt="Cozy living room with fireplace", variants=3),
    BatchRow(scene_id="SCENE-003", prompt="Home office with plants", variants=1),
]


class Clock:
    """A hand-moved clock for the emulator (no real waiting anywhere)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def no_waiting():
    """stamina's testing mode: up to 4 attempts, no backoff sleeping."""
    with stamina.set_testing(True, attempts=4):
        yield


def make(key: str | None = None, **config) -> tuple[Emulator, OrchestratorClient]:
    clock = Clock()
    emu = Emulator(EmulatorConfig(now=clock, sleep=clock.sleep, **config))
    client = OrchestratorClient(BASE, key or fake_key("e"), transport=EmulatorTransport(emu))
    return emu, client


# --- the must-haves -------------------------------------------------------------------


def test_dry_run_never_charges():
    """A dry-run returns the cost and the ledger stays empty."""
    emu, client = make()
    with client:
        result = client.dry_run_images(ROWS, batch_hash=HASH)
    assert result.batch_id.startswith("batch_")
    assert result.estimated_cost == image_cost(ROWS) == Decimal("0.012")
    assert [i.scene_id for i in result.items] == ["SCENE-001", "SCENE-002", "SCENE-003"]
    assert emu.ledger.charges == [] and emu.ledger.total() == 0


def test_live_timeout_after_accept_is_not_resent_and_billed_once():
    """A live call processed but unanswered raises OutcomeUnknown with the hash; exactly one charge."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="timeout_after_accept", times=1)
    with client, pytest.raises(OutcomeUnknown) as info:
        client.generate_images(ONE_ROW, batch_hash=HASH)
    assert info.value.batch_hash == HASH and HASH in str(info.value)
    assert len(emu.ledger.charges) == 1
    assert emu.ledger.for_hash(HASH) == emu.ledger.charges
    assert emu.ledger.units("images") == 2


def test_429_with_retry_after_is_honoured_and_billed_once():
    """A live call refused with 429 + Retry-After is resent once and billed exactly once."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="429", times=1, retry_after=2)
    with client:
        result = client.generate_images(ONE_ROW, batch_hash=HASH)
    assert len(emu.ledger.charges) == 1
    assert counted_cost(result) == emu.ledger.total() == Decimal("0.004")


def test_connect_refused_on_a_paid_call_is_retried_safely():
    """A live call whose connection was refused is retried and billed exactly once."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="connect_refused", times=2)
    with client:
        result = client.generate_images(ONE_ROW, batch_hash=HASH)
    assert result.status is JobStatus.COMPLETED
    assert len(emu.ledger.charges) == 1


def test_head_and_brief_profiles_normalise_to_the_same_images():
    """The real synchronous shape and the brief's queued-then-polled shape give the same images and cost."""
    head_emu, head = make(profile="head")
    brief_emu, brief = make(profile="brief", seconds_per_step=1.0)
    with head, brief:
        sync = head.generate_images(ROWS, batch_hash=HASH)
        queued = brief.generate_images(ROWS, batch_hash=HASH)
        assert (sync.pending, queued.pending) == (False, True)
        polls = []
        while True:
            status = brief.job_status(queued.batch_id)
            polls.append(status)
            if status.done:
                break
            assert len(polls) < 20
    final = polls[-1]
    assert final.status is JobStatus.COMPLETED and final.progress == 1.0
    assert all(p.progress is not None and 0 <= p.progress <= 1 for p in polls)

    def key(images):
        return [(g.scene_id, g.variant, g.prompt) for g in images]

    assert key(generated_images(sync, ROWS)) == key(generated_images(final, ROWS)) == [
        ("SCENE-001", 1, ROWS[0].prompt), ("SCENE-001", 2, ROWS[0].prompt),
        ("SCENE-002", 1, ROWS[1].prompt), ("SCENE-002", 2, ROWS[1].prompt), ("SCENE-002", 3, ROWS[1].prompt),
        ("SCENE-003", 1, ROWS[2].prompt)]
    assert counted_cost(sync) == counted_cost(final) == head_emu.ledger.total() == brief_emu.ledger.total()


# --- billing truth --------------------------------------------------------------------


def test_counted_cost_matches_the_ledger_not_the_servers_actual_cost():
    """For a live batch our count equals what the emulator billed; the server's actualCost is kept aside."""
    uneven = [BatchRow(scene_id="A", prompt="one", variants=1), BatchRow(scene_id="B", prompt="three", variants=3)]
    emu, client = make()
    with client:
        result = client.generate_images(uneven, batch_hash=HASH)
    assert counted_cost(result) == emu.ledger.total() == Decimal("0.008")
    assert result.reported_actual_cost == Decimal("0.004")  # 2 rows × the first row's 1 variant


def test_partial_failure_bills_only_returned_images():
    """When some rows fail, the failed jobs carry errors and our cost equals the ledger."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="partial", times=1)
    with client:
        result = client.generate_images(ROWS, batch_hash=HASH)
    assert result.partial
    assert [j.scene_id for j in result.failed_jobs] == ["SCENE-002"]
    assert result.failed_jobs[0].error
    assert counted_cost(result) == emu.ledger.total() == Decimal("0.006")


def test_502_html_on_a_paid_call_is_outcome_unknown_and_not_resent():
    """A gateway 502 on a live call is OutcomeUnknown (never resent), so nothing is billed twice."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="502_html", times=1)
    with client, pytest.raises(OutcomeUnknown) as info:
        client.generate_images(ONE_ROW, batch_hash=HASH)
    assert "502 Bad Gateway" in str(info.value) and "<html" not in str(info.value)
    assert emu.ledger.charges == []  # a resend would have gone through and billed


def test_502_html_on_a_dry_run_is_retried():
    """A gateway 502 on a dry-run is retried and succeeds, still without charging."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="502_html", times=2)
    with client:
        assert client.dry_run_images(ONE_ROW, batch_hash=HASH).estimated_cost == Decimal("0.004")
    assert emu.ledger.charges == []


def test_malformed_json_on_a_live_call_warns_it_was_probably_billed():
    """A live call answered with truncated JSON raises ResponseFormatError naming the hash; it was billed once."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="malformed_json", times=1)
    with client, pytest.raises(ResponseFormatError) as info:
        client.generate_images(ONE_ROW, batch_hash=HASH)
    assert HASH in str(info.value) and "billed" in str(info.value)
    assert len(emu.ledger.charges) == 1


def test_unknown_status_word_is_kept():
    """A status word nobody knows becomes JobStatus.UNKNOWN with the raw word kept."""
    emu, client = make()
    emu.faults.add(route="/batch/images", kind="unknown_status", times=1, status="teleporting")
    with client:
        result = client.generate_images(ONE_ROW, batch_hash=HASH)
    assert [(j.status, j.status_word) for j in result.jobs] == [(JobStatus.UNKNOWN, "teleporting")]


# --- errors from the emulator ---------------------------------------------------------


def test_wrong_key_is_an_auth_error_without_the_key():
    """A key the server does not know gives AuthError saying to check the key, without the key."""
    key = fake_key("w")
    emu, client = make(key=key, api_keys=frozenset({fake_key("r")}))
    with client, pytest.raises(AuthError) as info:
        client.dry_run_images(ONE_ROW, batch_hash=HASH)
    assert "check the api key" in str(info.value).lower()
    assert key not in str(info.value) and key not in repr(info.value) and key not in repr(client)


def test_budget_exceeded():
    """A live batch beyond the server's daily budget raises BudgetExceeded and bills nothing."""
    emu, client = make(daily_budget=Decimal("0.003"))
    with client, pytest.raises(BudgetExceeded):
        client.generate_images(ONE_ROW, batch_hash=HASH)
    assert emu.ledger.charges == []


def test_legacy_error_bodies_are_readable():
    """With older {error, message} bodies a bad key is still an AuthError with the server's words."""
    emu, client = make(key="not-a-key", error_style="legacy")
    with client, pytest.raises(AuthError) as info:
        client.dry_run_images(ONE_ROW, batch_hash=HASH)
    assert info.value.status == 401 and info.value.title == "UNAUTHORIZED"
    assert 'must start with "aip_"' in str(info.value)


def test_bad_status_id_is_an_api_error():
    """A status id the server's pattern refuses comes back as a readable 500 ApiError."""
    emu, client = make()
    with client, pytest.raises(ApiError) as info:
        client.job_status("not a job id")
    assert info.value.status == 500


# --- videos, uploads, assets, health --------------------------------------------------


def test_videos_planned_then_polled_to_done():
    """A planned video batch is queued; polling each job gives a done clip URL; the ledger bills each clip."""
    emu, client = make(seconds_per_step=1.0)
    with client:
        image = client.generate_images(ONE_ROW, batch_hash=HASH).jobs[0].images[0]
        clips = [VideoItem(scene_id="SCENE-001", prompt="slow push in", approved_image_url=image.url,
                           veo_model="veo3_fast")]
        batch = client.generate_videos(clips, confirm_count=1, batch_hash=HASH + "v")
        assert batch.pending and len(batch.jobs) == 1
        for _ in range(10):
            status = client.job_status(batch.jobs[0].job_id)
            if status.done:
                break
        assert status.status is JobStatus.COMPLETED and status.outputs
        assert client.fetch_asset(status.outputs[0])
    assert emu.ledger.total("videos") == Decimal("0.10")


def test_videos_501():
    """With today's server behaviour videos raise NotImplementedByBackend and bill nothing."""
    emu, client = make(videos="501")
    clips = [VideoItem(scene_id="A", prompt="p", approved_image_url=f"{BASE}/assets/x.png")]
    with client, pytest.raises(NotImplementedByBackend):
        client.generate_videos(clips, confirm_count=1, batch_hash=HASH)
    assert emu.ledger.charges == []


def test_upload_then_generate_with_the_reference():
    """An uploaded reference's URL can go into a row and the live batch accepts it."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, format="PNG")
    emu, client = make()
    with client:
        refs = client.upload_references([("red.png", buffer.getvalue(), "image/png")])
        assert [r.name for r in refs] == ["red.png"] and refs[0].url
        row = ONE_ROW[0].model_copy(update={"ref_urls": (refs[0].url,)})
        result = client.generate_images([row], batch_hash=HASH)
    assert len(result.images) == 2


def test_fetch_asset_returns_png_bytes_of_a_generated_image_and_thumbnail():
    """fetch_asset gives the bytes of a generated image and its 128×128 thumbnail."""
    emu, client = make()
    with client:
        image = client.generate_images(ONE_ROW, batch_hash=HASH).jobs[0].images[0]
        full = Image.open(io.BytesIO(client.fetch_asset(image.url)))
        thumb = Image.open(io.BytesIO(client.fetch_asset(image.thumbnail_url)))
    assert full.format == "PNG" and thumb.size == (128, 128)


def test_health():
    """/healthz reports healthy."""
    emu, client = make()
    with client:
        assert client.health().ok
