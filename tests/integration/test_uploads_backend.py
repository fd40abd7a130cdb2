"""BackendUploader over real HTTP: the API client's upload_references against a loopback /upload-reference.

The stand-in server below answers ``POST /upload-reference`` the way the real orchestrator does
(``docs/backend-contract.md``, Uploads): multipart form, field ``images``, an API key
header, and ``{success, batchId, images: [{originalName, url, thumbnailUrl, gcsUri, size,
mimeType, uploadedAt}], totalSize}``. It also serves what it stored, so the returned URLs can
be fetched and compared.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PIL import Image

from batchcore.adapters.client import OrchestratorClient
from batchcore.adapters.uploads import BackendUploader, upload_checked, upload_references
from batchcore.errors import AuthError, UploadError
from tests.conftest import fake_key

KEY = fake_key("u")


class _Store:
    def __init__(self) -> None:
        self.parts: list[tuple[str, str, str, bytes]] = []  # field, filename, content type, bytes
        self.answer_status = 200


class _Handler(BaseHTTPRequestHandler):
    store: _Store

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: dict, ctype: str = "application/json") -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        name = self.path.removeprefix("/stored/")
        for _field, filename, ctype, data in self.store.parts:
            if filename == name:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        self._send(404, {"message": "not found"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/upload-reference":
            self._send(404, {"message": f"Route POST:{self.path} not found", "error": "Not Found", "statusCode": 404})
            return
        if self.headers.get("X-API-Key") != KEY and self.headers.get("Authorization") != f"Bearer {KEY}":
            self._send(401, {"type": "https://api.ai-platform.com/problems/permission-denied", "title": "Unauthorized",
                             "status": 401, "detail": "The provided API key is not valid."}, "application/problem+json")
            return
        if self.store.answer_status != 200:
            self._send(self.store.answer_status, {"type": "https://api.ai-platform.com/problems/internal-error",
                                                  "title": "Internal Server Error", "status": self.store.answer_status,
                                                  "detail": "Upload failed"}, "application/problem+json")
            return
        msg = BytesParser().parsebytes(b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
        images = []
        for part in msg.get_payload():
            field = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            self.store.parts.append((field, part.get_filename(), part.get_content_type(), data))
            host = self.headers["Host"]
            images.append({"originalName": part.get_filename(), "url": f"http://{host}/stored/{part.get_filename()}",
                           "gcsUri": f"gs://refs/{part.get_filename()}", "size": len(data),
                           "mimeType": part.get_content_type(), "uploadedAt": "2025-01-01T00:00:00.000Z"})
        self._send(200, {"success": True, "batchId": "upload_1", "images": images,
                         "totalSize": sum(i["size"] for i in images)})


@pytest.fixture(autouse=True)
def loopback_without_proxy(monkeypatch):
    """A CI machine's HTTP(S)_PROXY must not capture loopback traffic (httpx honours NO_PROXY)."""
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get(var, "")])))


@pytest.fixture
def server() -> Iterator[tuple[str, _Store]]:
    store = _Store()
    handler = type("Handler", (_Handler,), {"store": store})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", store
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def picture(fmt: str, color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(out, format=fmt)
    return out.getvalue()


def test_checked_files_reach_the_server_as_multipart_images(server):
    """Accepted files arrive as multipart field 'images' with safe names and real mime types (a name with folders never does); their URLs serve them."""
    base, store = server
    png, jpg = picture("PNG", (1, 2, 3)), picture("JPEG", (200, 9, 9))
    with OrchestratorClient(base, KEY) as client:
        report = upload_references(
            [("My Ref.png", png), ("looks.png", jpg), ("note.png", b"text"), ("../x/My Ref.png", png)],
            BackendUploader(client.upload_references),
        )
    assert report.error is None and [r.name for r in report.refused] == ["note.png", "../x/My Ref.png"]
    assert [(f, n, t, d) for f, n, t, d in store.parts] == [
        ("images", "My_Ref.png", "image/png", png),
        ("images", "looks.jpg", "image/jpeg", jpg),
    ]
    assert [u.name for u in report.uploaded] == ["My_Ref.png", "looks.jpg"]
    assert [httpx.get(u, trust_env=False).content for u in report.urls] == [png, jpg]


def test_wrong_key_is_reported_as_an_auth_error(server):
    """A refused API key comes back as report.error of type AuthError, and nothing is stored."""
    base, store = server
    with OrchestratorClient(base, fake_key("w")) as client:
        report = upload_references([("a.png", picture("PNG", (5, 5, 5)))], BackendUploader(client.upload_references))
    assert isinstance(report.error, AuthError) and report.uploaded == [] and store.parts == []


def test_server_failure_is_an_upload_error_without_the_key(server):
    """A 500 from the server is report.error, an UploadError whose message never contains the key."""
    base, store = server
    store.answer_status = 500
    with OrchestratorClient(base, KEY, retry_attempts=1) as client:
        report = upload_references([("a.png", picture("PNG", (6, 6, 6)))], BackendUploader(client.upload_references))
    assert isinstance(report.error, UploadError) and KEY not in str(report.error)


def test_a_server_failure_can_be_retried_once_the_server_recovers(server):
    """After a 500, report.failed holds the image; sending it again when the server answers stores it exactly once."""
    base, store = server
    png = picture("PNG", (7, 7, 7))
    store.answer_status = 500
    with OrchestratorClient(base, KEY, retry_attempts=1) as client:
        report = upload_references([("a.png", png)], BackendUploader(client.upload_references))
        assert [f.name for f in report.failed] == ["a.png"] and store.parts == []
        store.answer_status = 200
        again = upload_checked(report.failed, BackendUploader(client.upload_references))
    assert again.ok and [d for _f, _n, _t, d in store.parts] == [png]
    assert httpx.get(again.urls[0], trust_env=False).content == png


def test_more_than_six_never_reach_the_server(server):
    """Nine good files through upload_references: the server receives six, the other three are refused by name."""
    base, store = server
    files = [(f"p{i}.png", picture("PNG", (i, 40, 80))) for i in range(9)]
    with OrchestratorClient(base, KEY) as client:
        report = upload_references(files, BackendUploader(client.upload_references))
    assert len(store.parts) == 6 and report.error is None
    assert [r.name for r in report.refused] == ["p6.png", "p7.png", "p8.png"]
