"""The History page's headline numbers: today, the last seven days, all time."""

from datetime import date
from decimal import Decimal

from batchcore.domain.history import spend_totals


def test_totals_split_today_week_and_all_time():
    """Today counts only today; the week is today and the six days before it; total is all."""
    per_day = {"2026-11-01": Decimal("1.00"), "2026-11-18": Decimal("0.50"),
               "2026-11-19": Decimal("0.25"), "2026-11-25": Decimal("0.012")}
    totals = spend_totals(per_day, date(2026, 11, 25))
    assert totals == {"today": Decimal("0.012"), "week": Decimal("0.262"),
                      "total": Decimal("1.762")}


def test_totals_of_nothing_are_zero():
    """With no spend at all every total is zero (and still a Decimal)."""
    assert spend_totals({}, date(2026, 11, 25)) == {"today": Decimal(0), "week": Decimal(0),
                                                     "total": Decimal(0)}
