"""Fault injection: ``emu.faults.add(route="/batch/images", kind="500", times=1)``.

Kinds, and what the client sees:

``500``                  problem+json 500 internal-error; nothing processed.
``502_html``             an HTML 502 page from a "load balancer" (text/html); nothing processed.
``429``                  problem+json 429 with ``Retry-After: <retry_after>``; nothing processed.
``slow``                 the answer is delayed ``seconds`` (default 1), then processed normally.
``timeout_after_accept`` the request IS processed and billed, then no answer arrives: the
                         in-process transport raises ``httpx.ReadTimeout``; the served face
                         holds the answer back ``hang_seconds``.
``malformed_json``       processed (and billed), then answered 200 with a truncated JSON body.
``unknown_status``       processed; every status word in the answer is ``status`` ("mystery").
``partial``              processed, but every second row fails (or the rows in ``scenes``).
``connect_refused``      nothing processed; in-process raises ``httpx.ConnectError``; the
                         served face drops the connection without an answer.
``answer``               nothing processed; answered exactly ``answer_status`` with
                         ``answer_body`` (text, or JSON for a dict/list) as ``answer_type``,
                         plus ``answer_headers``: any body a server or proxy might send
                         (problem+json with markup, odd shapes, a malformed job id …).
``answer_after``         processed (and billed) as usual, then answered like ``answer``
                         instead of the real answer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "Fault", "FaultPlan"]

FAULT_KINDS = frozenset(
    {
        "500",
        "502_html",
        "429",
        "slow",
        "timeout_after_accept",
        "malformed_json",
        "unknown_status",
        "partial",
        "connect_refused",
        "answer",
        "answer_after",
    }
)
#: Kinds that answer before the request is processed.
PRE_KINDS = frozenset({"500", "502_html", "429", "connect_refused", "answer"})


@dataclass
class Fault:
    """One armed fault: fires on requests whose path starts with ``route`` (and ``method``)."""

    kind: str
    route: str = "/"
    method: str | None = None
    times: int | None = 1  # None: every time
    retry_after: int = 2
    seconds: float = 1.0
    status: str = "mystery"
    scenes: frozenset[str] = frozenset()
    answer_status: int = 500
    answer_body: str = ""
    answer_type: str = "application/problem+json; charset=utf-8"
    answer_headers: tuple[tuple[str, str], ...] = ()
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return path == self.route or path.startswith(self.route.rstrip("/") + "/") or (
            self.route == "/"
        )

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times


class FaultPlan:
    """The armed faults of one emulator, consumed in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        kind: str,
        route: str = "/",
        *,
        method: str | None = None,
        times: int | None = 1,
        retry_after: int = 2,
        seconds: float = 1.0,
        status: str = "mystery",
        scenes: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
        answer_status: int = 500,
        answer_body: object = "",
        answer_type: str = "application/problem+json; charset=utf-8",
        answer_headers: dict[str, str] | None = None,
    ) -> Fault:
        """Arm a fault for the next ``times`` matching requests (``None``: until cleared)."""
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; choose one of {sorted(FAULT_KINDS)}")
        if not isinstance(answer_status, int) or not 100 <= answer_status <= 599:
            raise ValueError("answer_status must be an HTTP status from 100 to 599")
        body = answer_body if isinstance(answer_body, str) else json.dumps(answer_body)
        fault = Fault(
            kind=kind,
            answer_status=answer_status,
            answer_body=body,
            answer_type=str(answer_type),
            answer_headers=tuple((str(k), str(v)) for k, v in (answer_headers or {}).items()),
            route=route,
            method=method,
            times=times,
            retry_after=retry_after,
            seconds=seconds,
            status=status,
            scenes=frozenset(scenes),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first live fault matching this request, marked as fired (or ``None``)."""
        with self._lock:
            for fault in self._faults:
                if not fault.spent and fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.spent]
