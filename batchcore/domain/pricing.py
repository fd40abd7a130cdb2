"""Limits and prices: the numbers every guardrail is built on, and the one money formatter."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

__all__ = [
    "MAX_PROMPT_CHARS",
    "MAX_REF_IMAGES",
    "MAX_ROWS",
    "MAX_SCENE_ID_CHARS",
    "MAX_VARIANTS",
    "MAX_VIDEO_CLIPS",
    "PRICE_PER_IMAGE",
    "VIDEO_CLIP_SECONDS",
    "VIDEO_PRICES",
    "format_money",
    "to_decimal",
    "image_cost",
    "total_images",
    "video_cost",
]

MAX_ROWS = 10
MAX_VARIANTS = 3
MAX_REF_IMAGES = 6
MAX_SCENE_ID_CHARS = 50
MAX_PROMPT_CHARS = 1000
MAX_VIDEO_CLIPS = 50

PRICE_PER_IMAGE = Decimal("0.002")
VIDEO_CLIP_SECONDS = 8
#: Price of one 8-second clip per model (the server's planned ``src/lib/cost.ts``).
VIDEO_PRICES: dict[str, Decimal] = {"veo3": Decimal("0.50"), "veo3_fast": Decimal("0.10")}


class _HasVariants(Protocol):
    variants: int


def total_images(rows: Iterable[_HasVariants]) -> int:
    """How many images a batch makes: the sum of its rows' variants."""
    return sum(row.variants for row in rows)


def image_cost(rows: Iterable[_HasVariants]) -> Decimal:
    """Exact cost of generating ``rows``: $0.002 per image, in ``Decimal``."""
    return PRICE_PER_IMAGE * total_images(rows)


def video_cost(model: str, clips: int) -> Decimal:
    """Exact cost of ``clips`` 8-second clips with ``model`` (``veo3`` or ``veo3_fast``)."""
    try:
        price = VIDEO_PRICES[model]
    except KeyError:
        known = ", ".join(sorted(VIDEO_PRICES))
        raise ValueError(f"Unknown video model {model!r}; choose one of {known}.") from None
    if clips < 0:
        raise ValueError("The clip count cannot be negative.")
    return price * clips


def to_decimal(amount: Decimal | int | str | float) -> Decimal:
    """An exact ``Decimal``; a float (as servers send money) is read through its ``repr``."""
    return Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)


def format_money(amount: Decimal | int | str | float) -> str:
    """Format dollars for people: at least two decimals, up to three, no float noise.

    ``$0.012``, ``$0.50``, ``$1.00``, ``$0.002``; a negative amount gets a leading ``-``.
    Floats (as the server sends them) are read through ``repr`` and rounded to 3 places.
    """
    value = to_decimal(amount).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    if value == value.quantize(Decimal("0.01")):
        value = value.quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,}"
