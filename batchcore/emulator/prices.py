"""The emulator's own price table, transcribed from the server's ``src/lib/cost.ts``.

Deliberately *not* imported from the product (``batchcore.pricing``): the emulator is an
independent witness, so a wrong price in the product shows up as a disagreement with what the
emulator bills instead of being copied into it.

The server computes money in JavaScript floats (``RATES``); the emulator answers those floats
in its JSON, exactly as the server does, and bills its ledger in exact ``Decimal`` amounts
derived from the same rates.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

__all__ = [
    "IMAGE_PRICE",
    "RATES",
    "VIDEO_PRICES",
    "estimate_images",
    "estimate_videos",
    "video_rate",
]

#: ``CostCalculator.rates``: dollars per image, per 8-second veo3 clip, per veo3_fast clip.
RATES: dict[str, float] = {"gemini_image": 0.002, "veo3_preview": 0.50, "veo3_fast": 0.10}

#: Exact prices the ledger bills (the same rates, as dollars and cents): one image, and one
#: 8-second clip by ``veo_model``.
IMAGE_PRICE = Decimal("0.002")
VIDEO_PRICES: dict[str, Decimal] = {"veo3": Decimal("0.50"), "veo3_fast": Decimal("0.10")}


def video_rate(model: str) -> float:
    """``veo_model === 'veo3' ? veo3_preview : veo3_fast`` (the schema allows only these two)."""
    return RATES["veo3_preview"] if model == "veo3" else RATES["veo3_fast"]


def estimate_images(variants: Iterable[int]) -> float:
    """``estimateImageBatch``: a float sum, in row order, of ``variants × 0.002``."""
    total = 0.0
    for count in variants:
        total += count * RATES["gemini_image"]
    return total


def estimate_videos(models: Iterable[str]) -> float:
    """``estimateVideoBatch``: a float sum, in row order, of each clip's model rate."""
    total = 0.0
    for model in models:
        total += video_rate(model)
    return total
