"""The daily spend cap: counting today's spend conservatively and refusing what passes the cap."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.spend import (
    DEFAULT_DAILY_CAP,
    MAX_DAILY_CAP,
    SpendDecision,
    cap_refusal,
    check_spend,
    parse_cap,
    spend_gate,
    spend_today,
    workspace_cap,
)
from batchcore.domain.pricing import format_money
from batchcore.domain.workflow import Gate, Submission, WorkflowState
from batchcore.errors import InputError, SpendCapExceeded

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


def test_workspace_cap_defaults_to_two_dollars():
    """A workspace with no cap of its own gets the $2.00 default."""
    assert workspace_cap(WorkflowState()) == DEFAULT_DAILY_CAP == Decimal("2.00")


def test_workspace_cap_falls_back_to_a_given_default():
    """Without a cap on the state, the given default (e.g. the settings' cap) is used."""
    assert workspace_cap(WorkflowState(), Decimal("5")) == Decimal("5")
    assert workspace_cap(WorkflowState(), "$0.25") == Decimal("0.25")


@pytest.mark.parametrize("cap", [Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), float("inf")])
def test_a_bad_numeric_cap_fails_closed(cap):
    """A negative, NaN or infinite cap raises instead of allowing spending."""
    with pytest.raises(ValueError, match="finite"):
        spend_gate(WorkflowState(), "0.002", cap=cap, now=NOW)


def test_a_numeric_cap_above_the_typing_limit_is_obeyed_as_configured():
    """A cap set in configuration as a number is used as given (the limit is for typed text)."""
    assert spend_gate(WorkflowState(), "150", cap=Decimal("200"), now=NOW)
    with pytest.raises(InputError):
        spend_gate(WorkflowState(), "150", cap="200", now=NOW)


def test_workspace_cap_uses_a_daily_cap_field_when_present():
    """Once the state carries ``daily_cap``, that cap is used."""
    class Capped(WorkflowState):
        daily_cap: Decimal = Decimal("0.50")

    assert workspace_cap(Capped()) == Decimal("0.50")
    assert spend_today(Capped(), NOW).cap == Decimal("0.50")


# --- spend_today ----------------------------------------------------------------------------


def test_empty_workspace_has_the_whole_cap_left():
    """Nothing submitted: nothing spent or reserved, the whole cap left."""
    summary = spend_today(WorkflowState(), NOW)
    assert (summary.spent, summary.reserved, summary.left, summary.cap) == (0, 0, Decimal("2.00"),
                                                                           Decimal("2.00"))


def test_each_state_counts_as_documented():
    """Completed uses actual cost, in-flight is reserved, failed-unbilled is 0, unknown is full."""
    state = ws(
        sub("completed", "0.006", actual="0.004"),
        sub("partial", "0.006"),                       # actual unknown: estimate counts
        sub("failed", "0.010"),                        # refused, nothing billed
        sub("failed", "0.012", actual="0.002"),        # failed but our count says 1 image
        sub("outcome_unknown", "0.020"),               # may have been billed in full
        sub("outcome_unknown", "0.004", actual="0.002"),  # still assume the whole estimate
        sub("in_flight", "0.030"),
    )
    summary = spend_today(state, NOW)
    assert summary.spent == Decimal("0.004") + Decimal("0.006") + Decimal("0.002") \
        + Decimal("0.020") + Decimal("0.004")
    assert summary.reserved == Decimal("0.030")
    assert summary.unconfirmed == Decimal("0.024")
    assert summary.left == Decimal("2.00") - summary.spent - summary.reserved


def test_only_todays_finished_submissions_count_but_in_flight_always_does():
    """Yesterday's finished calls are not today's spend; a call still in flight is reserved."""
    state = ws(sub("completed", "1.000", at=YESTERDAY), sub("outcome_unknown", "0.5", at=YESTERDAY),
               sub("in_flight", "0.100", at=YESTERDAY), sub("completed", "0.002"))
    summary = spend_today(state, NOW)
    assert summary.spent == Decimal("0.002")
    assert summary.reserved == Decimal("0.100")


def test_day_is_the_utc_day_even_for_other_timezones_and_naive_times():
    """A call at 23:30 UTC the day before is yesterday, however the times are written."""
    plus2 = timezone(timedelta(hours=2))
    late = datetime(2026, 11, 23, 23, 30)            # naive: taken as UTC
    early_local = datetime(2026, 11, 24, 1, 0, tzinfo=plus2)  # = 23:00 UTC on the 23rd
    state = ws(sub("completed", "1.0", at=late), sub("completed", "0.5", at=early_local),
               sub("completed", "0.002", at=datetime(2026, 11, 24, 0, 0)))
    assert spend_today(state, NOW).spent == Decimal("0.002")
    assert spend_today(state, datetime(2026, 11, 24, 1, 0, tzinfo=plus2)).spent == Decimal("1.5")


def test_negative_amounts_never_make_room():
    """A bogus negative cost or actual cost counts as 0, never as a refund."""
    state = ws(sub("completed", "-1.00"), sub("completed", "0.5", actual="-0.5"),
               sub("in_flight", "-3"))
    summary = spend_today(state, NOW)
    assert (summary.spent, summary.reserved, summary.left) == (0, 0, Decimal("2.00"))


def test_over_the_cap_left_shows_zero_but_balance_is_exact():
    """When already over the cap, ``left`` displays 0 and ``balance`` the exact overrun."""
    summary = spend_today(ws(sub("outcome_unknown", "2.50")), NOW)
    assert summary.left == 0
    assert summary.balance == Decimal("-0.50")
    assert summary.committed == Decimal("2.50")


def test_summary_describes_itself_in_money():
    """The description names spent, in-flight, unconfirmed and left amounts."""
    text = spend_today(ws(sub("completed", "0.012"), sub("in_flight", "0.006"),
                          sub("outcome_unknown", "0.002")), NOW).describe()
    assert text == ("$0.014 spent, $0.006 in flight, $0.002 of it unconfirmed (maybe billed), "
                    "$1.98 left of $2.00 today")
    assert spend_today(WorkflowState(), NOW).describe() == "$0.00 spent, $2.00 left of $2.00 today"


def test_spend_today_accepts_a_list_of_submissions_and_a_text_cap():
    """Submissions can be passed directly, and the cap as text."""
    summary = spend_today([sub("completed", "0.5")], NOW, cap="$1")
    assert (summary.spent, summary.left, summary.cap) == (Decimal("0.5"), Decimal("0.5"), 1)
    assert spend_today([], NOW).cap == DEFAULT_DAILY_CAP


def test_default_now_is_the_current_utc_day():
    """Without ``now``, a submission started now counts as today's."""
    state = ws(sub("completed", "0.3", at=datetime.now(timezone.utc)))
    assert spend_today(state).spent == Decimal("0.3")


# --- spend_gate and check_spend -------------------------------------------------------------


def test_gate_allows_a_cost_that_fits_exactly():
    """Spending up to exactly the cap is allowed."""
    decision = spend_gate(ws(sub("completed", "1.994")), Decimal("0.006"), now=NOW)
    assert decision and isinstance(decision, Gate) and isinstance(decision, SpendDecision)
    assert decision.code == "ok" and decision.cost == Decimal("0.006")
    check_spend(ws(sub("completed", "1.994")), "0.006", now=NOW)


def test_gate_refuses_a_cost_over_what_is_left_and_says_why():
    """A cost over what is left is refused with cost, left and cap named in money."""
    state = ws(sub("completed", "1.990"), sub("in_flight", "0.006"))
    decision = spend_gate(state, Decimal("0.006"), now=NOW)
    assert not decision and decision.code == "over_cap"
    assert "This costs $0.006, but only $0.004 is left of today's $2.00 spend cap" in decision.reason
    with pytest.raises(SpendCapExceeded) as info:
        check_spend(state, Decimal("0.006"), now=NOW)
    assert str(info.value) == decision.reason


def test_gate_says_the_cap_is_used_up_when_nothing_is_left():
    """With nothing left, the reason says the cap is used up and when it resets."""
    decision = spend_gate(ws(sub("outcome_unknown", "2.00")), 0.002, now=NOW)
    assert decision.code == "cap_reached"
    assert "Today's spend cap of $2.00 is used up" in decision.reason
    assert "would cost $0.002" in decision.reason and "midnight UTC" in decision.reason


def test_a_zero_cap_allows_only_free_actions():
    """A $0 cap refuses any paid action but not a free one."""
    assert spend_gate(WorkflowState(), 0, cap="0", now=NOW)
    assert not spend_gate(WorkflowState(), "0.002", cap="0", now=NOW)


def test_a_negative_cost_is_a_programming_error():
    """A negative cost raises ValueError instead of being allowed."""
    with pytest.raises(ValueError, match="negative"):
        spend_gate(WorkflowState(), Decimal("-0.01"), now=NOW)


def test_an_unknown_submission_state_is_counted_in_full():
    """A state this module does not know is assumed billed in full (conservative)."""
    odd = Submission.model_construct(batch_hash="x", kind="images", state="cancelled",
                                     cost=Decimal("0.3"), started_at=NOW, actual_cost=None)
    assert spend_today([odd], NOW).spent == Decimal("0.3")


# --- properties -----------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=3, places=3, allow_nan=False, allow_infinity=False)
states = st.sampled_from(["in_flight", "completed", "partial", "failed", "outcome_unknown"])
days = st.sampled_from([NOW, NOW - timedelta(hours=11, minutes=59), YESTERDAY])
submissions = st.builds(
    lambda i, state, cost, actual, at, kind: Submission(
        batch_hash=f"h{i}", kind=kind, state=state, cost=cost, actual_cost=actual, started_at=at),
    st.integers(), states, money, st.none() | money, days, st.sampled_from(["images", "videos"]),
)
caps = st.decimals(min_value=0, max_value=MAX_DAILY_CAP, places=2, allow_nan=False)


@given(st.lists(submissions, max_size=12), caps)
def test_spent_reserved_and_left_add_up_to_the_cap_when_under_it(subs, cap):
    """For any submissions under the cap, spent + reserved + left == cap; left is never < 0."""
    summary = spend_today(subs, NOW, cap)
    assert summary.left >= 0
    if summary.committed <= cap:
        assert summary.spent + summary.reserved + summary.left == cap
    else:
        assert summary.left == 0 and summary.balance < 0


@given(st.lists(submissions, max_size=12), caps, money)
def test_spend_never_counts_less_than_the_estimate_of_maybe_billed_calls(subs, cap, cost):
    """Today's committed total is at least the estimates of today's unknown and in-flight calls."""
    summary = spend_today(subs, NOW, cap)
    floor = sum((s.cost for s in subs if s.state == "in_flight"
                 or (s.state == "outcome_unknown" and s.started_at.date() == NOW.date())),
                Decimal(0))
    assert summary.committed >= floor


@given(st.lists(st.tuples(money, states, st.none() | money), max_size=25), caps)
def test_the_gate_never_lets_todays_total_pass_the_cap(attempts, cap):
    """Submitting only what the gate allows keeps spent + reserved <= cap, whatever happens."""
    subs: list[Submission] = []
    for i, (cost, outcome, actual) in enumerate(attempts):
        decision = spend_gate(subs, cost, cap, NOW)
        total = spend_today(subs, NOW, cap).committed
        assert bool(decision) == (total + cost <= cap)
        if decision:
            # Our own count never exceeds the estimate (we pay per image we asked for).
            billed = None if actual is None else min(actual, cost)
            subs.append(Submission(batch_hash=f"h{i}", kind="images", state=outcome, cost=cost,
                                   actual_cost=billed, started_at=NOW))
        assert spend_today(subs, NOW, cap).committed <= cap


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
    assert spend_today(state, now).spent == Decimal("0.008")


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
