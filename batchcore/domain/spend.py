"""The daily spend cap of a workspace: what today cost, what is reserved, what is left.

Checked in the core *before* any paid call. Counting is deliberately conservative: a
call that may have been billed counts at its full estimated cost, so the cap can be
over-counted but never under-counted.

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
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import cast

from pydantic import BaseModel, ConfigDict

from batchcore.domain import clock
from batchcore.domain.pricing import format_money, to_decimal
from batchcore.domain.workflow import Gate, Submission, WorkflowState, all_submissions
from batchcore.errors import InputError, SpendCapExceeded

__all__ = [
    "DEFAULT_DAILY_CAP",
    "as_utc",
    "cap_refusal",
    "MAX_DAILY_CAP",
    "SpendDecision",
    "SpendSummary",
    "check_spend",
    "counted_amount",
    "parse_cap",
    "spend_gate",
    "spend_today",
    "utc_day",
    "workspace_cap",
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


class SpendSummary(BaseModel):
    """Today's money (UTC day): ``spent + reserved + left == cap`` while under the cap.

    ``left`` is never below 0 (for display); ``balance`` is the exact ``cap - spent -
    reserved`` and is negative when the workspace is already over its cap.
    ``unconfirmed`` is the part of ``spent`` whose outcome is unknown (maybe billed).
    """

    model_config = ConfigDict(frozen=True)

    spent: Decimal
    reserved: Decimal
    left: Decimal
    cap: Decimal
    unconfirmed: Decimal = _ZERO

    @property
    def balance(self) -> Decimal:
        return self.cap - self.spent - self.reserved

    @property
    def committed(self) -> Decimal:
        """Spent plus reserved: what today already costs or may cost."""
        return self.spent + self.reserved

    def describe(self) -> str:
        """``$0.012 spent, $0.006 in flight, $1.982 left of $2.00 today``."""
        parts = [f"{format_money(self.spent)} spent"]
        if self.reserved:
            parts.append(f"{format_money(self.reserved)} in flight")
        if self.unconfirmed:
            parts.append(f"{format_money(self.unconfirmed)} of it unconfirmed (maybe billed)")
        parts.append(f"{format_money(self.left)} left of {format_money(self.cap)} today")
        return ", ".join(parts)


class SpendDecision(Gate):
    """A :class:`Gate` for one paid action, with the cost and today's summary behind it."""

    cost: Decimal
    summary: SpendSummary


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


def workspace_cap(state: WorkflowState, default: Decimal | str | int | None = None) -> Decimal:
    """The cap stored on the state (a ``daily_cap`` field, once it exists), else ``default``
    (e.g. ``Settings.daily_cap``), else ``DEFAULT_DAILY_CAP``."""
    cap = getattr(state, "daily_cap", None)
    if cap is None:
        cap = default
    return DEFAULT_DAILY_CAP if cap is None else _as_cap(cap)


def _as_cap(cap: Decimal | str | int | float) -> Decimal:
    """Text is read with :func:`parse_cap`; a number only has to be finite and not negative.

    A bad cap fails closed: it raises instead of allowing anything.
    """
    if isinstance(cap, str):
        return parse_cap(cap)
    value = to_decimal(cap)
    if not value.is_finite() or value < 0:
        raise ValueError(f"A spend cap must be a finite amount of at least $0; got {cap!r}.")
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


def spend_today(
    state: WorkflowState | Iterable[Submission],
    now: datetime | None = None,
    cap: Decimal | str | int | float | None = None,
) -> SpendSummary:
    """Today's (UTC) spent, reserved and left under ``cap`` (default: the workspace's cap).

    ``cap`` as text is read with :func:`parse_cap`; as a number it is used as given.
    """
    if hasattr(state, "submissions"):  # a WorkflowState (duck-typed: survives module reloads)
        ws = cast(WorkflowState, state)
        submissions: Iterable[Submission] = all_submissions(ws)
        limit = workspace_cap(ws) if cap is None else _as_cap(cap)
    else:
        submissions = state
        limit = DEFAULT_DAILY_CAP if cap is None else _as_cap(cap)
    today = as_utc(clock.moment(now)).date()
    spent = reserved = unconfirmed = _ZERO
    for submission in submissions:
        s, r, u = _count(submission)
        if not submission.open and as_utc(submission.started_at).date() != today:
            continue
        spent += s
        reserved += r
        unconfirmed += u
    left = max(limit - spent - reserved, _ZERO)
    return SpendSummary(spent=spent, reserved=reserved, left=left, cap=limit, unconfirmed=unconfirmed)


def spend_gate(
    state: WorkflowState | Iterable[Submission],
    cost: Decimal | int | str | float,
    cap: Decimal | str | int | float | None = None,
    now: datetime | None = None,
) -> SpendDecision:
    """May a paid action costing ``cost`` start now? Never raises for a sound cost.

    Allowed exactly when ``spent + reserved + cost <= cap`` for today (UTC).
    """
    amount = to_decimal(cost)
    if amount < 0:
        raise ValueError(f"A cost cannot be negative; got {amount}.")
    summary = spend_today(state, now, cap)
    if summary.committed + amount <= summary.cap:
        return SpendDecision(allowed=True, cost=amount, summary=summary)
    if summary.left == 0:
        code = "cap_reached"
        reason = (
            f"Today's spend cap of {format_money(summary.cap)} is used up "
            f"({summary.describe()}); this would cost {format_money(amount)}. "
            "The cap resets at midnight UTC."
        )
    else:
        code = "over_cap"
        reason = (
            f"This costs {format_money(amount)}, but only {format_money(summary.left)} is left "
            f"of today's {format_money(summary.cap)} spend cap ({summary.describe()}). "
            "Make the batch smaller, or wait until the cap resets at midnight UTC."
        )
    return SpendDecision(allowed=False, code=code, reason=reason, cost=amount, summary=summary)


def check_spend(
    state: WorkflowState | Iterable[Submission],
    cost: Decimal | int | str | float,
    cap: Decimal | str | int | float | None = None,
    now: datetime | None = None,
) -> None:
    """Raise ``SpendCapExceeded`` unless ``cost`` fits under today's cap (call it first)."""
    decision = spend_gate(state, cost, cap, now)
    if not decision:
        raise SpendCapExceeded(decision.reason)
