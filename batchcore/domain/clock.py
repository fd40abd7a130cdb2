"""The one clock helper: every "now" in Batch Studio is an aware UTC datetime from here.

Functions that decide by time take ``now`` as a parameter (tests pass a fixed moment); when
it is not given they call :func:`moment`.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["moment", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def moment(now: datetime | None = None) -> datetime:
    """``now`` when given, else :func:`utcnow`."""
    return now if now is not None else utcnow()
