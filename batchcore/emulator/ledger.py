"""The charge ledger: every paid unit the emulated server bills, for tests to assert on."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

__all__ = ["Charge", "ChargeLedger"]


@dataclass(frozen=True)
class Charge:
    """One billed line: ``count`` units of ``kind`` for one row of one batch."""

    kind: Literal["images", "videos"]
    count: int
    amount: Decimal
    batch_hash: str | None  # the request's X-Batch-Hash header (the server ignores it)
    batch_id: str
    scene_id: str
    at: datetime
    key_id: str  # a short fingerprint of the API key, never the key itself


class ChargeLedger:
    """Append-only, thread-safe list of ``Charge``; dry-runs and failed rows never appear."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charges: list[Charge] = []

    def add(self, charge: Charge) -> None:
        with self._lock:
            self._charges.append(charge)

    @property
    def charges(self) -> list[Charge]:
        """A copy of every charge, oldest first."""
        with self._lock:
            return list(self._charges)

    def total(self, kind: str | None = None) -> Decimal:
        """Sum of amounts (of one ``kind`` when given), exact."""
        return sum((c.amount for c in self.charges if kind in (None, c.kind)), Decimal(0))

    def units(self, kind: str | None = None) -> int:
        """How many images/clips were billed (of one ``kind`` when given)."""
        return sum(c.count for c in self.charges if kind in (None, c.kind))

    def for_batch(self, batch_id: str) -> list[Charge]:
        return [c for c in self.charges if c.batch_id == batch_id]

    def for_hash(self, batch_hash: str) -> list[Charge]:
        return [c for c in self.charges if c.batch_hash == batch_hash]

    def spent(self, key_id: str, day: date) -> Decimal:
        """What one key was billed on one UTC day (the budget guard's input)."""
        return sum(
            (c.amount for c in self.charges if c.key_id == key_id and c.at.date() == day),
            Decimal(0),
        )

    def clear(self) -> None:
        with self._lock:
            self._charges.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._charges)
