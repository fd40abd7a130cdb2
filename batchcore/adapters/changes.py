"""Tell the pages watching a workspace that it changed, the moment it is saved.

Whatever saves a workspace (a page's command, the background worker's recorder) calls
:meth:`Changes.publish` with the new stored version (or a word such as ``"v12:finished"``);
every open event stream of that workspace in this process gets it at once and passes it to
its page, which looks again only then: no timer ticks while nothing changes. Streams live on
the server's event loop; publishers are any thread. Each stream keeps only the newest few
notes (a slow reader never holds memory), and :meth:`close` ends every stream (shutdown).
Nothing here knows Streamlit or HTTP (``studio/server.py`` serves the streams).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Changes", "Subscription"]

#: the note a stream gets when the app shuts down (it then ends)
CLOSED = "\x00closed"


class Subscription:
    """One open stream: the notes for one workspace, read on ``loop``."""

    def __init__(self, workspace_id: str, loop: asyncio.AbstractEventLoop,
                 keep: int = 8) -> None:
        self.workspace_id = workspace_id
        self._loop = loop
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=keep)

    def push(self, note: str) -> None:
        """From any thread: queue ``note`` (the oldest is dropped when the queue is full)."""
        try:
            self._loop.call_soon_threadsafe(self._put, note)
        except RuntimeError:  # the loop is closed: the stream is gone
            pass

    def _put(self, note: str) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(note)

    async def next(self, timeout: float) -> str | None:
        """The next note, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None


class Changes:
    """The open streams of this process, by workspace."""

    def __init__(self, *, per_workspace: int = 64) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, set[Subscription]] = {}
        self._per_workspace = per_workspace
        self._closed = False

    def publish(self, workspace_id: str, note: str) -> int:
        """Tell every stream of ``workspace_id``; how many there were."""
        with self._lock:
            streams = list(self._streams.get(workspace_id, ()))
        for stream in streams:
            stream.push(note)
        return len(streams)

    @contextmanager
    def subscribe(self, workspace_id: str, loop: asyncio.AbstractEventLoop
                  ) -> Iterator[Subscription | None]:
        """A stream for ``workspace_id`` while the block runs; None when the app is shutting
        down or the workspace already has ``per_workspace`` streams (the page's slow timer
        remains)."""
        stream = Subscription(workspace_id, loop)
        with self._lock:
            streams = self._streams.setdefault(workspace_id, set())
            admitted = not self._closed and len(streams) < self._per_workspace
            if admitted:
                streams.add(stream)
        try:
            yield stream if admitted else None
        finally:
            with self._lock:
                streams = self._streams.get(workspace_id, set())
                streams.discard(stream)
                if not streams:
                    self._streams.pop(workspace_id, None)

    def count(self) -> int:
        """Open streams in all."""
        with self._lock:
            return sum(len(s) for s in self._streams.values())

    def close(self) -> None:
        """End every stream (the app shuts down); no new one is admitted."""
        with self._lock:
            self._closed = True
            streams = [s for group in self._streams.values() for s in group]
        for stream in streams:
            stream.push(CLOSED)
