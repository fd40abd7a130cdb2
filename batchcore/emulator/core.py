"""``Emulator``: the orchestrator as it really behaves, as one pure-ish ``handle`` function.

``Emulator.handle(EmuRequest) -> EmuResponse`` is the whole server: routing, rate limit,
auth, faults, then the route. Both faces (``EmulatorTransport`` in-process, the ASGI app
served by uvicorn) are thin adapters over it, so they give identical results.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .assets import AssetStore
from .config import EmulatorConfig
from .faults import Fault, FaultPlan
from .ledger import ChargeLedger
from .messages import EmuRequest, EmuResponse, fastify_error, json_response, problem

__all__ = ["JOB_ID_PATTERN", "Emulator", "RequestContext", "iso"]

JOB_ID_PATTERN = re.compile(r"^(job|batch)_\d+_[a-z0-9]+$")
_OPEN_PATHS = frozenset({"/healthz", "/readiness"})
_KEY_BODY = re.compile(r"^[A-Za-z0-9+/=_-]+$")
_LB_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>Google Frontend</center>"
    b"</body></html>"
)


class _NotJson(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _not_json(token: str) -> Any:
    raise _NotJson(token)


def iso(moment: datetime) -> str:
    """JavaScript's ``toISOString()``: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass
class RequestContext:
    """What the pipeline learned about one request before its route runs."""

    req: EmuRequest
    key_id: str
    fault: Fault | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def unknown_status(self) -> str | None:
        return self.fault.status if self.fault and self.fault.kind == "unknown_status" else None

    @property
    def partial(self) -> Fault | None:
        return self.fault if self.fault and self.fault.kind == "partial" else None


Route = Callable[["Emulator", RequestContext], EmuResponse]


class Emulator:
    """The emulated orchestrator. Thread-safe; ``config.now`` is its only clock.

    Inspect what it billed with ``emu.ledger``; arm faults with ``emu.faults.add(...)``.
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        if config is None:
            config = EmulatorConfig(**overrides)
        elif overrides:
            raise TypeError("pass either an EmulatorConfig or keyword overrides, not both")
        self.config = config
        self.ledger = ChargeLedger()
        self.faults = FaultPlan()
        self.assets = AssetStore(config.image_size, config.thumb_size)
        self.lock = threading.RLock()
        self.batches: dict[str, dict[str, Any]] = {}  # /progress ledger, by batchId
        self.jobs: dict[str, Any] = {}  # brief-profile batch jobs and video jobs, by jobId
        self.attempts: Counter[tuple[str, str]] = Counter()
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._serial = 0
        from .routes import ROUTES  # late import: routes use this module's helpers

        self._routes: list[tuple[str, re.Pattern[str], Route, bool]] = ROUTES

    # -- helpers used by the routes -------------------------------------------------------
    def now(self) -> datetime:
        return self.config.now()

    @staticmethod
    def iso(moment: datetime) -> str:
        return iso(moment)

    def next_serial(self) -> int:
        with self.lock:
            self._serial += 1
            return self._serial

    def problem(self, ctx: RequestContext, status: int, slug: str, title: str, detail: str | None, *, instance: str | None = None, headers: list[tuple[str, str]] | None = None) -> EmuResponse:
        return problem(
            status, slug, title, detail, instance or ctx.req.url,
            style=self.config.error_style, headers=headers or (),
        )

    def over_budget(self, ctx: RequestContext, now: datetime, exact: Decimal, estimated: float, instance: str) -> EmuResponse | None:
        """The server's 402 when ``exact`` dollars exceed what is left of the key's daily budget."""
        remaining = self.config.daily_budget - self.ledger.spent(ctx.key_id, now.date())
        if exact <= remaining:
            return None
        return self.problem(
            ctx, 402, "https://example.com/problems/budget-exceeded", "Budget Exceeded",
            f"Estimated cost ${estimated:.2f} exceeds remaining daily budget ${float(remaining):.2f}",
            instance=instance,
        )

    def invalid_schema(self, ctx: RequestContext, detail: str = "Request does not match expected schema") -> EmuResponse:
        return self.problem(ctx, 400, "invalid-request-schema", "Invalid Request Schema", detail)

    def read_json(self, ctx: RequestContext) -> tuple[Any, EmuResponse | None]:
        """The body as JSON; Fastify's own 400 for malformed JSON; ``None`` for no body."""
        raw = ctx.req.body
        if not raw.strip():
            return None, None
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_not_json), None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            pos = getattr(exc, "pos", 0)
            return None, fastify_error(400, f"Unexpected token in JSON at position {pos}")
        except _NotJson as exc:  # NaN / Infinity: Python reads them, JSON.parse does not
            pos = max(0, raw.find(exc.token.encode()))
            return None, fastify_error(400, f"Unexpected token {exc.token[0]} in JSON at position {pos}")

    def should_fail(self, ctx: RequestContext, index: int, scene_id: str, prompt: str) -> bool:
        """Whether this row's generation fails: configured scenes, a ``partial`` fault, or
        the seeded failure rate (a retry of the same row is a new draw)."""
        if scene_id in self.config.fail_scenes:
            return True
        partial = ctx.partial
        if partial is not None:
            if partial.scenes:
                if scene_id in partial.scenes:
                    return True
            elif index % 2 == 1:
                return True
        if self.config.failure_rate > 0:
            with self.lock:
                self.attempts[(scene_id, prompt)] += 1
                attempt = self.attempts[(scene_id, prompt)]
            seed = f"{self.config.seed}\x1f{scene_id}\x1f{prompt}\x1f{attempt}".encode("utf-8", "surrogatepass")
            digest = hashlib.sha256(seed).digest()
            return int.from_bytes(digest[:8], "big") / 2**64 < self.config.failure_rate
        return False

    def tint_of(self, base_url: str) -> Callable[[tuple[str, ...]], tuple[int, int, int] | None]:
        """Reference tint: the dominant colour of the first reference that is our own upload."""

        def tint(refs: tuple[str, ...]) -> tuple[int, int, int] | None:
            for url in refs:
                asset_id = self.assets.id_from_url(url, base_url)
                if asset_id is not None:
                    colour = self.assets.dominant(asset_id)
                    if colour is not None:
                        return colour
            return None

        return tint

    # -- the pipeline -----------------------------------------------------------------------
    def handle(self, req: EmuRequest) -> EmuResponse:
        """Answer one request: route → faults → rate limit → auth → route → late faults."""
        match = self._match(req.method, req.path)
        if match is None:
            return json_response(
                {"message": f"Route {req.method}:{req.url} not found", "error": "Not Found", "statusCode": 404},
                404,
            )
        route, params, is_asset = match
        if is_asset:
            return route(self, RequestContext(req, "", None, params))
        fault = self.faults.take(req.method, req.path)
        ctx = RequestContext(req, self._key_id(req), fault, params)
        early = self._early_fault(ctx)
        if early is not None:
            return early
        limited, rate_headers = self._rate_limit(ctx)
        if limited is not None:
            return limited
        denied = self._authenticate(ctx)
        if denied is not None:
            denied.headers.extend(rate_headers)
            return denied
        response = route(self, ctx)
        response.headers.extend(rate_headers)
        return self._late_fault(ctx, response)

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str], bool] | None:
        for verb, pattern, route, is_asset in self._routes:
            m = pattern.match(path)
            if m and (method == verb or (verb == "GET" and method == "HEAD" and is_asset)):
                return route, m.groupdict(), is_asset
        return None

    @staticmethod
    def _api_key(req: EmuRequest) -> str | None:
        auth = req.header("authorization")
        if auth and auth.startswith("Bearer "):
            return auth[7:]
        return req.header("x-api-key")

    def _key_id(self, req: EmuRequest) -> str:
        key = self._api_key(req)
        return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12] if key else "anonymous"

    def _early_fault(self, ctx: RequestContext) -> EmuResponse | None:
        fault = ctx.fault
        if fault is None:
            return None
        if fault.kind == "connect_refused":
            return EmuResponse(0, [], b"", transport_fault="connect_refused")
        if fault.kind == "500":
            return self.problem(ctx, 500, "internal-error", "Internal Server Error", "An unexpected error occurred")
        if fault.kind == "answer":
            return self.crafted(fault)
        if fault.kind == "502_html":
            return EmuResponse(502, [("content-type", "text/html; charset=UTF-8")], _LB_PAGE)
        if fault.kind == "429":
            return self.problem(
                ctx, 429, "rate-limited", "Rate Limited",
                f"Please wait {fault.retry_after} seconds before retrying",
                headers=[("retry-after", str(fault.retry_after)),
                         ("x-ratelimit-limit", str(self.config.rate_limit_per_minute)),
                         ("x-ratelimit-remaining", "0")],
            )
        return None

    @staticmethod
    def crafted(fault: Fault) -> EmuResponse:
        """The answer an ``answer``/``answer_after`` fault was armed with."""
        headers = [("content-type", fault.answer_type), *fault.answer_headers]
        return EmuResponse(fault.answer_status, headers, fault.answer_body.encode("utf-8"))

    def _rate_limit(self, ctx: RequestContext) -> tuple[EmuResponse | None, list[tuple[str, str]]]:
        limit = self.config.rate_limit_per_minute
        if limit <= 0:
            return None, []
        now = self.now().timestamp()
        with self.lock:
            hits = self._hits[ctx.key_id]
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= limit:
                retry = max(1, math.ceil(hits[0] + 60 - now))
                headers = [("x-ratelimit-limit", str(limit)), ("x-ratelimit-remaining", "0"),
                           ("x-ratelimit-reset", str(retry)), ("retry-after", str(retry))]
                return self.problem(
                    ctx, 429, "rate-limited", "Rate Limited",
                    f"Rate limit exceeded, retry in {retry} seconds", headers=headers,
                ), []
            hits.append(now)
            remaining = limit - len(hits)
        return None, [("x-ratelimit-limit", str(limit)), ("x-ratelimit-remaining", str(remaining))]

    def _authenticate(self, ctx: RequestContext) -> EmuResponse | None:
        req = ctx.req
        if req.path in _OPEN_PATHS and not req.query:
            return None
        key = self._api_key(req)
        if key is None:
            if not self.config.require_key:
                return None
            return self.problem(
                ctx, 401, "permission-denied", "Authentication Required",
                "API key required. Provide key via Authorization: Bearer <key> or X-API-Key header.",
            )
        if not key.startswith("aip_") or len(key) < 40 or not _KEY_BODY.match(key[4:]):
            return self.problem(
                ctx, 401, "permission-denied", "Invalid API Key Format",
                'API key must start with "aip_" and be properly formatted.',
            )
        if self.config.api_keys and key not in self.config.api_keys:
            return self.problem(
                ctx, 401, "permission-denied", "Invalid API Key", "The provided API key is not valid."
            )
        return None

    def _late_fault(self, ctx: RequestContext, response: EmuResponse) -> EmuResponse:
        fault = ctx.fault
        if fault is None:
            return response
        if fault.kind == "answer_after":
            return self.crafted(fault)
        if fault.kind == "timeout_after_accept":
            response.transport_fault = "timeout"
        elif fault.kind == "slow":
            response.delay = fault.seconds
        elif fault.kind == "malformed_json" and not response.streaming:
            body = bytes(response.body)  # type: ignore[arg-type]
            response.status = 200
            response.headers = [(k, v) for k, v in response.headers if k.lower() != "content-type"]
            response.headers.append(("content-type", "application/json; charset=utf-8"))
            response.body = body[: max(1, len(body) // 2)] if len(body) > 2 else b'{"batchId":'
        return response

    # -- convenience for tests and the app --------------------------------------------------
    def reset(self) -> None:
        """Forget everything: ledger, faults, jobs, rate-limit windows (assets stay cached)."""
        with self.lock:
            self.ledger.clear()
            self.faults.clear()
            self.batches.clear()
            self.jobs.clear()
            self.attempts.clear()
            self._hits.clear()


def seconds_between(a: datetime, b: datetime) -> float:
    return (b - a) / timedelta(seconds=1)
