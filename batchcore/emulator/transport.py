"""``EmulatorTransport``: the emulator as a sync ``httpx`` transport, no port needed.

``httpx.Client(transport=EmulatorTransport(emu), base_url="https://emulator.local")``
talks to the emulator in-process (works on Streamlit Community Cloud). Transport-level
faults become the exceptions a real network gives: ``httpx.ConnectError`` (never reached
the server) and ``httpx.ReadTimeout`` (processed, answer lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import httpx

from .core import Emulator
from .messages import EmuRequest

__all__ = ["EmulatorTransport", "to_emu_request"]


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def to_emu_request(request: httpx.Request) -> EmuRequest:
    headers: dict[str, str] = {}
    for raw_key, raw_value in request.headers.raw:
        key, value = raw_key.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    url = request.url
    base = f"{url.scheme}://{url.netloc.decode('ascii')}"
    return EmuRequest(
        method=request.method,
        path=url.path,
        query=url.query.decode("latin-1"),
        headers=headers,
        body=request.read(),
        base_url=base,
    )


class EmulatorTransport(httpx.BaseTransport):
    """Route every request of an ``httpx.Client`` to ``emulator.handle``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.emulator.handle(to_emu_request(request))
        if answer.transport_fault == "connect_refused":
            raise httpx.ConnectError("[Errno 111] Connection refused (emulated)", request=request)
        if answer.transport_fault == "timeout":
            raise httpx.ReadTimeout("The read operation timed out (emulated)", request=request)
        if answer.delay:
            read_timeout = (request.extensions.get("timeout") or {}).get("read")
            if read_timeout is not None and answer.delay > read_timeout:
                self.emulator.config.sleep(read_timeout)
                raise httpx.ReadTimeout("The read operation timed out (emulated slow server)", request=request)
            self.emulator.config.sleep(answer.delay)
        if not isinstance(answer.body, (bytes, bytearray)):  # a stream (server-sent events)
            return httpx.Response(answer.status, headers=answer.headers, stream=_Stream(answer.body), request=request)
        body = bytes(answer.body)
        headers = [*answer.headers, ("content-length", str(len(body)))]
        return httpx.Response(answer.status, headers=headers, content=body, request=request)
