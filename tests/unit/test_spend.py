"""The daily spend cap: counting today's spend conservatively and refusing what passes the cap."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.spend import (
    MAX_DAILY_CAP,
    cap_refusal,
    counted_amount,
    parse_cap,
    utc_day,
)
from batchcore.domain.pricing import format_money
from batchcore.domain.workflow import Submission, WorkflowState
from batchcore.errors import InputError

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
YESTERDAY = NOW - timedelta(days=1)


def sub(state="completed", cost="0.006", actual=None, at=NOW, kind="images", key=None):
    return Submission(batch_hash=key or f"h-{state}-{cost}-{actual}-{at}", kind=kind, state=state,
                      cost=Decimal(cost), started_at=at,
                      actual_cost=None if actual is None else Decimal(actual))


def ws(*subs):
    return WorkflowState(submissions={s.batch_hash: s for s in subs})


# --- parse_cap ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2", Decimal("2")), ("2.00", Decimal("2.00")), ("$2.50", Decimal("2.50")),
    (" $ 3 ", Decimal("3")), (".5", Decimal("0.5")), ("0", Decimal("0")), ("1.", Decimal("1")),
    ("0.002", Decimal("0.002")), ("100", Decimal("100")), (Decimal("1.5"), Decimal("1.5")),
    (3, Decimal("3")), (2.5, Decimal("2.5")),
])
def test_parse_cap_reads_dollar_amounts(text, expected):
    """Plain, decimal and $-prefixed amounts (and numbers) are read exactly."""
    assert parse_cap(text) == expected


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("   ", "empty"), (None, "empty"), ("-1", "negative"),
    ("two", "such as 2"), ("2,5", "such as 2"), ("1e3", "such as 2"), ("$", "such as 2"),
    ("NaN", "such as 2"), ("0.0001", "three decimals"), ("101", "at most $100.00"),
    (True, "amount in dollars"), ("2 USD", "such as 2"),
])
def test_parse_cap_refuses_bad_text_with_a_clear_error(text, words):
    """Empty, negative, non-numeric, too precise or too large caps are refused, saying why."""
    with pytest.raises(InputError, match=None) as info:
        parse_cap(text)
    assert words in str(info.value)


@given(st.decimals(min_value=0, max_value=MAX_DAILY_CAP, places=3, allow_nan=False))
def test_parse_cap_round_trips_any_valid_amount(amount):
    """Any amount from $0 to the maximum, written plainly or with $, reads back the same."""
    assert parse_cap(str(amount)) == amount
    assert parse_cap(f"${amount}") == amount


@given(st.text(max_size=12))
def test_parse_cap_either_returns_a_valid_cap_or_raises_input_error(text):
    """Arbitrary text never yields a cap outside 0..MAX nor an unexpected exception."""
    try:
        cap = parse_cap(text)
    except InputError:
        return
    assert Decimal(0) <= cap <= MAX_DAILY_CAP


# --- how each paid call counts (counted_amount, what the ledger sums) ----------------------


def test_each_state_counts_as_documented():
    """Completed uses our count, in-flight its estimate, failed-unbilled 0, unknown in full."""
    cases = [
        (sub("completed", "0.006", actual="0.004"), "0.004"),
        (sub("partial", "0.006"), "0.006"),                  # our count unknown: the estimate
        (sub("failed", "0.010"), "0"),                       # refused, nothing billed
        (sub("failed", "0.012", actual="0.002"), "0.002"),   # failed, but 1 image counted
        (sub("outcome_unknown", "0.020"), "0.020"),          # may have been billed in full
        (sub("outcome_unknown", "0.004", actual="0.002"), "0.004"),  # still the whole estimate
        (sub("in_flight", "0.030"), "0.030"),
        (sub("accepted", "0.006", actual="0.002"), "0.006"),  # taken: billed, at least the estimate
        (sub("rejected", "0.030"), "0"),
        (sub("not_sent", "0.030"), "0"),
    ]
    for submission, counted in cases:
        assert counted_amount(submission) == Decimal(counted), submission.state


def test_negative_amounts_never_make_room():
    """A bogus negative cost or actual cost counts as 0, never as a refund."""
    for bogus in (sub("completed", "-1.00"), sub("completed", "0.5", actual="-0.5"),
                  sub("in_flight", "-3")):
        assert counted_amount(bogus) == 0


def test_an_unknown_submission_state_is_counted_in_full():
    """A state this module does not know is assumed billed in full (conservative)."""
    odd = Submission.model_construct(batch_hash="x", kind="images", state="cancelled",
                                     cost=Decimal("0.3"), started_at=NOW, actual_cost=None)
    assert counted_amount(odd) == Decimal("0.3")


def test_the_day_is_the_utc_day_even_for_other_timezones_and_naive_times():
    """A call at 23:30 UTC the day before is that day, however the time is written."""
    plus2 = timezone(timedelta(hours=2))
    assert utc_day(datetime(2026, 11, 23, 23, 30)) == "2026-11-23"  # naive: taken as UTC
    assert utc_day(datetime(2026, 11, 24, 1, 0, tzinfo=plus2)) == "2026-11-23"
    assert utc_day(datetime(2026, 11, 24, 0, 0)) == "2026-11-24"


# --- properties -----------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=3, places=3, allow_nan=False, allow_infinity=False)
states = st.sampled_from(["in_flight", "completed", "partial", "failed", "outcome_unknown"])
caps = st.decimals(min_value=0, max_value=MAX_DAILY_CAP, places=2, allow_nan=False)


@given(states, money, st.none() | money)
def test_a_maybe_billed_call_never_counts_less_than_its_estimate(state, cost, actual):
    """In flight or of unknown outcome, a call counts at least its estimate; nothing counts
    below 0."""
    counted = counted_amount(Submission(batch_hash="h", kind="images", state=state, cost=cost,
                                        actual_cost=actual, started_at=NOW))
    assert counted >= 0
    if state in ("in_flight", "outcome_unknown"):
        assert counted >= cost


@given(st.lists(st.tuples(money, states, st.none() | money), max_size=25), caps)
def test_the_cap_check_never_lets_the_days_total_pass_the_cap(attempts, cap):
    """Starting only what cap_refusal allows keeps the counted total <= cap, whatever the
    calls come to (our own count never exceeds the estimate: we pay per image asked for)."""
    subs: list[Submission] = []
    for i, (cost, outcome, actual) in enumerate(attempts):
        total = sum((counted_amount(s) for s in subs), Decimal(0))
        if not cap_refusal(cost, cap=cap, committed=total):
            billed = None if actual is None else min(actual, cost)
            subs.append(Submission(batch_hash=f"h{i}", kind="images", state=outcome, cost=cost,
                                   actual_cost=billed, started_at=NOW))
        assert sum((counted_amount(s) for s in subs), Decimal(0)) <= cap


def test_a_batch_generated_twice_counts_both_runs():
    """Generating the same batch again (after a new dry-run) keeps the first run's spend counted."""
    from batchcore.domain.rows import BatchRow, ParseResult
    from batchcore.domain.workflow import (
        all_submissions,
        begin_image_submission,
        finish_submission,
        make_receipt,
        record_dry_run,
        with_draft,
    )

    now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    rows = [BatchRow(scene_id="S1", prompt="kitchen", variants=2)]
    state = with_draft(WorkflowState(), "batch", ParseResult(rows=rows, errors=[]))
    for _ in range(2):
        receipt = make_receipt("batch", rows, now=now)
        state = record_dry_run(state, receipt)
        state, _ = begin_image_submission(state, receipt.batch_hash, now)
        state = finish_submission(state, receipt.batch_hash, "completed",
                                  actual_cost=Decimal("0.004"), now=now)
    assert len(all_submissions(state)) == 2
    assert sum(counted_amount(s) for s in all_submissions(state)) == Decimal("0.008")


@given(st.decimals(min_value=0, max_value=100, places=3),
       st.decimals(min_value=0, max_value=100, places=3),
       st.decimals(min_value=0, max_value=100, places=3))
def test_the_one_cap_check_refuses_exactly_what_would_pass_the_cap(cost, cap, committed):
    """cap_refusal says nothing when committed + cost ≤ cap, else one sentence with the
    numbers; the store, the Generate gate and the video dialog all ask it."""
    why = cap_refusal(cost, cap=cap, committed=committed)
    assert (why == "") == (committed + cost <= cap)
    if why:
        assert why.startswith(f"This costs {format_money(cost)}, but only ")
        assert f"{format_money(cap)} daily spend cap today" in why
