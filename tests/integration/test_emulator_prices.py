"""The product's prices agree with what the emulator (with its own price table) actually bills."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from batchcore.adapters.client import OrchestratorClient
from batchcore.domain.pricing import PRICE_PER_IMAGE, VIDEO_PRICES, image_cost, video_cost
from batchcore.domain.rows import BatchRow
from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport
from batchcore.wire.models import VideoItem
from tests.conftest import fake_key

BASE = "https://emulator.local"
HASH = "ab" * 32
ROWS = [
    BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=2),
    BatchRow(scene_id="SCENE-002", prompt="Cozy living room with fireplace", variants=3),
    BatchRow(scene_id="SCENE-003", prompt="Home office with plants", variants=1),
]


def _emulator_and_client() -> tuple[Emulator, OrchestratorClient]:
    emu = Emulator(EmulatorConfig(now=lambda: datetime(2025, 3, 4, 12, tzinfo=UTC),
                                  sleep=lambda _s: None, rate_limit_per_minute=0))
    return emu, OrchestratorClient(BASE, fake_key("p"), transport=EmulatorTransport(emu))


def test_live_image_batch_bills_what_the_product_prices():
    """A live batch of 2+3+1 variants bills exactly $0.012, the product's image_cost, row by row at PRICE_PER_IMAGE."""
    emu, client = _emulator_and_client()
    with client:
        dry = client.dry_run_images(ROWS, batch_hash=HASH)
        client.generate_images(ROWS, batch_hash=HASH)
    assert emu.ledger.total("images") == image_cost(ROWS) == Decimal("0.012")
    assert dry.estimated_cost == image_cost(ROWS)
    billed = {(c.scene_id, c.count, c.amount) for c in emu.ledger.charges}
    assert billed == {(r.scene_id, r.variants, PRICE_PER_IMAGE * r.variants) for r in ROWS}


@pytest.mark.parametrize("model", sorted(VIDEO_PRICES))
def test_live_video_clips_bill_their_model_price(model):
    """Every model the product prices is billed by the emulator at exactly the product's price per clip."""
    emu, client = _emulator_and_client()
    clips = [VideoItem(scene_id=f"S{i}", prompt="slow push in", approved_image_url=f"{BASE}/assets/x.png",
                       veo_model=model) for i in range(1, 4)]
    with client:
        client.generate_videos(clips, confirm_count=3, batch_hash=HASH)
    assert emu.ledger.total("videos") == video_cost(model, 3)
    assert [c.amount for c in emu.ledger.charges] == [VIDEO_PRICES[model]] * 3


def test_emulator_prices_exactly_the_models_the_product_offers():
    """A video model the product offers but the emulator does not bill (or the reverse) is a disagreement."""
    from batchcore.emulator import prices as emulator_prices

    assert set(VIDEO_PRICES) == set(emulator_prices.VIDEO_PRICES)
    assert PRICE_PER_IMAGE == emulator_prices.IMAGE_PRICE


def test_emulator_float_rates_match_its_exact_bills():
    """The float rates the emulator answers in estimatedCost (as the server's JavaScript does) equal the Decimal amounts it bills."""
    from batchcore.emulator import prices as emulator_prices

    assert Decimal(repr(emulator_prices.RATES["gemini_image"])) == emulator_prices.IMAGE_PRICE
    for model, price in emulator_prices.VIDEO_PRICES.items():
        assert Decimal(repr(emulator_prices.video_rate(model))) == price
