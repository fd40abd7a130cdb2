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
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from batchcore.bootstrap import Runtime
from batchcore.service_layer import services

__all__ = ["lifespan", "routes"]

#: the runtime the lifespan built (one per process), for the routes
_RUNTIME: list[Runtime] = []
_LOG = logging.getLogger("batchstudio.server")
_NO_STORE = {"Cache-Control": "no-store"}


def _runtime() -> Runtime | None:
    return _RUNTIME[0] if _RUNTIME else None


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Build the runtime before anyone visits; shut it down in order when the app stops."""
    from studio.runtime import runtime  # the page's own cached runtime: one per process

    rt = await asyncio.to_thread(runtime)
    _RUNTIME[:] = [rt]
    if not rt.settings.use_mock:  # /readyz and the sidebar know the key's answer early
        threading.Thread(target=services.check_backend, args=(rt,), daemon=True,
                         name="batch-key-check").start()
    _LOG.warning("Batch Studio is ready (%s).", "mock mode" if rt.settings.use_mock else
                 "live backend")
    try:
        yield {"runtime": rt}
    finally:
        _LOG.warning("Batch Studio is shutting down: new paid confirmations are refused.")
        left = await asyncio.to_thread(services.shut_down, rt)
        _RUNTIME.clear()
        _LOG.warning("Batch Studio stopped%s.", f"; {len(left)} paid call(s) still running are "
                     "settled by the ledger's rules at the next start" if left else "")


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
    ready = await asyncio.to_thread(services.readiness, rt)
    body: dict[str, Any] = {"ready": ready.ready, "checks": ready.checks}
    if not ready.ready:
        body["reason"] = ready.reason
    return JSONResponse(body, status_code=200 if ready.ready else 503, headers=_NO_STORE)


class _Snapshot(Collector):
    """Reads ``services.metrics_snapshot`` once per scrape."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def collect(self) -> Iterable[GaugeMetricFamily]:
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
        ledger_ok = GaugeMetricFamily("batchstudio_ledger_readable",
                                      "1 when the spend ledger could be read for this scrape.")
        ledger_ok.add_metric([], 0 if snap.problem else 1)
        yield from (spent, reserved, calls, jobs, sessions, ledger_ok)


async def metrics(request: Request) -> Response:
    """Prometheus text format, read from the runtime now."""
    rt = _runtime()
    if rt is None:
        return Response("the app is starting\n", status_code=503, media_type="text/plain",
                        headers=_NO_STORE)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Snapshot(rt))
    text = await asyncio.to_thread(generate_latest, registry)
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8",
                    headers=_NO_STORE)


def routes() -> list[BaseRoute]:
    """The routes beside the page (GET only; no query string or body is read)."""
    return [Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"])]
