"""Wake the pages that watch a workspace as soon as its background job has finished.

While paid work is in flight a page looks at the stored workspace every second (the status
log's fragment tick). That tick stays, as the fallback; in addition the page registers a
*waker* for the workspace it shows, and the worker calls :meth:`Watchers.wake` once the
job's outcome is saved, so the page looks at once instead of up to a second later.

A waker is a plain callable: it asks its page to look now and returns False when that page
is gone (the entry is then dropped). Nothing here knows Streamlit; the page builds wakers
(``studio/wake.py``). Wakes are one-shot (a page registers again on every tick while it
watches), entries older than ``ttl`` seconds are dropped, and each workspace keeps at most
``per_workspace`` pages, so pages that went away never pile up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Waker", "Watchers"]

Waker = Callable[[], bool]


class Watchers:
    """Which pages (by key: one per browser session) watch which workspace."""

    def __init__(self, *, ttl: float = 600.0, per_workspace: int = 32,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._by_workspace: dict[str, dict[str, tuple[float, Waker]]] = {}
        self._ttl = ttl
        self._per_workspace = per_workspace
        self._clock = clock

    def watch(self, workspace_id: str, key: str, wake: Waker) -> None:
        """Page ``key`` watches ``workspace_id`` (again): wake it when a job there finishes."""
        if not workspace_id or not key:
            return
        now = self._clock()
        with self._lock:
            self._drop_expired(now)
            pages = self._by_workspace.setdefault(workspace_id, {})
            pages.pop(key, None)  # re-registered: now the newest
            pages[key] = (now, wake)
            while len(pages) > self._per_workspace:
                pages.pop(next(iter(pages)))

    def wake(self, workspace_id: str) -> int:
        """Wake every page watching ``workspace_id`` (once); how many said they will look.

        A waker that raises or says its page is gone is dropped, never retried."""
        with self._lock:
            self._drop_expired(self._clock())
            pages = self._by_workspace.pop(workspace_id, {})
        woken = 0
        for _, wake in pages.values():
            try:
                woken += bool(wake())
            except Exception:  # noqa: BLE001 - a page that cannot be woken still ticks
                continue
        return woken

    def watching(self, workspace_id: str) -> int:
        """How many pages watch ``workspace_id`` now."""
        with self._lock:
            self._drop_expired(self._clock())
            return len(self._by_workspace.get(workspace_id, {}))

    def _drop_expired(self, now: float) -> None:
        for wid in list(self._by_workspace):
            pages = self._by_workspace[wid]
            for key in [k for k, (at, _) in pages.items() if now - at > self._ttl]:
                del pages[key]
            if not pages:
                del self._by_workspace[wid]
