"""The served face: an ASGI app over ``Emulator.handle``, and ``running_server`` for tests.

Runs on uvicorn (shipped with Streamlit). Asset URLs point at the address the client used
(``http://127.0.0.1:<port>``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import uvicorn

from .core import Emulator
from .messages import EmuRequest

__all__ = ["create_asgi_app", "running_server", "serve"]

_DONE = object()


def _run_sync(func: Any, *args: Any) -> Any:
    try:
        return anyio.to_thread.run_sync(partial(func, *args), abandon_on_cancel=True)
    except TypeError:  # anyio < 4.1
        return anyio.to_thread.run_sync(partial(func, *args), cancellable=True)


def create_asgi_app(emulator: Emulator) -> Any:
    """An ASGI 3 application serving ``emulator``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for raw_key, raw_value in scope["headers"]:
            key, value = raw_key.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        server = scope.get("server") or ("127.0.0.1", 80)
        host = headers.get("host") or f"{server[0]}:{server[1]}"
        request = EmuRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=bytes(body),
            base_url=f"{scope.get('scheme', 'http')}://{host}",
        )
        answer = await _run_sync(emulator.handle, request)
        if answer.transport_fault == "connect_refused":
            # A served request has already connected; the nearest thing is to drop the
            # connection without an answer: promise a body, then never send it.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1024")]})
            return
        if answer.transport_fault == "timeout":
            await anyio.sleep(emulator.config.hang_seconds)
        if answer.delay:
            await anyio.sleep(answer.delay)
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        if isinstance(answer.body, (bytes, bytearray)):
            data = bytes(answer.body)
            raw_headers.append((b"content-length", str(len(data)).encode()))
            await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": data})
            return
        await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
        chunks: Iterator[bytes] = iter(answer.body)
        try:
            while True:
                chunk = await _run_sync(next, chunks, _DONE)
                if chunk is _DONE:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    return app


def _server(emulator: Emulator, host: str, port: int, log_level: str,
            ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        create_asgi_app(emulator), host=host, port=port, log_level=log_level,
        access_log=False, lifespan="off", timeout_graceful_shutdown=1,
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
    )
    return uvicorn.Server(config)


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 8787, log_level: str = "info",
          *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> None:
    """Serve ``emulator`` until interrupted (``python -m batchcore.emulator``); over https
    when given a certificate and its key."""
    _server(emulator, host, port, log_level, ssl_certfile, ssl_keyfile).run()


@contextmanager
def running_server(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``emulator`` on a free loopback port in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    server = _server(emulator, host, sock.getsockname()[1], "warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="emulator-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
