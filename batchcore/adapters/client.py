"""The HTTP client for the orchestrator: exact requests, normalised answers, safe retries.

Money rules, in the order they matter:

* a **paid** call (live images, videos) is resent only when the request provably was not
  processed: the connection could not be made (nothing was sent), or the server answered
  429 (its rate limiter refuses before any work). A read timeout, a dropped connection or a
  5xx after sending raises :class:`~batchcore.errors.OutcomeUnknown` with the batch hash —
  it may have been processed and billed — and is never resent;
* **free** calls (health, dry-run, status, assets) are retried with exponential backoff and
  jitter on connect errors, timeouts, dropped connections, 5xx and 429, honouring
  ``Retry-After``;
* the API key goes only to the orchestrator's own host, in ``X-API-Key``; it never appears
  in a message, a ``repr`` or a log line.

Retries use ``stamina`` (``stamina.set_testing(True, attempts=...)`` switches off waiting
in tests). The transport is injected: tests and the app's mock mode pass the emulator's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, urljoin

import httpx
import stamina

from batchcore.domain.pricing import MAX_REF_IMAGES, MAX_ROWS, MAX_VIDEO_CLIPS
from batchcore.domain.rows import BatchRow, row_problems
from batchcore.errors import (
    ApiError,
    AuthError,
    ConfirmationMismatch,
    InputError,
    OrchestratorError,
    OutcomeUnknown,
    RateLimited,
    ResponseFormatError,
    TransportError,
    UploadError,
)
from batchcore.wire.models import (
    DryRunResult,
    Health,
    LiveResult,
    StatusResult,
    UploadedRef,
    VideoBatchResult,
    VideoItem,
    parse_dry_run,
    parse_health,
    parse_live,
    parse_status,
    parse_uploads,
    parse_videos,
)
from batchcore.wire.problems import (
    SCHEMA_REFUSAL,
    SHARED_RATE_LIMIT,
    error_from_response,
    json_body,
    reason_phrase,
    scrub,
)

__all__ = ["OrchestratorClient", "busy_message", "image_request", "report_waits", "video_request"]

log = logging.getLogger(__name__)

#: httpx failures that happen before a single byte of the request left: safe to resend.
_NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: httpx failures that cannot succeed on a retry (bad URL, unsupported scheme …).
_HOPELESS: tuple[type[Exception], ...] = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError)
_USER_AGENT = "batch-studio/0.1 (+httpx)"
#: who hears about a wait for the server's rate limit, in this thread (see report_waits)
_WAIT_LISTENER: ContextVar[Callable[[float | None, str], None] | None] = ContextVar(
    "batch_studio_wait_listener", default=None)


@contextmanager
def report_waits(listener: Callable[[float | None, str], None] | None) -> Iterator[None]:
    """While inside, every wait the client makes because the server answered 429 calls
    ``listener(seconds, sentence)`` before it waits (``busy_message``), so a page or a
    background job can say "the server is busy — retrying in N s" instead of a bare spinner.
    Per thread (a context variable): other calls are not affected."""
    token = _WAIT_LISTENER.set(listener)
    try:
        yield
    finally:
        _WAIT_LISTENER.reset(token)


def busy_message(seconds: float | None, what: str) -> str:
    """The sentence for a wait on the server's rate limit (``None``: it did not say how long)."""
    when = "in a moment" if seconds is None else f"in {max(seconds, 0):.0f} s"
    return (f"The server is busy (429 Too Many Requests) — retrying the {what} {when}. "
            f"{SHARED_RATE_LIMIT}")


# --- request bodies -------------------------------------------------------------------


def image_request(
    rows: Sequence[BatchRow], run_mode: str, *, own_base_url: str = ""
) -> dict[str, Any]:
    """The exact ``POST /batch/images`` body: only fields the strict server schema knows,
    ``ref_pack_public_urls`` only for rows that have references.

    A row the server's schema would refuse (a prompt over 1,000 UTF-16 units, a reference
    that is not ``https://`` …) raises :class:`InputError` naming the scene: never a 400.
    A reference under ``own_base_url`` (the orchestrator that served it, e.g. the emulator
    on ``http://127.0.0.1``) is accepted as that server accepts it."""
    if run_mode not in ("dry_run", "live"):
        raise ValueError(f"runMode must be 'dry_run' or 'live', not {run_mode!r}")
    if not rows:
        raise InputError("There are no rows to send.")
    if len(rows) > MAX_ROWS:
        raise InputError(f"A batch holds at most {MAX_ROWS} rows; this one has {len(rows)}.")
    items = []
    for row in rows:
        item: dict[str, Any] = {"scene_id": row.scene_id, "prompt": row.prompt, "variants": row.variants}
        if row.ref_urls:
            if len(row.ref_urls) > MAX_REF_IMAGES:
                raise InputError(
                    f"Scene {row.scene_id} has {len(row.ref_urls)} reference images; "
                    f"the limit is {MAX_REF_IMAGES}."
                )
            item["ref_pack_public_urls"] = [{"url": url} for url in row.ref_urls]
        problems = row_problems(row, own_base_url=own_base_url)
        if problems:
            # The server's schema would refuse it with a generic 400: say which row and why.
            raise InputError(f"Scene {row.scene_id}: {problems[0]} Nothing was sent.")
        items.append(item)
    return {"items": items, "runMode": run_mode}


def video_request(items: Sequence[VideoItem], confirm_count: int) -> dict[str, Any]:
    """The exact ``POST /batch/videos`` body; the confirmation must equal the clip count."""
    if not items:
        raise InputError("There are no approved images to turn into clips.")
    if len(items) > MAX_VIDEO_CLIPS:
        raise InputError(f"A video batch holds at most {MAX_VIDEO_CLIPS} clips; this one has {len(items)}.")
    if isinstance(confirm_count, bool) or confirm_count != len(items):
        raise ConfirmationMismatch(
            f"The confirmed count ({confirm_count}) does not match the {len(items)} clip"
            f"{'s' if len(items) != 1 else ''} to generate; nothing was sent."
        )
    return {
        "items": [item.to_request() for item in items],
        "runMode": "live",
        "confirmCount": confirm_count,
    }


# --- the client -----------------------------------------------------------------------


class _NoAnswer(Exception):
    """A transport failure inside one attempt, with the key scrubbed from its text.

    stamina sees (and may log the ``repr`` of) this instead of the httpx exception."""

    def __init__(self, exc: Exception, secret: str) -> None:
        self.kind = type(exc).__name__
        self.reason = scrub(str(exc) or self.kind, secret)
        self.not_sent = isinstance(exc, _NOT_SENT)
        self.hopeless = isinstance(exc, _HOPELESS)
        super().__init__(f"{self.kind}: {self.reason}")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class OrchestratorClient:
    """Talks to the orchestrator (or the in-process emulator via ``transport``).

    ``connect_timeout`` bounds making a connection; ``read_timeout`` bounds waiting for an
    answer on ordinary calls and ``live_read_timeout`` on the paid, synchronous ones (the
    real live call returns only when every image exists: minutes). ``retry_attempts`` and
    ``retry_timeout`` (seconds, in all) bound the retries of a single call.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        live_read_timeout: float = 900.0,
        retry_attempts: int = 4,
        retry_timeout: float = 60.0,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or ""
        self._connect_timeout = connect_timeout
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
        self._live_timeout = httpx.Timeout(
            live_read_timeout, connect=connect_timeout, write=read_timeout, pool=connect_timeout
        )
        self.retry_attempts = max(1, int(retry_attempts))
        self.retry_timeout = float(retry_timeout)
        self._base = httpx.URL(self.base_url + "/")
        # The key is *not* a default header: it is added per request, for the base host only.
        self._http = httpx.Client(
            transport=transport,
            timeout=self._timeout,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (and the injected transport)."""
        self._http.close()

    def __enter__(self) -> OrchestratorClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "[redacted]" if self._api_key else "[none]"
        return f"OrchestratorClient(base_url={self.base_url!r}, api_key={key!r})"

    __str__ = __repr__

    # -- public calls ----------------------------------------------------------------

    def health(self) -> Health:
        """``GET /healthz`` (free, retried; no key needed)."""
        response = self._call("GET", "/healthz", what="health check", paid=False, send_key=False)
        return parse_health(self._json(response, "health check"))

    def check_key(self, *, timeout: float = 5.0) -> None:
        """One cheap authenticated call (``GET /status/job_0_keycheck``: free, no work, the
        real server answers a placeholder): returns if the key is accepted, raises
        :class:`AuthError` if refused, :class:`OrchestratorError` if it could not be told.
        A single try with a short timeout: it runs when the page opens."""
        response = self._call("GET", "/status/job_0_keycheck", what="key check", paid=False,
                              raise_status=False, attempts=1,
                              timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            raise error_from_response(response, secrets=(self._api_key,))

    def dry_run_images(self, rows: Sequence[BatchRow], *, batch_hash: str) -> DryRunResult:
        """``POST /batch/images`` with ``runMode: "dry_run"``: the cost, nothing generated."""
        body = image_request(rows, "dry_run", own_base_url=self.base_url)
        response = self._call("POST", "/batch/images", what="dry-run", paid=False,
                              json=body, batch_hash=batch_hash)
        return parse_dry_run(self._json(response, "dry-run"))

    def generate_images(self, rows: Sequence[BatchRow], *, batch_hash: str) -> LiveResult:
        """PAID. ``POST /batch/images`` with ``runMode: "live"``; never resent once sent."""
        body = image_request(rows, "live", own_base_url=self.base_url)
        response = self._call("POST", "/batch/images", what="image generation", paid=True,
                              json=body, batch_hash=batch_hash, timeout=self._live_timeout)
        return self._paid_parse(parse_live, response, "image generation", batch_hash)

    def job_status(self, job_id: str) -> StatusResult:
        """``GET /status/:jobId`` (free, retried). A placeholder on today's real server."""
        if not job_id:
            raise InputError("There is no job id to ask about.")
        path = "/status/" + quote(job_id, safe="")
        response = self._call("GET", path, what="status", paid=False)
        return parse_status(self._json(response, "status"), job_id)

    def generate_videos(
        self, items: Sequence[VideoItem], *, confirm_count: int, batch_hash: str
    ) -> VideoBatchResult:
        """PAID. ``POST /batch/videos``; ``confirm_count`` must equal the number of clips."""
        body = video_request(items, confirm_count)
        response = self._call("POST", "/batch/videos", what="video generation", paid=True,
                              json=body, batch_hash=batch_hash, timeout=self._live_timeout)
        return self._paid_parse(parse_videos, response, "video generation", batch_hash)

    def upload_references(self, files: Sequence[tuple[str, bytes, str]]) -> list[UploadedRef]:
        """``POST /upload-reference``, multipart field ``images``: one ref per file, in order.

        Failures other than a wrong key raise :class:`UploadError`. Only connect failures
        and 429 are retried (a resent upload would store the files twice)."""
        if not files:
            return []
        if len(files) > MAX_REF_IMAGES:  # the real server answers 500 to a seventh file
            raise InputError(f"At most {MAX_REF_IMAGES} reference images can be uploaded at once; "
                             f"{len(files)} were given. Nothing was sent.")
        parts = [("images", (name, data, mime)) for name, data, mime in files]
        try:
            response = self._call("POST", "/upload-reference", what="reference upload",
                                  paid=False, safe_only=True, files=parts)
            payload = self._json(response, "reference upload")
            if isinstance(payload, dict) and payload.get("success") is False:
                raise ResponseFormatError(
                    scrub(f"The server says the upload did not succeed: "
                          f"{payload.get('message') or payload.get('error') or 'no reason given'}.",
                          self._api_key)
                )
            refs = parse_uploads(payload)
        except AuthError:
            raise
        except OrchestratorError as exc:
            raise UploadError(f"Uploading the reference images failed. {exc}") from None
        if len(refs) != len(files):
            raise UploadError(
                f"The server stored {len(refs)} of the {len(files)} reference images sent; "
                "nothing was attached. Try again."
            )
        return refs

    def fetch_asset(self, url: str, *, attempts: int | None = None,
                    timeout: float | None = None) -> bytes:
        """GET an image or video URL through the same transport and return its bytes.

        The key is sent only when ``url`` is on the orchestrator's own host. A relative URL
        is read against ``base_url``. ``attempts`` and ``timeout`` (seconds) bound the call
        (the page's thumbnails use one short try; a failed one is tried again later)."""
        if not url:
            raise InputError("There is no URL to load.")
        target = httpx.URL(urljoin(self.base_url + "/", url))
        same_host = _origin(target) == _origin(self._base)
        try:
            response = self._call("GET", str(target), what="asset", paid=False,
                                  send_key=same_host, raise_status=False, absolute=True,
                                  attempts=attempts,
                                  timeout=None if timeout is None else httpx.Timeout(
                                      timeout, connect=min(timeout, 3.0)))
        except TransportError as exc:
            raise TransportError(f"Could not load {self._where(target)}: {exc}") from None
        if response.is_error:
            raise ApiError(
                f"Could not load {self._where(target)} ({reason_phrase(response.status_code)}). "
                "Signed links expire after 7 days, and placeholder links from a server without "
                "a generation key never load.",
                status=response.status_code,
            )
        return response.content

    # -- internals -------------------------------------------------------------------

    @staticmethod
    def _where(url: httpx.URL) -> str:
        path = url.path if len(url.path) <= 60 else url.path[:57] + "..."
        return f"the file at {url.host}{path}"  # never the query: signed URLs carry signatures

    def _headers(self, *, send_key: bool, batch_hash: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        if send_key and self._api_key:
            headers["X-API-Key"] = self._api_key
        if batch_hash:
            headers["X-Batch-Hash"] = batch_hash
        return headers

    def _retry_hook(self, *, paid: bool, safe_only: bool, what: str = "request"
                    ) -> Callable[[BaseException], bool | float]:
        """stamina's backoff hook: ``False`` = give up, ``True`` = default backoff, a float
        = wait exactly that long (a server's ``Retry-After``). It takes any ``BaseException``,
        as ``retry_context(on=...)`` may pass one (stamina's ``Callable[[BaseException],
        bool | float | timedelta]``); everything that is not ours gets ``False``."""
        only_safe = paid or safe_only
        limit = self.retry_timeout
        listener = _WAIT_LISTENER.get()

        def hook(exc: BaseException) -> bool | float:
            if isinstance(exc, RateLimited):
                wait = None if exc.retry_after is None else float(exc.retry_after)
                if wait is not None and wait > limit:
                    return False
                if listener is not None:
                    listener(wait, busy_message(wait, what))
                return True if wait is None else wait
            if isinstance(exc, _NoAnswer):
                if exc.hopeless:
                    return False
                # before sending: always safe; after (timeouts, dropped connections): free calls only
                return exc.not_sent or not only_safe
            if isinstance(exc, ApiError):
                return (not only_safe and exc.status >= 500 and exc.status != 501
                        and exc.type != SCHEMA_REFUSAL)
            return False

        return hook

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        paid: bool,
        batch_hash: str = "",
        json: Any = None,
        files: Any = None,
        timeout: httpx.Timeout | None = None,
        send_key: bool = True,
        safe_only: bool = False,
        raise_status: bool = True,
        absolute: bool = False,
        attempts: int | None = None,
    ) -> httpx.Response:
        if paid and not batch_hash:
            raise ValueError("a paid call needs its batch hash")
        url = path if absolute else self.base_url + path
        headers = self._headers(send_key=send_key, batch_hash=batch_hash)
        failure: Exception | None = None
        tries = 0
        try:
            for attempt in stamina.retry_context(
                on=self._retry_hook(paid=paid, safe_only=safe_only, what=what),
                attempts=attempts or self.retry_attempts,
                timeout=self.retry_timeout,
                wait_initial=0.5,
                wait_max=10.0,
                wait_jitter=1.0,
            ):
                with attempt:
                    tries += 1
                    try:
                        response = self._http.request(
                            method, url, json=json, files=files, headers=headers,
                            timeout=timeout or self._timeout,
                        )
                    except httpx.HTTPError as exc:  # transport failures (no status errors here)
                        raise _NoAnswer(exc, self._api_key) from None
                    log.info("%s %s -> %s (try %d)", method, self._log_path(url, absolute),
                             response.status_code, tries)
                    if raise_status and response.is_error:
                        raise error_from_response(response, secrets=(self._api_key,))
                    return response
        except ApiError as exc:
            if paid and exc.status >= 500 and exc.status != 501:
                failure = OutcomeUnknown(
                    scrub(
                        f"The {what} request was sent and the server answered with an error "
                        f"({exc}) It may still have been processed and billed. Do not resend it: "
                        f"check the orchestrator for batch hash {batch_hash} before trying again.",
                        self._api_key,
                    ),
                    batch_hash=batch_hash,
                )
            else:
                raise
        except _NoAnswer as exc:
            failure = self._transport_failure(exc, what=what, paid=paid, batch_hash=batch_hash,
                                              tries=tries, url=httpx.URL(url))
        # Raised outside the except block so no httpx exception (whose request carries the
        # key in its headers) is kept as __context__.
        assert failure is not None
        log.warning("%s %s failed: %s", method, self._log_path(url, absolute), failure)
        raise failure

    def _log_path(self, url: str, absolute: bool) -> str:
        return httpx.URL(url).host + httpx.URL(url).path if absolute else httpx.URL(url).path

    def _transport_failure(
        self, exc: _NoAnswer, *, what: str, paid: bool, batch_hash: str, tries: int, url: httpx.URL
    ) -> OrchestratorError:
        kind, reason = exc.kind, exc.reason
        host = url.host or "the orchestrator"
        times = f" after {tries} tries" if tries > 1 else ""
        if exc.hopeless:
            return TransportError(f"The {what} request could not be sent to {host} ({kind}: {reason}).")
        if exc.not_sent:
            money = " Nothing was sent, so nothing was billed." if paid else " Nothing was sent."
            return TransportError(
                f"Could not connect to {host} for the {what} request{times} ({kind}: {reason})."
                f"{money} Check the network and the base URL, then try again."
            )
        if paid:
            return OutcomeUnknown(
                f"The {what} request was sent to {host}, but no answer came back ({kind}: {reason}). "
                "It may have been processed and billed. It will not be resent automatically: "
                f"check whether batch hash {batch_hash} was generated before trying again.",
                batch_hash=batch_hash,
            )
        return TransportError(
            f"The orchestrator at {host} did not answer the {what} request{times} "
            f"({kind}: {reason}). Nothing is billed for this call; try again in a minute."
        )

    def _json(self, response: httpx.Response, what: str) -> Any:
        return json_body(response, what, secrets=(self._api_key,))

    def _paid_parse(self, parse: Callable[[Any], Any], response: httpx.Response,
                    what: str, batch_hash: str) -> Any:
        """Parse a paid answer; if it cannot be read, say it was probably billed."""
        try:
            return parse(self._json(response, what))
        except ResponseFormatError as exc:
            error = ResponseFormatError(
                f"{exc} The {what} request was accepted ({reason_phrase(response.status_code)}), "
                f"so it was probably processed and billed: do not resend batch hash {batch_hash} "
                "before checking."
            )
            error.batch_hash = batch_hash  # type: ignore[attr-defined]
        raise error

