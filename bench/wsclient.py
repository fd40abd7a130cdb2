"""A minimal Streamlit client speaking the browser's websocket protocol (``/_stcore/stream``).

What the frontend does, reduced to what a benchmark needs: connect with the ``streamlit``
subprotocol, send ``BackMsg.rerun_script`` (a full rerun, or a fragment rerun with
``fragment_id`` and ``is_auto_rerun`` — what the browser sends when an
``@st.fragment(run_every=…)`` timer fires), and read ``ForwardMsg``s until
``script_finished``. Like the browser it reports the hashes of cacheable messages it already
has (``cached_message_hashes``), so the server may send references instead of repeats.

Bytes are the protobuf payloads as received (after any websocket compression is undone).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class Run:
    sent: float
    fragment: bool
    done: asyncio.Future
    bytes: int = 0
    messages: int = 0
    elapsed: float | None = None
    status: int | None = None
    #: messages by where they go: ("main", top-level index), ("sidebar", 0) or ("run", 0)
    places: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass
class Session:
    base_url: str  # http://127.0.0.1:port
    query: str = ""
    ws: object = None
    page_hash: str = ""
    auto_rerun: dict[str, float] = field(default_factory=dict)  # fragment id → interval s
    cache: set[str] = field(default_factory=set)
    current: Run | None = None
    reader: asyncio.Task | None = None
    closed: bool = False
    errors: int = 0
    #: the headings seen so far, by their top-level index in the main area
    headings: dict[int, str] = field(default_factory=dict)

    def sections(self, run: Run) -> dict[str, int]:
        """``run``'s messages by page section: the heading at or above each top-level
        element of the main area ("top" before the first), the sidebar, run events."""
        out: dict[str, int] = {}
        for (area, index), n in sorted(run.places.items()):
            if area == "main":
                above = [i for i in self.headings if i <= index]
                name = self.headings[max(above)] if above else "top"
            else:
                name = area
            out[name] = out.get(name, 0) + n
        return out

    async def open(self, timeout: float = 60.0) -> Run:
        """Connect and run the page once (what opening a tab does)."""
        url = self.base_url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await asyncio.wait_for(websockets.connect(
            url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout,
            ping_interval=None), timeout)
        self.reader = asyncio.create_task(self._read())
        return await self.rerun(timeout=timeout)

    def _back(self, fragment_id: str = "") -> bytes:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        if fragment_id:
            cs.fragment_id = fragment_id
            cs.is_auto_rerun = True
        cs.cached_message_hashes.extend(sorted(self.cache))
        cs.widget_states.SetInParent()
        return msg.SerializeToString()

    async def rerun(self, fragment_id: str = "", timeout: float = 60.0) -> Run:
        """Send a rerun (or a fragment rerun) and wait for its ``script_finished``."""
        loop = asyncio.get_running_loop()
        run = Run(sent=time.perf_counter(), fragment=bool(fragment_id), done=loop.create_future())
        self.current = run
        await self.ws.send(self._back(fragment_id))
        try:
            await asyncio.wait_for(asyncio.shield(run.done), timeout)
        except TimeoutError:
            self.errors += 1
            run.elapsed = None
        return run

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                now = time.perf_counter()
                msg = ForwardMsg()
                msg.ParseFromString(data)
                kind = msg.WhichOneof("type")
                run = self.current
                path = list(msg.metadata.delta_path) if kind == "delta" else []
                if kind == "delta" and len(path) >= 2 and path[0] == 0 and \
                        msg.delta.WhichOneof("type") == "new_element" and \
                        msg.delta.new_element.WhichOneof("type") == "heading":
                    self.headings[path[1]] = msg.delta.new_element.heading.body[:40]
                if run is not None and not run.done.done():
                    run.bytes += len(data)
                    run.messages += 1
                    place = (("main", path[1]) if len(path) >= 2 and path[0] == 0 else
                             ("sidebar", 0) if path else ("run", 0))
                    run.places[place] = run.places.get(place, 0) + 1
                if msg.metadata.cacheable and msg.hash:
                    self.cache.add(msg.hash)
                if kind == "new_session":
                    self.page_hash = msg.new_session.page_script_hash or self.page_hash
                elif kind == "page_info_changed":
                    self.query = msg.page_info_changed.query_string
                elif kind == "auto_rerun":
                    self.auto_rerun[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
                elif kind == "stop_auto_rerun":
                    self.auto_rerun.clear()
                elif kind == "script_finished":
                    if run is not None and not run.done.done():
                        # FINISHED_EARLY_FOR_RERUN (2) is not the end of the run we asked for
                        if msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                            run.elapsed = now - run.sent
                            run.status = msg.script_finished
                            run.done.set_result(run)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            try:
                await asyncio.wait_for(self.reader, 5)
            except (TimeoutError, asyncio.CancelledError):
                self.reader.cancel()
