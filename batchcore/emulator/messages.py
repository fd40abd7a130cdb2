"""The emulator's wire types, and builders for every body shape the real server answers with.

``EmuRequest`` and ``EmuResponse`` are what both faces (in-process transport, ASGI server)
translate to and from; everything else in the emulator only sees these.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUDGET_TYPE",
    "PROBLEM_BASE",
    "EmuRequest",
    "EmuResponse",
    "fastify_error",
    "js_stringify",
    "js_utf8",
    "json_response",
    "problem",
]

PROBLEM_BASE = "https://api.ai-platform.com/problems/"
BUDGET_TYPE = "https://example.com/problems/budget-exceeded"

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

#: Legacy ``{error, message}`` codes, by status, for ``error_style="legacy"``.
_LEGACY_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    402: "BUDGET_EXCEEDED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "SERVICE_UNAVAILABLE",
}


@dataclass(frozen=True)
class EmuRequest:
    """One HTTP request as the emulator core sees it (header names are lower-case)."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Scheme and host the client used (``https://emulator.local``, ``http://127.0.0.1:8787``):
    #: asset URLs in responses point back here.
    base_url: str = "https://emulator.local"

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def url(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")


@dataclass
class EmuResponse:
    """One HTTP answer; ``body`` is bytes, or an iterator of byte chunks (Server-Sent Events).

    ``transport_fault`` is set by fault modes the HTTP exchange itself must show:
    ``"timeout"`` (the request was processed, the answer never arrives) and
    ``"connect_refused"`` (the request never reached the server). ``delay`` holds the answer
    back (the ``slow`` fault): the in-process face sleeps, or raises ``httpx.ReadTimeout``
    when the client's read timeout is shorter.
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""
    transport_fault: str | None = None
    #: Seconds the answer is held back before it is sent (the ``slow`` fault).
    delay: float = 0.0

    @property
    def streaming(self) -> bool:
        return not isinstance(self.body, (bytes, bytearray))

    def json(self) -> Any:
        """The body parsed as JSON (for callers of ``Emulator.handle`` such as tests)."""
        body = self.body
        return json.loads(body if isinstance(body, (bytes, bytearray)) else b"".join(body))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def js_stringify(payload: Any) -> str:
    """``JSON.stringify(payload)``: compact, non-ASCII kept as is, and a lone UTF-16 surrogate
    (valid in a JavaScript string, and so in a request the server accepted) written as its
    ``\\udxxx`` escape, as well-formed ``JSON.stringify`` does."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def js_utf8(text: str) -> bytes:
    """``Buffer.from(text, "utf8")``: UTF-8, a lone surrogate becoming U+FFFD (never an error)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")


def _dumps(payload: Any) -> bytes:
    return js_stringify(payload).encode("utf-8")


def json_response(
    payload: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> EmuResponse:
    """A JSON answer (``application/json; charset=utf-8`` like Fastify)."""
    return EmuResponse(
        status,
        [("content-type", "application/json; charset=utf-8"), *headers],
        _dumps(payload),
    )


def problem(
    status: int,
    slug_or_type: str,
    title: str,
    detail: str | None,
    instance: str,
    *,
    style: str = "problem",
    headers: Iterable[tuple[str, str]] = (),
) -> EmuResponse:
    """An RFC 7807 answer exactly as the server sends it: only type/title/status/instance/detail.

    With ``style="legacy"`` the same error is sent the way older revisions did:
    ``{error: "SOME_CODE", message}`` as ``application/json``.
    """
    if style == "legacy":
        code = _LEGACY_CODES.get(status, "ERROR")
        return json_response(
            {"error": code, "message": detail or title}, status, headers
        )
    type_ = slug_or_type if "://" in slug_or_type else PROBLEM_BASE + slug_or_type
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "instance": instance}
    if detail:
        body["detail"] = detail
    return EmuResponse(
        status,
        [("content-type", "application/problem+json"), *headers],
        _dumps(body),
    )


def fastify_error(status: int, message: str) -> EmuResponse:
    """Fastify's own error body ``{statusCode, error, message}`` (framework-level errors)."""
    return json_response(
        {"statusCode": status, "error": _REASONS.get(status, "Error"), "message": message}, status
    )

