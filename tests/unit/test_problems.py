"""Error answers of every shape become one exception a person understands, without the key."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcore.errors import (
    ApiError,
    AuthError,
    BudgetExceeded,
    NotImplementedByBackend,
    RateLimited,
    ResponseFormatError,
)
from batchcore.wire.problems import error_from_response, json_body, parse_retry_after, scrub
from tests.conftest import fake_key

PROBLEM = "application/problem+json"


def answer(status: int, body: str | bytes = b"", content_type: str = "application/json",
           headers: dict[str, str] | None = None) -> httpx.Response:
    """Fetch a response from a one-line MockTransport handler (a real httpx round trip)."""
    def handler(request: httpx.Request) -> httpx.Response:
        all_headers = {"content-type": content_type, **(headers or {})}
        return httpx.Response(status, headers=all_headers, content=body if isinstance(body, bytes) else body.encode())

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return client.get("https://orchestrator.test/batch/images")


def problem(status: int, slug: str, title: str, detail: str | None = None) -> str:
    body = {"type": f"https://api.ai-platform.com/problems/{slug}", "title": title, "status": status,
            "instance": "/batch/images"}
    if detail is not None:
        body["detail"] = detail
    return json.dumps(body)


def test_problem_json_gives_title_and_detail():
    """A problem+json 400 becomes an ApiError whose message has the title and the detail."""
    exc = error_from_response(answer(400, problem(400, "invalid-request-schema", "Invalid Request Schema",
                                                  "Request does not match expected schema"), PROBLEM))
    assert type(exc) is ApiError
    assert (exc.status, exc.title, exc.detail) == (400, "Invalid Request Schema", "Request does not match expected schema")
    assert exc.type.endswith("/invalid-request-schema")
    assert "Request does not match expected schema" in str(exc)
    assert "which row" in str(exc)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_say_check_the_key(status):
    """401 and 403 become AuthError telling the person to check the API key."""
    exc = error_from_response(answer(status, problem(status, "permission-denied", "Invalid API Key",
                                                     "The provided API key is not valid."), PROBLEM))
    assert isinstance(exc, AuthError)
    assert "check the api key" in str(exc).lower()
    assert "The provided API key is not valid." in str(exc)


def test_budget_exceeded_is_its_own_error():
    """402 with the budget problem type becomes BudgetExceeded mentioning the daily limit."""
    body = json.dumps({"type": "https://example.com/problems/budget-exceeded", "title": "Budget Exceeded",
                       "status": 402, "instance": "/batch/images"})
    exc = error_from_response(answer(402, body, PROBLEM))
    assert isinstance(exc, BudgetExceeded)
    assert "Budget Exceeded" in str(exc) and "daily" in str(exc)


def test_rate_limited_reads_retry_after_seconds():
    """429 with Retry-After: 7 becomes RateLimited(retry_after=7) and says so."""
    exc = error_from_response(answer(429, problem(429, "rate-limited", "Too Many Requests"), PROBLEM,
                                     {"Retry-After": "7"}))
    assert isinstance(exc, RateLimited)
    assert exc.retry_after == 7.0
    assert "7 s" in str(exc)


def test_rate_limited_reads_retry_after_http_date():
    """A Retry-After given as an HTTP date is turned into seconds from now."""
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    exc = error_from_response(answer(429, "slow down", "text/plain", {"Retry-After": when}))
    assert isinstance(exc, RateLimited)
    assert 100 <= exc.retry_after <= 121


def test_rate_limited_without_retry_after():
    """A 429 without Retry-After is RateLimited with retry_after None."""
    exc = error_from_response(answer(429, '{"statusCode":429,"error":"Too Many Requests","message":"Rate limit exceeded, retry in 1 minute"}'))
    assert isinstance(exc, RateLimited) and exc.retry_after is None
    assert "Rate limit exceeded" in str(exc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("30", 30.0), ("1.5", 1.5), ("", None), (None, None), ("soon", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_parse_retry_after(value, expected):
    """Retry-After is read as seconds, an HTTP date (a past one gives 0), or nothing."""
    assert parse_retry_after(value) == expected


@given(st.text())
def test_parse_retry_after_never_raises(value):
    """Any Retry-After text gives a non-negative number of seconds or None."""
    result = parse_retry_after(value)
    assert result is None or result >= 0


def test_not_implemented():
    """501 problem+json becomes NotImplementedByBackend."""
    exc = error_from_response(answer(501, problem(501, "not-implemented", "Not Implemented",
                                                  "Video generation is not yet implemented"), PROBLEM))
    assert isinstance(exc, NotImplementedByBackend)
    assert "Video generation is not yet implemented" in str(exc)


def test_legacy_error_message_shape():
    """The legacy {error, message} body gives the code and the message."""
    exc = error_from_response(answer(400, '{"error": "BATCH_TOO_LARGE", "message": "At most 10 items"}'))
    assert (exc.title, exc.detail) == ("BATCH_TOO_LARGE", "At most 10 items")
    assert "BATCH_TOO_LARGE" in str(exc) and "At most 10 items" in str(exc)


def test_fastify_shape():
    """Fastify's {statusCode, error, message} gives the message without repeating the phrase."""
    exc = error_from_response(answer(404, '{"message":"Route GET:/x not found","error":"Not Found","statusCode":404}'))
    assert exc.status == 404
    assert "404 Not Found" in str(exc) and "Route GET:/x not found" in str(exc)
    assert "(Not Found)" not in str(exc)


def test_plain_text_body():
    """A plain-text error body is quoted (shortened) in the message."""
    exc = error_from_response(answer(500, "upstream exploded " * 40, "text/plain"))
    assert exc.status == 500
    assert "upstream exploded" in str(exc)
    assert len(str(exc)) < 400


def test_html_gateway_page_is_summarised_not_dumped():
    """A 502 HTML page from a load balancer is described in one sentence with a short excerpt."""
    page = ("<!DOCTYPE html><html><head><title>502 Server Error</title><style>body{color:red}</style></head>"
            "<body><h1>Error: Server Error</h1><p>The server encountered a temporary error"
            + " and could not complete your request." * 50 + "</p></body></html>")
    exc = error_from_response(answer(502, page, "text/html; charset=UTF-8"))
    message = str(exc)
    assert message.startswith("The orchestrator's gateway answered 502 Bad Gateway (an HTML error page")
    assert "<" not in message and "color:red" not in message
    assert len(message) < 300


def test_html_without_content_type_is_still_recognised():
    """An HTML body sent as text/plain is still summarised, not dumped."""
    exc = error_from_response(answer(503, "<html><body><h1>Service Unavailable</h1></body></html>", "text/plain"))
    assert "HTML error page" in str(exc) and "<h1>" not in str(exc)


def test_empty_error_body():
    """An error with no body says so instead of showing nothing."""
    exc = error_from_response(answer(503, b"", "text/plain"))
    assert "503 Service Unavailable" in str(exc) and "no details" in str(exc)


def test_key_echoed_back_is_redacted_everywhere():
    """When the server echoes the key back, it is in no message, title, detail or repr."""
    key = fake_key("k")
    bodies = [
        (problem(401, "permission-denied", f"Invalid key {key}", f"Key {key} is not valid"), PROBLEM),
        (json.dumps({"error": key, "message": f"bad key {key}"}), "application/json"),
        (f"<html><title>denied {key}</title></html>", "text/html"),
        (f"your key {key} is wrong", "text/plain"),
    ]
    for body, content_type in bodies:
        exc = error_from_response(answer(401, body, content_type), secrets=(key,))
        for text in (str(exc), repr(exc), exc.title, exc.detail, exc.type):
            assert key not in text


def test_key_shaped_text_is_redacted_even_when_not_told():
    """Anything shaped like an API key is scrubbed even if it is not the client's own key."""
    other = fake_key("z")
    exc = error_from_response(answer(400, f"key {other} refused", "text/plain"))
    assert other not in str(exc)
    assert scrub(f"a {other} b") == "a [redacted] b"


def test_malformed_json_in_a_success_is_a_response_format_error():
    """A 200 whose body is not JSON raises ResponseFormatError, naming what was wrong."""
    with pytest.raises(ResponseFormatError) as info:
        json_body(answer(200, '{"batchId": "b", "jobs": [', "application/json"), "image generation")
    assert "not valid JSON" in str(info.value)
    with pytest.raises(ResponseFormatError, match="HTML page"):
        json_body(answer(200, "<html><body>hi</body></html>", "text/html"), "dry-run")
    with pytest.raises(ResponseFormatError, match="empty body"):
        json_body(answer(200, b""), "dry-run")


def test_valid_json_is_returned():
    """A JSON body is returned as data."""
    assert json_body(answer(200, '{"a": [1, 2]}'), "x") == {"a": [1, 2]}


@given(st.integers(min_value=400, max_value=599), st.text(max_size=300),
       st.sampled_from(["application/json", PROBLEM, "text/html", "text/plain", ""]))
def test_any_error_body_maps_to_an_api_error(status, body, content_type):
    """Whatever the error body, the result is an ApiError with a non-empty one-paragraph message."""
    exc = error_from_response(answer(status, body, content_type))
    assert isinstance(exc, ApiError)
    assert exc.status == status
    assert str(exc).strip()


def test_retry_after_date_with_unknown_zone_is_read_as_utc():
    """An HTTP date ending '-0000' (zone unknown) is read as UTC: 30 s from a clock at 07:28:00 UTC."""
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 -0000", now=now) == 30.0


def test_nested_error_object_gives_its_code_and_message():
    """A Google-style {"error": {"code", "message"}} body gives the code as title and the message as detail."""
    body = '{"error": {"code": "RESOURCE_EXHAUSTED", "message": "Quota exceeded for images"}}'
    exc = error_from_response(answer(503, body))
    assert type(exc) is ApiError and exc.status == 503
    assert (exc.title, exc.detail) == ("RESOURCE_EXHAUSTED", "Quota exceeded for images")
    assert str(exc).startswith(
        "The orchestrator answered 503 Service Unavailable (RESOURCE_EXHAUSTED): Quota exceeded for images.")


def test_nested_error_object_prefers_the_top_level_message_and_falls_back_to_its_type():
    """{"message": m, "error": {"type": t}}: the top-level message is the detail and the type the title."""
    exc = error_from_response(answer(400, '{"message": "prompt too long", "error": {"type": "invalid_request"}}'))
    assert (exc.title, exc.detail) == ("invalid_request", "prompt too long")
