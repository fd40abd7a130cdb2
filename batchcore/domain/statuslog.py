"""The append-only status log: ``[timestamp] job_id scene_id status message`` lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, field_validator

from batchcore.domain import clock

__all__ = ["LogEntry", "log_entry", "render_log"]

_EMPTY = "-"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class LogEntry(BaseModel):
    """One status line. Fields are single-line text; empty ones render as ``-``."""

    model_config = ConfigDict(frozen=True)

    timestamp: datetime
    job_id: str = ""
    scene_id: str = ""
    status: str = ""
    message: str = ""

    @field_validator("job_id", "scene_id", "status", "message", mode="before")
    @classmethod
    def _single_line(cls, value: object) -> str:
        return _one_line("" if value is None else str(value))

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("log timestamps must be timezone-aware")
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("log timestamp is out of range") from None

    def render(self) -> str:
        """``[2026-11-24 11:24:33Z] job_id scene_id status message``."""
        stamp = self.timestamp.strftime("%Y-%m-%d %H:%M:%SZ")
        parts = [self.job_id or _EMPTY, self.scene_id or _EMPTY, self.status or _EMPTY]
        line = f"[{stamp}] {' '.join(parts)}"
        return f"{line} {self.message}" if self.message else line


def log_entry(
    status: str,
    message: str = "",
    *,
    job_id: str = "",
    scene_id: str = "",
    now: datetime | None = None,
) -> LogEntry:
    """A new entry stamped ``now`` (default: the current UTC time)."""
    return LogEntry(
        timestamp=now or clock.utcnow(),
        job_id=job_id,
        scene_id=scene_id,
        status=status,
        message=message,
    )


def render_log(entries: Sequence[LogEntry], *, newest_first: bool = False) -> str:
    """All entries as text, one per line (oldest first unless ``newest_first``)."""
    ordered = reversed(entries) if newest_first else entries
    return "\n".join(e.render() for e in ordered)
