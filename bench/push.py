"""Issue 18: N pages each following a workspace — how fast is each told of a change, and what
does the server spend while nothing changes?

    python bench/push.py [--sessions 100] [--changes 10] [--idle 10]

Runs the app's own routes and lifespan (``studio.server``: the event stream
``GET /api/events/<id>``) under uvicorn on loopback, in this process, in mock mode with SQLite
in a temporary folder. Opens one event stream per workspace (N workspaces, tokens signed with
the shared ``APP_SIGNING_KEY``, as a page's would be), then, one workspace at a time, saves it
through the services (``services.rename_workspace``: a save like any command's or the
worker's) and times save start → the new version received by that workspace's stream. Then
it leaves every stream open for ``--idle`` seconds with nothing changing and reports the
process's CPU share (server and idle clients together: an upper bound for the server).

What a page then does with the event (its fragment reruns) is the rerun measured by
``bench/run.py`` (b); this measures the push path itself. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bench.common import banner, pct  # noqa: E402

KEY = "bench-signing-key-" + "x" * 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int):
    import uvicorn
    from starlette.applications import Starlette

    from studio.server import lifespan, routes

    config = uvicorn.Config(Starlette(routes=routes(), lifespan=lifespan), host="127.0.0.1",
                            port=port, log_level="warning", lifespan="on",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return server, thread


async def _follow(client: httpx.AsyncClient, url: str, arrived: dict[str, float],
                  ready: asyncio.Event) -> None:
    async with client.stream("GET", url) as answer:
        async for line in answer.aiter_lines():
            if line.startswith("data: "):
                if not ready.is_set():
                    ready.set()  # the first event: the stored version on connect
                else:
                    arrived[line[6:]] = time.perf_counter()


async def run(sessions: int, changes: int, idle: float) -> None:
    from batchcore.domain import tokens
    from batchcore.domain.rows import parse_batch
    from batchcore.domain.workflow import Inputs
    from batchcore.service_layer import services
    from studio.runtime import latest_runtime

    port = _free_port()
    server, thread = await asyncio.to_thread(_serve, port)
    rt = latest_runtime()
    assert rt is not None
    key = hashlib.sha256(KEY.encode()).digest()
    workspaces = []
    for i in range(sessions):
        ws = services.new_workspace(rt).ws
        ws = services.update_inputs(rt, ws, Inputs(mode="single", single_prompt=f"p{i}"),
                                    parse_batch("")).ws
        workspaces.append(ws)
    limits = httpx.Limits(max_connections=sessions + 10)
    async with httpx.AsyncClient(timeout=None, limits=limits) as client:
        arrived: list[dict[str, float]] = [{} for _ in workspaces]
        ready = [asyncio.Event() for _ in workspaces]
        tasks = []
        for i, ws in enumerate(workspaces):
            token = tokens.sign(key, "events", ws.id, now=time.time())
            url = f"http://127.0.0.1:{port}/api/events/{ws.id}?t={token}"
            tasks.append(asyncio.create_task(_follow(client, url, arrived[i], ready[i])))
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 60)
        print(f"{sessions} event streams open")

        latencies: list[float] = []
        for round_ in range(changes):
            for i, ws in enumerate(workspaces):
                started = time.perf_counter()
                out = await asyncio.to_thread(services.rename_workspace, rt, ws,
                                              f"w{i}-{round_}")
                workspaces[i] = ws = out.ws
                want = str(ws.version)
                deadline = time.perf_counter() + 5
                while want not in arrived[i] and time.perf_counter() < deadline:
                    await asyncio.sleep(0.0005)
                if want in arrived[i]:
                    latencies.append((arrived[i][want] - started) * 1000)
        told = len(latencies)
        print(f"save → told, ms ({told} of {sessions * changes} changes delivered): "
              f"p50 {pct(latencies, 0.5):.1f}  p95 {pct(latencies, 0.95):.1f}  "
              f"max {max(latencies):.1f}   target: p95 ≤ 250 ms")

        c0, t0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(idle)
        share = (time.process_time() - c0) / (time.perf_counter() - t0)
        print(f"idle with {sessions} streams open for {idle:.0f} s: process CPU "
              f"{share * 100:.2f} % of one core   target: ≤ 5 %")
        print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    server.should_exit = True
    await asyncio.to_thread(thread.join, 30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-push-")
    for name in ("ORCHESTRATOR_API_KEY", "API_KEY", "BATCH_USE_MOCK", "ORCHESTRATOR_URL"):
        os.environ.pop(name, None)
    os.environ.update({"DATABASE_URL": f"sqlite:///{tmp}/ws.sqlite3", "MOCK_LATENCY_MS": "0",
                       "APP_SIGNING_KEY": KEY})
    banner()
    asyncio.run(run(args.sessions, args.changes, args.idle))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
