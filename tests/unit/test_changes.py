"""The pages' event streams (batchcore.adapters.changes): a save anywhere reaches every stream
of its workspace, at once, and shutdown ends them."""

from __future__ import annotations

import asyncio
import threading

from batchcore.adapters.changes import CLOSED, Changes
from tests.conftest import run_async


def test_a_save_from_another_thread_reaches_every_stream_of_its_workspace():
    """Two streams of ws-1 get the note; the stream of ws-2 does not."""

    async def run():
        changes = Changes()
        loop = asyncio.get_running_loop()
        with changes.subscribe("ws-1", loop) as a, changes.subscribe("ws-1", loop) as b, \
                changes.subscribe("ws-2", loop) as other:
            worker = threading.Thread(target=changes.publish, args=("ws-1", "7"))
            worker.start()
            worker.join()
            got = (await a.next(1), await b.next(1), await other.next(0.05))
        assert changes.count() == 0
        return got

    assert run_async(run()) == ("7", "7", None)


def test_a_slow_stream_keeps_only_the_newest_notes():
    """A reader that does not read holds a few notes, the newest ones."""

    async def run():
        changes = Changes()
        with changes.subscribe("ws", asyncio.get_running_loop()) as sub:
            for n in range(20):
                changes.publish("ws", str(n))
            await asyncio.sleep(0)
            return [await sub.next(0.05) for _ in range(9)]

    got = run_async(run())
    assert got[:8] == [str(n) for n in range(12, 20)] and got[8] is None


def test_shutdown_ends_every_stream_and_admits_no_new_one():
    """close() sends the closing note to open streams; a later subscribe gets None."""

    async def run():
        changes = Changes()
        loop = asyncio.get_running_loop()
        with changes.subscribe("ws", loop) as sub:
            changes.close()
            note = await sub.next(1)
            with changes.subscribe("ws", loop) as late:
                return note, late

    assert run_async(run()) == (CLOSED, None)


def test_a_workspace_has_a_bounded_number_of_streams():
    """Past ``per_workspace`` streams a new one is refused (its page keeps its slow timer)."""

    async def run():
        changes = Changes(per_workspace=2)
        loop = asyncio.get_running_loop()
        with changes.subscribe("ws", loop) as a, changes.subscribe("ws", loop) as b, \
                changes.subscribe("ws", loop) as c:
            return a is not None, b is not None, c

    assert run_async(run()) == (True, True, None)
