"""The app's own server: start-up and shutdown (the lifespan) and its routes beside the page.

``streamlit_app.py`` hands these to ``st.App``. Shell code: it wires Starlette to the
services, which decide and read everything.

* **Lifespan.** At start-up the runtime is built once (``studio.runtime.runtime``: the same
  cached runtime the page uses), which reconciles paid work left open by a restart or a
  dead replica and starts the sweep — before any browser visits, and whether or not one
  ever does. At shutdown (SIGTERM, Ctrl-C) ``services.shut_down``: new paid confirmations
  are refused with a sentence, paid calls in flight get a grace to finish and be saved
  (otherwise the ledger's rules settle them at the next start), the sweep stops, the store
  closes. Nothing of this waits for a page.
* **Probes.** ``GET /healthz``: the process answers. ``GET /readyz``: the store is reachable
  with the current schema and the key is not refused (503 with a JSON reason otherwise).
  ``GET /metrics``: Prometheus text (spend and reservations today, paid calls by ledger
  state, jobs queued and running, sessions). None of them takes input or shows a secret.
* **Live updates.** ``GET /api/events/<workspace id>?t=<token>``: server-sent events for one
  workspace, for the page that was given the token (``services.event_token``). The first
  event is the stored version; then one event each time the workspace is saved (by a page
  or the background worker) or a paid job there finishes, and a comment every 15 s to keep
  proxies from closing it. Only version numbers and opaque words travel, never content.
  Refused: a bad, altered or expired token (403 with a sentence), another origin (403).
* **Pictures.** ``GET /api/pictures/<workspace id>/<object id>?t=<token>`` (``HEAD`` too):
  an image, reference or clip the browser cannot load from its own address (mock mode, the
  orchestrator's host), by a link the page was given (``services.picture_link``). The
  object id is looked up among the workspace's own objects, never used as a path. A strong
  ``ETag`` (304 on ``If-None-Match``), ``Cache-Control: private, max-age=…, immutable``,
  one ``Range`` (206/416) for clips, ``&download=1`` names the file. Refused: a token not
  signed for this object, workspace and owner, or expired (403); an object the workspace
  does not hold (404); another site's page (403, and ``Cross-Origin-Resource-Policy``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from batchcore.adapters.changes import CLOSED

if TYPE_CHECKING:  # the core is imported while the runtime is built, not before the server
    from batchcore.bootstrap import Runtime  # starts: the first page's title waits for neither

__all__ = ["lifespan", "routes"]

#: the runtime the lifespan built (one per process), for the routes
_RUNTIME: list[Runtime] = []
_LOG = logging.getLogger("batchstudio.server")
_NO_STORE = {"Cache-Control": "no-store"}


def _runtime() -> Runtime | None:
    return _RUNTIME[0] if _RUNTIME else None


def _build() -> Runtime:
    """The page's own cached runtime (one per process): building it settles paid work left
    open and starts the sweep."""
    from batchcore.service_layer import services
    from studio.runtime import runtime

    rt = runtime()
    _RUNTIME[:] = [rt]
    if not rt.settings.use_mock:  # /readyz and the sidebar know the key's answer early
        threading.Thread(target=services.check_backend, args=(rt,), daemon=True,
                         name="batch-key-check").start()
    _LOG.warning("Batch Studio is ready (%s).", "mock mode" if rt.settings.use_mock else
                 "live backend")
    return rt


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Build the runtime at start-up, whether or not anyone visits, beside the server (which
    serves the first page's title meanwhile; that page's run waits for the same build);
    shut it down in order when the app stops."""
    _close_streams_on_stop_signal()
    building = asyncio.create_task(asyncio.to_thread(_build))
    try:
        yield {}
    finally:
        from batchcore.service_layer import services

        rt = await building
        _LOG.warning("Batch Studio is shutting down: new paid confirmations are refused.")
        left = await asyncio.to_thread(services.shut_down, rt)
        _RUNTIME.clear()
        _LOG.warning("Batch Studio stopped%s.", f"; {len(left)} paid call(s) still running are "
                     "settled by the ledger's rules at the next start" if left else "")


def _close_streams_on_stop_signal() -> None:
    """On SIGTERM or Ctrl-C, before the server's own handler: refuse new paid confirmations
    and end the pages' event streams. The server waits for open responses before it runs the
    lifespan's shutdown, and a stream never ends by itself: without this it waits forever."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def handler(number: int, frame: Any, previous: Any = previous) -> None:
            rt = _runtime()
            if rt is not None:
                rt.closing.set()
                rt.changes.close()
            previous(number, frame)

        try:
            signal.signal(signum, handler)
        except ValueError:  # not the main thread (a test's server): nothing to chain
            return


async def healthz(request: Request) -> Response:
    """The process answers (liveness): no store or backend is asked."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


async def readyz(request: Request) -> Response:
    """Ready for traffic: the store answers with the current schema, the key is not refused,
    the app is not shutting down; else 503 with the reason."""
    rt = _runtime()
    if rt is None:
        return JSONResponse({"ready": False, "reason": "the app is starting"}, status_code=503,
                            headers=_NO_STORE)
    from batchcore.service_layer import services

    ready = await asyncio.to_thread(services.readiness, rt)
    body: dict[str, Any] = {"ready": ready.ready, "checks": ready.checks}
    if not ready.ready:
        body["reason"] = ready.reason
    return JSONResponse(body, status_code=200 if ready.ready else 503, headers=_NO_STORE)


class _Snapshot:
    """Reads ``services.metrics_snapshot`` once per scrape (a prometheus-client collector)."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from batchcore.service_layer import services

        snap = services.metrics_snapshot(self._rt)
        backend = ["backend"]
        spent = GaugeMetricFamily("batchstudio_spend_today_dollars",
                                  "Spent today (UTC) on this backend, as the ledger counts it.",
                                  labels=backend)
        spent.add_metric([snap.deployment], float(snap.spent_today))
        reserved = GaugeMetricFamily("batchstudio_reserved_today_dollars",
                                     "Reserved under today's cap by paid calls in flight.",
                                     labels=backend)
        reserved.add_metric([snap.deployment], float(snap.reserved_today))
        calls = GaugeMetricFamily("batchstudio_paid_calls",
                                  "Paid calls today (and open ones) by kind and ledger state.",
                                  labels=["backend", "kind", "state"])
        for (kind, state), n in sorted(snap.calls.items()):
            calls.add_metric([snap.deployment, kind, state], n)
        jobs = GaugeMetricFamily("batchstudio_jobs", "Background paid jobs by state.",
                                 labels=["state"])
        jobs.add_metric(["running"], snap.jobs_running)
        jobs.add_metric(["queued"], snap.jobs_queued)
        sessions = GaugeMetricFamily("batchstudio_sessions",
                                     "Browser sessions that ran a page in the last 5 minutes.")
        sessions.add_metric([], snap.sessions)
        streams = GaugeMetricFamily("batchstudio_event_streams",
                                    "Open live-update streams (one per open page).")
        streams.add_metric([], self._rt.changes.count())
        ledger_ok = GaugeMetricFamily("batchstudio_ledger_readable",
                                      "1 when the spend ledger could be read for this scrape.")
        ledger_ok.add_metric([], 0 if snap.problem else 1)
        yield from (spent, reserved, calls, jobs, sessions, streams, ledger_ok)


async def metrics(request: Request) -> Response:
    """Prometheus text format, read from the runtime now."""
    rt = _runtime()
    if rt is None:
        return Response("the app is starting\n", status_code=503, media_type="text/plain",
                        headers=_NO_STORE)
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Snapshot(rt))
    text = await asyncio.to_thread(generate_latest, registry)
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8",
                    headers=_NO_STORE)


#: a comment this often keeps proxies and browsers from closing a quiet stream
KEEP_ALIVE_S = 15.0
_STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _same_origin(request: Request) -> bool:
    """A browser's cross-site request carries another Origin, or says it is cross-site:
    refused (a same-origin EventSource or image sends no Origin, or this host's own)."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def _refuse(status: int, text: str) -> Response:
    return JSONResponse({"error": text}, status_code=status, headers=_NO_STORE)


async def events(request: Request) -> Response:
    """Server-sent events for one workspace (see the module's docstring)."""
    rt = _runtime()
    if rt is None:
        return _refuse(503, "The app is starting; try again in a moment.")
    if not _same_origin(request):
        return _refuse(403, "This stream is only for the app's own pages.")
    from batchcore.service_layer import services

    workspace_id = request.path_params["workspace_id"]
    why = services.check_event_token(rt, workspace_id, request.query_params.get("t", ""))
    if why:
        return _refuse(403, why)
    loop = asyncio.get_running_loop()

    async def stream() -> AsyncIterator[str]:
        with rt.changes.subscribe(workspace_id, loop) as sub:
            if sub is None:  # shutting down, or too many streams: the page's timer remains
                yield "retry: 15000\n\n"
                return
            version = await asyncio.to_thread(services.stored_version, rt, workspace_id)
            yield f"retry: 2000\ndata: {version}\n\n"
            while True:
                note = await sub.next(KEEP_ALIVE_S)
                if note is None:
                    yield ": keep-alive\n\n"
                elif note == CLOSED:
                    return
                else:
                    yield f"data: {note}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_STREAM_HEADERS)


#: how often the route looks again at a picture the server is still fetching
_PICTURE_POLL_S = 0.03


async def picture(request: Request) -> Response:
    """One picture or clip of a workspace (see the module's docstring)."""
    rt = _runtime()
    if rt is None:
        return _refuse(503, "The app is starting; try again in a moment.")
    if not _same_origin(request):
        return _refuse(403, "Pictures are only for the app's own pages.")
    from batchcore.service_layer import services
    from batchcore.service_layer.pictures import ROUTE_WAIT_S

    ask = functools.partial(
        services.serve_picture, rt, request.path_params["workspace_id"],
        request.path_params["object_id"], request.query_params.get("t", ""),
        if_none_match=request.headers.get("if-none-match", ""),
        range_header=request.headers.get("range", ""),
        download=request.query_params.get("download") == "1")
    deadline = asyncio.get_running_loop().time() + ROUTE_WAIT_S
    while True:  # a fetch in progress is awaited here, not in a thread of the server's pool
        reply = await asyncio.to_thread(ask)
        if reply.status != 504 or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(_PICTURE_POLL_S)
    if reply.text:
        return JSONResponse({"error": reply.text}, status_code=reply.status,
                            headers=reply.headers)
    return Response(reply.body, status_code=reply.status, headers=reply.headers)


def routes() -> list[BaseRoute]:
    """The routes beside the page (GET and HEAD only; no body is read)."""
    return [Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/api/events/{workspace_id}", events, methods=["GET"]),
            Route("/api/pictures/{workspace_id}/{object_id}", picture, methods=["GET"])]
