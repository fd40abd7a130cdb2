"""Images and clips for the page without blocking it.

Two decisions live here:

* :func:`asset_source` — who loads an image: the **browser** (a real backend's https signed
  URLs: the page hands the URL to ``st.image`` and the browser fetches it, in parallel, with
  its own timeouts), the **server** (mock mode: the in-process emulator has no address a
  browser could reach; or an address on the orchestrator's own host, which wants the API key
  that must never reach the browser), or **nobody** (``javascript:``, ``data:``, plain
  ``http://`` on a real backend, anything unreadable): a placeholder says it cannot be shown.
* :class:`AssetLoader` — the server-side fetches, off the page's script thread: a small
  bounded thread pool, one short try per fetch, a bounded cache of what loaded, and a failed
  fetch tried again later (after 15 s, then 30, 60 … at most 5 minutes), never cached forever.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["AssetLoader", "AssetView", "Source", "asset_source"]

Source = Literal["browser", "server", "none"]


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


def asset_source(url: str, *, mock: bool, backend_url: str) -> Source:
    """Who loads ``url``: ``browser``, ``server`` (fetched off-thread), or ``none``.

    Mock mode: the server, for every URL (the emulator is in-process). A real backend: the
    browser for https URLs on any other host (signed URLs need no key); the server for URLs on
    the orchestrator's own host or relative to it (they may need the key, which stays on the
    server); nobody for anything else.
    """
    if not isinstance(url, str) or not url.strip():
        return "none"
    text = url.strip()
    if any(c.isspace() or not c.isprintable() for c in text):
        return "none"
    if mock:
        return "server"
    where = _origin(text)
    if where is None:
        return "none"
    scheme, host, port = where
    backend = _origin(backend_url)
    if not scheme and not host:  # relative: on the orchestrator itself
        return "server" if text.startswith("/") else "none"
    if backend is not None and (scheme, host, port) == backend:
        return "server"
    if scheme == "https" and host:
        return "browser"
    return "none"


@dataclass(frozen=True)
class AssetView:
    """What the page can show for one URL now: ``ready`` (``data``), ``loading``, or
    ``failed`` (``reason``; tried again after ``retry_in`` seconds)."""

    state: Literal["ready", "loading", "failed"]
    data: bytes | None = None
    reason: str = ""
    retry_in: float = 0.0


@dataclass
class _Entry:
    state: Literal["ready", "loading", "failed"]
    data: bytes | None = None
    reason: str = ""
    failures: int = 0
    retry_at: float = 0.0


class AssetLoader:
    """Fetches bytes off the caller's thread: ``view(url)`` never waits longer than asked.

    ``fetch(url) -> bytes`` does one short try and raises on failure (its message becomes
    the reason shown). At most ``workers`` fetches run at once; at most ``max_entries``
    results (and ``max_bytes`` of them) are kept, least recently used dropped first.
    """

    def __init__(self, fetch: Callable[[str], bytes], *, workers: int = 4,
                 max_entries: int = 400, max_bytes: int = 96 * 1024 * 1024,
                 first_retry: float = 15.0, max_retry: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asset")
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._clock = clock

    # -- the page's calls ---------------------------------------------------------------

    def request(self, urls: Iterable[str]) -> None:
        """Start fetching every URL not loaded or loading (failed ones once their wait is over)."""
        for url in urls:
            self._start(url)

    def view(self, url: str, wait: float = 0.0) -> AssetView:
        """What there is for ``url`` now (starting its fetch if needed), waiting at most
        ``wait`` seconds for a fetch in progress."""
        self._start(url)
        deadline = self._clock() + max(wait, 0.0)
        with self._changed:
            while True:
                entry = self._entries.get(url)
                if entry is None:  # evicted meanwhile
                    return AssetView("loading")
                if entry.state != "loading" or self._clock() >= deadline:
                    return self._as_view(entry)
                self._changed.wait(timeout=max(0.0, min(0.05, deadline - self._clock())))

    def views(self, urls: Iterable[str], wait: float = 0.0) -> dict[str, AssetView]:
        """``view`` for several URLs, all fetched in parallel, waiting ``wait`` in all."""
        wanted = [u for u in dict.fromkeys(urls) if u]
        self.request(wanted)
        deadline = self._clock() + max(wait, 0.0)
        return {u: self.view(u, max(0.0, deadline - self._clock())) for u in wanted}

    def settled(self, urls: Iterable[str]) -> bool:
        """No fetch of these URLs is in progress."""
        with self._lock:
            return all((e := self._entries.get(u)) is None or e.state != "loading"
                       for u in urls if u)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals ----------------------------------------------------------------------

    def _as_view(self, entry: _Entry) -> AssetView:
        if entry.state == "failed":
            return AssetView("failed", reason=entry.reason,
                             retry_in=max(0.0, entry.retry_at - self._clock()))
        return AssetView(entry.state, entry.data)

    def _start(self, url: str) -> None:
        if not url:
            return
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None:
                self._entries.move_to_end(url)
                if entry.state != "failed" or self._clock() < entry.retry_at:
                    return
                entry.state = "loading"
            else:
                entry = self._entries[url] = _Entry("loading")
                self._evict()
        try:
            self._pool.submit(self._run, url)
        except RuntimeError:  # shut down
            with self._changed:
                entry.state, entry.reason = "failed", "the app is shutting down"
                self._changed.notify_all()

    def _run(self, url: str) -> None:
        try:
            data = self._fetch(url)
            if not data:
                raise ValueError("it is empty")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reason on the page
            self._finish(url, None, str(exc) or type(exc).__name__)
        else:
            self._finish(url, bytes(data), "")

    def _finish(self, url: str, data: bytes | None, reason: str) -> None:
        with self._changed:
            entry = self._entries.get(url)
            if entry is None:
                return
            if data is not None:
                entry.state, entry.data, entry.reason, entry.failures = "ready", data, "", 0
                self._bytes += len(data)
                self._evict()
            else:
                entry.failures += 1
                wait = min(self._first_retry * 2 ** (entry.failures - 1), self._max_retry)
                entry.state, entry.reason, entry.retry_at = "failed", reason, self._clock() + wait
            self._changed.notify_all()

    def _evict(self) -> None:
        """Drop the least recently used finished entries beyond the bounds (lock held)."""
        for url in list(self._entries):
            if len(self._entries) <= self._max_entries and self._bytes <= self._max_bytes:
                return
            entry = self._entries[url]
            if entry.state == "loading":
                continue
            if entry.data:
                self._bytes -= len(entry.data)
            del self._entries[url]
