"""Turn any error answer from the orchestrator into one exception a person understands.

Bodies understood (see ``docs/backend-contract.md``):

* RFC 7807 ``application/problem+json``: ``{type, title, status, detail?, instance}``;
* the older ``{error: "SOME_CODE", message: "..."}``;
* Fastify's own ``{statusCode, error, message}`` (malformed JSON, unknown route …);
* plain text, and HTML error pages from a gateway or load balancer (never dumped whole).

The status picks the class: 401/403 → :class:`AuthError`, 402 → :class:`BudgetExceeded`,
429 → :class:`RateLimited` (with ``retry_after``), 501 → :class:`NotImplementedByBackend`,
anything else → :class:`ApiError`. Every text that reaches a message is passed through
:func:`scrub`, so an API key echoed back by a server never reaches the page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from batchcore.domain import clock
from batchcore.errors import (
    ApiError,
    AuthError,
    BudgetExceeded,
    NotImplementedByBackend,
    RateLimited,
    ResponseFormatError,
    redact,
)

if TYPE_CHECKING:  # only its type: reading an answer needs no HTTP library here (pure)
    import httpx

__all__ = [
    "SCHEMA_REFUSAL",
    "SHARED_RATE_LIMIT",
    "error_from_response",
    "json_body",
    "parse_retry_after",
    "reason_phrase",
    "scrub",
]

#: Said with every 429: the server counts requests per client address, so everyone using
#: one deployment of this app draws on the same 100 requests a minute.
SHARED_RATE_LIMIT = ("Its limit of 100 requests a minute is shared by everyone using this "
                     "deployment of Batch Studio.")
#: ``ApiError.type`` of a request the server's schema refused in a 5xx (see _zod_issues)
SCHEMA_REFUSAL = "batch-studio:schema-refusal"
#: Anything shaped like an orchestrator key, even one we were not told about.
_KEY_SHAPE = re.compile(r"aip_[A-Za-z0-9_\-]{8,}")
_EXCERPT = 160


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` without the given secrets or anything shaped like an API key."""
    return _KEY_SHAPE.sub("[redacted]", redact(text, *secrets))


def reason_phrase(status: int) -> str:
    """``"502 Bad Gateway"`` for 502; just the number for a status HTTP does not name."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); ``None``
    when absent or unreadable. A date in the past gives 0."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    moment = clock.moment(now)
    return max(0.0, (when - moment).total_seconds())


def _short(text: str, limit: int = _EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _html_excerpt(body: str) -> str:
    """The page's title (or first heading, or first words) as plain text."""
    for pattern in (r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>"):
        match = re.search(pattern, body, re.IGNORECASE | re.DOTALL)
        if match:
            text = re.sub(r"<[^>]+>", " ", match.group(1))
            if text.strip():
                return _short(html.unescape(text), 100)
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.IGNORECASE | re.DOTALL)
    return _short(html.unescape(re.sub(r"<[^>]+>", " ", body)), 100)


def _looks_like_html(content_type: str, text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return "html" in content_type or head.startswith(("<!doctype html", "<html", "<head", "<body"))


def _read_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _zod_issues(message: Any) -> str:
    """``"jobId: Invalid"`` when ``message`` is a JSON list of zod issues, else ""."""
    if not isinstance(message, str) or not message.lstrip().startswith("["):
        return ""
    data = _read_json(message)
    if not isinstance(data, list) or not data or not all(isinstance(i, Mapping) for i in data):
        return ""
    said = []
    for issue in data[:5]:
        path = issue.get("path")
        where = ".".join(str(p) for p in path) if isinstance(path, list) and path else ""
        text = str(issue.get("message") or issue.get("code") or "invalid")
        said.append(f"{where}: {text}" if where else text)
    return _short("; ".join(said), 120)


def _hint(status: int) -> str:
    if status in (401, 403):
        return "Check the API key in the app's secrets (ORCHESTRATOR_API_KEY)."
    if status == 402:
        return "The server's daily spending limit is reached; try again after midnight UTC."
    if status == 429:
        return f"Too many requests; wait a moment before trying again. {SHARED_RATE_LIMIT}"
    if status == 501:
        return "The server does not offer this yet."
    if status in (400, 422):
        return "The server does not say which row is wrong; check the rows against the limits."
    if status == 404:
        return "The server does not know this address or id."
    if status >= 500:
        return "This is a problem on the orchestrator's side; try again in a minute."
    return ""


def _class_for(status: int) -> type[ApiError]:
    if status in (401, 403):
        return AuthError
    if status == 402:
        return BudgetExceeded
    if status == 429:
        return RateLimited
    if status == 501:
        return NotImplementedByBackend
    return ApiError


def error_from_response(
    response: httpx.Response, *, secrets: tuple[str | None, ...] = ()
) -> ApiError:
    """The :class:`ApiError` (or subclass) for an error ``response``; returned, not raised."""
    status = response.status_code
    phrase = reason_phrase(status)
    content_type = response.headers.get("content-type", "").lower()
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):  # pragma: no cover - httpx decodes leniently
        text = ""
    title = detail = type_ = ""
    data = _read_json(text) if text.strip() else None

    if isinstance(data, Mapping) and ("title" in data or "detail" in data or "problem" in content_type):
        # RFC 7807 problem details
        title = str(data.get("title") or "")
        detail = str(data.get("detail") or "")
        type_ = str(data.get("type") or "")
        what = f"{phrase}: {title}" if title and title.lower() != phrase.split(" ", 1)[-1].lower() else phrase
        told = detail or title
        summary = f"The orchestrator refused the request ({what})" + (f": {_short(told)}" if detail else ".")
    elif isinstance(data, Mapping) and (issues := _zod_issues(data.get("message"))):
        # Fastify answering a schema failure of a path parameter (e.g. a malformed job id) with
        # the raw zod issues as its message, as a 500: said in words, never the raw JSON, and
        # not retried (the same request fails the same way).
        title = str(data.get("error") or "")
        detail = issues
        type_ = SCHEMA_REFUSAL
        summary = (f"The orchestrator answered {phrase}: its schema check refused the request "
                   f"({_short(issues)}). Trying again will not help.")
    elif isinstance(data, Mapping) and ("error" in data or "message" in data or "statusCode" in data):
        error = data.get("error")
        message = data.get("message")
        if isinstance(error, Mapping):  # {"error": {"code", "message"}}
            message = message or error.get("message")
            error = error.get("code") or error.get("type")
        title = str(error or "")
        detail = str(message or "")
        label = f" ({title})" if title and title.lower() != phrase.split(" ", 1)[-1].lower() else ""
        summary = f"The orchestrator answered {phrase}{label}" + (f": {_short(detail)}" if detail else ".")
    elif text.strip() and _looks_like_html(content_type, text):
        excerpt = _html_excerpt(text)
        detail = excerpt
        summary = (
            f"The orchestrator's gateway answered {phrase} (an HTML error page"
            + (f': "{excerpt}"' if excerpt and excerpt.lower() not in phrase.lower() else "")
            + ")."
        )
    elif text.strip():
        detail = _short(text)
        summary = f"The orchestrator answered {phrase}: {detail}"
    else:
        summary = f"The orchestrator answered {phrase} with no details."

    hint = "" if type_ == SCHEMA_REFUSAL else _hint(status)
    if not summary.endswith((".", "!", "?", "…")):
        summary += "."
    message = scrub(f"{summary} {hint}".strip(), *secrets)
    cls = _class_for(status)
    fields: dict[str, Any] = {
        "status": status,
        "title": scrub(title, *secrets),
        "detail": scrub(detail, *secrets),
        "type": scrub(type_, *secrets),
    }
    if cls is RateLimited:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            message = scrub(f"{summary} The orchestrator asks to wait {retry_after:.0f} s before "
                            f"trying again. {SHARED_RATE_LIMIT}", *secrets)
        return RateLimited(message, retry_after=retry_after, **fields)
    return cls(message, **fields)


def json_body(response: httpx.Response, what: str, *, secrets: tuple[str | None, ...] = ()) -> Any:
    """The JSON of a successful ``response``; :class:`ResponseFormatError` if it is not JSON."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):  # pragma: no cover
        text = ""
    if not text.strip():
        raise ResponseFormatError(
            f"The orchestrator answered the {what} request ({reason_phrase(response.status_code)}) "
            "with an empty body."
        )
    data = _read_json(text)
    if data is None and text.strip() != "null":
        content_type = response.headers.get("content-type", "")
        kind = "an HTML page" if _looks_like_html(content_type.lower(), text) else "text that is not valid JSON"
        raise ResponseFormatError(
            scrub(
                f"The orchestrator answered the {what} request with {kind} "
                f"({reason_phrase(response.status_code)}); Batch Studio cannot read it.",
                *secrets,
            )
        )
    return data
