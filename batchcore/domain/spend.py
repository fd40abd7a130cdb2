"""The daily spend cap's rules (pure): how each paid call counts, the one cap check and its
sentence (``cap_refusal``), and reading a cap setting.

The ledger (``batchcore.adapters.store``) counts with ``counted_amount`` and checks with
``cap_refusal`` under its lock before any paid call; the spend view asks the same check.
Counting is deliberately conservative: a call that may have been billed counts at its full
estimated cost, so the cap can be over-counted but never under-counted.

How each submission counts (against the UTC day it was started, except in-flight ones):

========================  ===========================================================
``reserved``/``sent``     *reserved* at its estimated ``cost``, whatever day it started
                          (its bill may land today)
``accepted``              *spent* at its estimated ``cost`` (the server took it: billed),
                          whatever day it started, until its results say more
``completed``/``partial``  *spent*: ``actual_cost`` (our own count) or, when that is
                          unknown, the estimated ``cost``
``failed``                *spent*: ``actual_cost`` if known, else 0 (the server said its
                          rows failed)
``rejected``/``not_sent``  nothing: the server refused it, or it never left
``outcome_unknown``       *spent*: the larger of ``cost`` and ``actual_cost`` (it may
                          have been billed in full; we never assume it was not)
========================  ===========================================================

Negative amounts are treated as 0, so a bogus number can never make room under the cap.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from batchcore.domain.pricing import format_money, to_decimal
from batchcore.domain.workflow import Submission
from batchcore.errors import InputError

__all__ = [
    "DEFAULT_DAILY_CAP",
    "as_utc",
    "cap_refusal",
    "MAX_DAILY_CAP",
    "counted_amount",
    "parse_cap",
    "utc_day",
]

DEFAULT_DAILY_CAP = Decimal("2.00")
#: The highest cap a person may set; a typo such as ``2000`` is refused, not obeyed.
MAX_DAILY_CAP = Decimal("100.00")

_ZERO = Decimal("0")
_CAP_RE = re.compile(r"^\$?\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")


def cap_refusal(cost: Decimal, *, cap: Decimal, committed: Decimal,
                whose: str = "deployment's") -> str:
    """"" when ``cost`` fits under ``cap`` with ``committed`` (spent or reserved today)
    already counted; else why not. The one cap check and its sentence, for every place that
    asks: the store's locked reservation, the Generate gate and the video dialog."""
    if committed + cost <= cap:
        return ""
    left = max(cap - committed, _ZERO)
    return (f"This costs {format_money(cost)}, but only {format_money(left)} is left of the "
            f"{whose} {format_money(cap)} daily spend cap today ({format_money(committed)} "
            "already spent or in flight). Make the batch smaller, or wait until the cap resets "
            "at midnight UTC.")


def parse_cap(text: str | Decimal | int | float | None) -> Decimal:
    """Read a cap such as ``2``, ``2.00``, ``$2.50`` or ``.5``; raise ``InputError`` if bad.

    The cap is in dollars with at most three decimals (prices go down to $0.002), from
    $0.00 (no paid action at all) to ``MAX_DAILY_CAP``.
    """
    if isinstance(text, bool):
        raise InputError(f"The daily cap must be an amount in dollars, such as 2.00; found {text!r}.")
    if isinstance(text, (Decimal, int, float)):
        raw = str(to_decimal(text))
    else:
        raw = (text or "").strip()
    if not raw:
        raise InputError("The daily cap is empty; enter an amount in dollars, such as 2.00.")
    if raw.startswith("-"):
        raise InputError(f"The daily cap cannot be negative; found {raw!r}.")
    match = _CAP_RE.match(raw)
    if not match:
        raise InputError(
            f"The daily cap must be an amount in dollars, such as 2, 2.00 or $2.50; found {raw!r}."
        )
    try:
        value = Decimal(match.group("number"))
    except InvalidOperation:  # pragma: no cover - the pattern only lets plain numbers through
        raise InputError(f"The daily cap {raw!r} is not a number.") from None
    if value != value.quantize(Decimal("0.001")):
        raise InputError(
            f"The daily cap can have at most three decimals (the smallest price is $0.002); "
            f"found {raw!r}."
        )
    if value > MAX_DAILY_CAP:
        raise InputError(
            f"The daily cap can be at most {format_money(MAX_DAILY_CAP)}; found {format_money(value)}."
        )
    return value


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _amount(value: Decimal | None) -> Decimal:
    return _ZERO if value is None or value < 0 else value


def _count(submission: Submission) -> tuple[Decimal, Decimal, Decimal]:
    """(spent, reserved, unconfirmed) of one submission."""
    estimated = _amount(submission.cost)
    actual = None if submission.actual_cost is None else _amount(submission.actual_cost)
    state = submission.state
    if state in ("reserved", "sent", "in_flight"):
        return _ZERO, estimated, _ZERO
    if state == "accepted":
        return max(estimated, actual or _ZERO), _ZERO, _ZERO
    if state in ("rejected", "not_sent"):
        return _ZERO, _ZERO, _ZERO
    if state in ("completed", "partial"):
        return (estimated if actual is None else actual), _ZERO, _ZERO
    if state == "failed":
        return (_ZERO if actual is None else actual), _ZERO, _ZERO
    # outcome_unknown, or any state this module does not know: assume the worst.
    worst = max(estimated, actual or _ZERO)
    return worst, _ZERO, worst


def counted_amount(submission: Submission) -> Decimal:
    """What one submission counts for, spent or reserved, as the cap counts it."""
    spent, reserved, _ = _count(submission)
    return spent + reserved


def utc_day(moment: datetime) -> str:
    """The UTC calendar day of ``moment`` as ``YYYY-MM-DD`` (naive times are taken as UTC)."""
    return as_utc(moment).date().isoformat()
