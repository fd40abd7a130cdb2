"""GcsSignedUrlUploader for real: V4 signed PUT/GET URLs against gcp-storage-emulator on loopback.

How it runs: the emulator (``gcp-storage-emulator``, in the test extras) is started as a
subprocess through its public CLI (``python -m gcp_storage_emulator start --in-memory``) on
127.0.0.1 and a free port, with a default bucket, and stopped when the module's tests end.
Signing uses an RSA key pair generated at run time (``cryptography``, a dependency of
``google-auth``) wrapped in ``service_account.Credentials`` with a fake client email; no key
file exists anywhere.

What the emulator does and does not do with signed URLs (read from its ``server.py``): it
routes path-style ``PUT /<bucket>/<object>`` to its XML-API upload and ``GET /<bucket>/<object>``
to download, ignoring the query string, so a V4 signed URL whose ``api_access_endpoint`` is
the emulator really stores and serves the bytes. It does **not** check the signature. So these
tests check it themselves: every PUT the uploader actually sent (captured by an httpx request
hook on the client the uploader uses) and every GET URL it returned is verified, exactly as
GCS documents the V4 algorithm (canonical request -> string to sign -> RSA-SHA256), against the
public half of the generated key, with the headers that really went over the wire.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account
from PIL import Image

from batchcore.adapters.uploads import (
    GcsSignedUrlUploader,
    check_references,
    upload_checked,
    upload_references,
)
from batchcore.errors import UploadError
from tests.conftest import stop_process

BUCKET = "batch-studio-refs"
CLIENT_EMAIL = "ref-signer@batch-studio-test.iam.gserviceaccount.com"


# ----------------------------------------------------------------------------- emulator


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_emulator(tmp_path) -> tuple[subprocess.Popen, str]:
    """Start the emulator on a free loopback port; retry with another port if it dies at start-up."""
    last_log = ""
    for _attempt in range(3):
        port = _free_port()
        log = tmp_path / f"emulator-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
                 "--port", str(port), "--in-memory", "--default-bucket", BUCKET],
                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            )
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(endpoint + "/", timeout=1).text == "OK":
                    return proc, endpoint
            except httpx.HTTPError:
                time.sleep(0.1)
        proc.kill()
        proc.wait()
        last_log = log.read_text(errors="replace")[-2000:]
    pytest.fail(f"gcp-storage-emulator did not start on loopback:\n{last_log}")


@pytest.fixture(scope="module", autouse=True)
def loopback_without_proxy():
    """A CI machine's HTTP(S)_PROXY must not capture loopback traffic (httpx and requests honour NO_PROXY)."""
    with pytest.MonkeyPatch.context() as env:
        for var in ("NO_PROXY", "no_proxy"):
            env.setenv(var, ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get(var, "")])))
        yield


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, loopback_without_proxy):
    proc, endpoint = _start_emulator(tmp_path_factory.mktemp("gcs-emulator"))
    try:
        yield endpoint
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def credentials(signing_key):
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "project_id": "batch-studio-test",
            "private_key_id": "generated-at-test-time",
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


@pytest.fixture
def recorded():
    """An httpx client for the uploader that keeps every request it really sends."""
    sent: list[httpx.Request] = []
    with httpx.Client(timeout=30, event_hooks={"request": [sent.append]}) as client:
        yield client, sent


@pytest.fixture(scope="module")
def bucket_reader(emulator):
    """Reads the emulator's bucket through the ordinary JSON API (no signed URLs involved)."""
    client = storage.Client(
        project="batch-studio-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator}
    )
    return client.bucket(BUCKET)


# ----------------------------------------------------------------------------- V4 verification


def verify_v4_signature(public_key, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    """Check a V4 signed URL the way GCS does; raise InvalidSignature if it does not match. Returns its query."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(params.pop("X-Goog-Signature"))
    signed_headers = params["X-Goog-SignedHeaders"].split(";")
    lower = {k.lower(): v for k, v in headers.items()}
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    canonical_headers = "".join(f"{h}:{' '.join(lower[h].split())}\n" for h in signed_headers)
    canonical_request = "\n".join(
        [method, parts.path, canonical_query, canonical_headers, ";".join(signed_headers), "UNSIGNED-PAYLOAD"]
    )
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        ["GOOG4-RSA-SHA256", params["X-Goog-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return params


def image(fmt: str, color, size=(120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


# ----------------------------------------------------------------------------- tests


def test_signed_put_stores_the_bytes_and_signed_get_serves_them(emulator, credentials, signing_key, recorded, bucket_reader):
    """Images PUT by V4 signed URL land in the bucket byte for byte, with their mime type, and the returned GET URL serves them."""
    http, sent = recorded
    refs = check_references([("kitchen.png", image("PNG", (10, 20, 30))), ("hall.jpg", image("JPEG", (200, 100, 50)))]).accepted
    uploader = GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=emulator, url_ttl=timedelta(days=7))
    uploaded = uploader.upload(refs)

    for ref, up in zip(refs, uploaded):
        blob = bucket_reader.get_blob(f"refs/{ref.sha256}{ref.extension}")
        assert blob is not None and blob.download_as_bytes() == ref.data
        assert blob.content_type == ref.mime
        assert (up.name, up.size, up.mime) == (ref.safe_name, ref.size, ref.mime)
        assert up.gcs_uri == f"gs://{BUCKET}/refs/{ref.sha256}{ref.extension}"
        fetched = httpx.get(up.url)
        assert fetched.status_code == 200 and fetched.content == ref.data

    puts = [r for r in sent if r.method == "PUT"]
    assert [r.content for r in puts] == [ref.data for ref in refs]


def test_every_signature_is_valid_v4_by_the_generated_key(emulator, credentials, signing_key, recorded):
    """Each PUT actually sent, and each GET URL returned, carries a valid V4 signature by our key over what was sent."""
    http, sent = recorded
    refs = check_references([("a.png", image("PNG", (1, 2, 3)))]).accepted
    (up,) = GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=emulator).upload(refs)
    public = signing_key.public_key()

    (put,) = [r for r in sent if r.method == "PUT"]
    put_params = verify_v4_signature(public, "PUT", str(put.url), dict(put.headers))
    assert put_params["X-Goog-SignedHeaders"] == "content-type;host"  # the mime type is part of the signature
    assert put_params["X-Goog-Credential"].startswith(CLIENT_EMAIL + "/")
    assert int(put_params["X-Goog-Expires"]) <= 15 * 60

    host = urlsplit(up.url).netloc
    get_params = verify_v4_signature(public, "GET", up.url, {"host": host})
    assert int(get_params["X-Goog-Expires"]) == 7 * 24 * 3600
    assert urlsplit(up.url).path == f"/{BUCKET}/refs/{refs[0].sha256}.png"


def test_verifier_rejects_what_was_not_signed(emulator, credentials, signing_key, recorded):
    """The check above has teeth: another mime type, another object or another key fails verification."""
    http, sent = recorded
    refs = check_references([("b.png", image("PNG", (4, 5, 6)))]).accepted
    GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=emulator).upload(refs)
    (put,) = [r for r in sent if r.method == "PUT"]
    url, headers = str(put.url), dict(put.headers)
    with pytest.raises(InvalidSignature):
        verify_v4_signature(signing_key.public_key(), "PUT", url, {**headers, "content-type": "image/jpeg"})
    with pytest.raises(InvalidSignature):
        verify_v4_signature(signing_key.public_key(), "PUT", url.replace("/refs/", "/other/"), headers)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(InvalidSignature):
        verify_v4_signature(stranger, "PUT", url, headers)


def test_same_picture_twice_is_one_object(emulator, credentials, recorded, bucket_reader):
    """Re-uploading the same picture under another name writes the same content-addressed object, harmlessly."""
    http, _ = recorded
    data = image("PNG", (7, 8, 9))
    uploader = GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=emulator, prefix="again/")
    first = uploader.upload(check_references([("first.png", data)]).accepted)
    second = uploader.upload(check_references([("second-name.png", data)]).accepted)
    assert urlsplit(first[0].url).path == urlsplit(second[0].url).path
    names = [b.name for b in bucket_reader.client.list_blobs(BUCKET, prefix="again/")]
    assert names == [f"again/{hashlib.sha256(data).hexdigest()}.png"]
    assert httpx.get(second[0].url).content == data


def test_upload_references_end_to_end(emulator, credentials, recorded, bucket_reader):
    """Check-then-upload through GCS: good files stored, a fake .png refused and never sent."""
    http, sent = recorded
    good = image("JPEG", (90, 90, 90))
    report = upload_references(
        [("good.jpg", good), ("fake.png", image("GIF", (1, 1, 1)))],
        GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=emulator),
    )
    assert report.error is None and [r.name for r in report.refused] == ["fake.png"]
    assert [r.content for r in sent if r.method == "PUT"] == [good]
    assert httpx.get(report.urls[0]).content == good


def test_missing_bucket_is_a_clear_error_without_secrets(emulator, credentials, recorded):
    """A PUT the storage refuses (no such bucket) is an UploadError naming the file and status, with no signature or key in it."""
    http, _ = recorded
    refs = check_references([("c.png", image("PNG", (3, 3, 3)))]).accepted
    with pytest.raises(UploadError) as info:
        GcsSignedUrlUploader("no-such-bucket", credentials, http=http, api_endpoint=emulator).upload(refs)
    message = str(info.value)
    assert "'c.png'" in message and "404" in message
    for secret_part in ("X-Goog-Signature", "X-Goog-Credential", CLIENT_EMAIL, "PRIVATE KEY", "http://"):
        assert secret_part not in message


def test_unreachable_storage_is_an_upload_error(credentials):
    """When nothing listens at the storage endpoint, the upload is an UploadError, not a crash."""
    refs = check_references([("d.png", image("PNG", (5, 5, 5)))]).accepted
    endpoint = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(UploadError, match="Could not reach the storage bucket"):
        GcsSignedUrlUploader(BUCKET, credentials, api_endpoint=endpoint).upload(refs)


def test_credentials_that_cannot_sign_are_a_clear_error(emulator):
    """Credentials without a private key cannot sign URLs: UploadError saying a service-account key is needed."""
    refs = check_references([("e.png", image("PNG", (6, 6, 6)))]).accepted
    with pytest.raises(UploadError, match="service-account key is needed"):
        GcsSignedUrlUploader(BUCKET, AnonymousCredentials(), api_endpoint=emulator).upload(refs)


def test_url_lifetime_is_limited_to_seven_days(credentials):
    """A signed URL lifetime beyond the V4 limit of 7 days is refused when the uploader is made."""
    with pytest.raises(ValueError, match="7 days"):
        GcsSignedUrlUploader(BUCKET, credentials, url_ttl=timedelta(days=8))


def test_a_memoryview_is_streamed_with_its_length_not_chunked(emulator, credentials, recorded, bucket_reader):
    """An image given as a read-only memoryview is PUT in slices with a Content-Length (no chunked encoding) and stored byte for byte."""
    http, sent = recorded
    noisy = io.BytesIO()
    Image.frombytes("RGB", (800, 600), os.urandom(800 * 600 * 3)).save(noisy, format="PNG")
    data = noisy.getvalue()
    assert len(data) > 1024 * 1024  # more than one 1 MB slice
    refs = check_references([("view.png", memoryview(data))]).accepted
    assert isinstance(refs[0].data, memoryview) and refs[0].data.obj is data
    (up,) = GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=emulator, prefix="view/").upload(refs)
    (put,) = [r for r in sent if r.method == "PUT"]
    assert put.headers["content-length"] == str(len(data)) and "transfer-encoding" not in put.headers
    assert bucket_reader.get_blob(f"view/{refs[0].sha256}.png").download_as_bytes() == data
    assert httpx.get(up.url).content == data


def test_failed_gcs_upload_is_listed_and_can_be_sent_again(emulator, credentials, recorded, bucket_reader):
    """Uploads refused by storage come back in report.failed; sending report.failed to a working bucket stores them."""
    http, _ = recorded
    files = [("one.png", image("PNG", (1, 1, 1))), ("two.jpg", image("JPEG", (2, 2, 2)))]
    report = upload_references(files, GcsSignedUrlUploader("no-such-bucket", credentials, http=http, api_endpoint=emulator))
    assert report.attached == [] and [f.name for f in report.failed] == ["one.png", "two.jpg"]
    assert all("404" in f.reason and f"'{f.name}'" in f.reason for f in report.failed)

    again = upload_checked(report.failed, GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=emulator,
                                                                prefix="retry/"))
    assert again.ok and [img.safe_name for img, _ in again.attached] == ["one.png", "two.jpg"]
    for img, ref in again.attached:
        assert bucket_reader.get_blob(f"retry/{img.sha256}{img.extension}").download_as_bytes() == img.data
        assert httpx.get(ref.url).content == img.data


def test_unreachable_bucket_fails_every_image_without_retrying_each(credentials):
    """When the bucket cannot be reached, the first image fails for that and the rest are not tried; all are retryable."""
    sent: list[httpx.Request] = []
    endpoint = f"http://127.0.0.1:{_free_port()}"
    files = [(f"{n}.png", image("PNG", (n, n, n))) for n in range(1, 4)]
    with httpx.Client(timeout=5, event_hooks={"request": [sent.append]}) as http:
        report = upload_references(files, GcsSignedUrlUploader(BUCKET, credentials, http=http, api_endpoint=endpoint))
    assert len(sent) == 1 and [f.name for f in report.failed] == ["1.png", "2.png", "3.png"]
    assert "Could not reach the storage bucket" in report.failed[0].reason
    assert "was not sent" in report.failed[1].reason and report.retryable == report.accepted


# ----------------------------------------------------------------------------- through the page


def _account_info(signing_key) -> dict[str, str]:
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {"type": "service_account", "project_id": "batch-studio-test",
            "private_key_id": "generated-at-test-time", "private_key": pem,
            "client_email": CLIENT_EMAIL, "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token"}


@pytest.mark.parametrize("as_table", [True, False], ids=["toml-table", "json-text"])
def test_reference_upload_gcs_through_the_page(emulator, signing_key, bucket_reader, tmp_path, as_table):
    """REFERENCE_UPLOAD=gcs: an image dropped on the page lands in the bucket by signed URL, its chip shows, no secret is shown."""
    from tests.app.conftest import dry_run, enter_batch, make_app
    from tests.app.hostile_page import visible

    info = _account_info(signing_key)
    at = make_app(tmp_path, REFERENCE_UPLOAD="gcs", GCS_BUCKET=BUCKET, GCS_ENDPOINT=emulator,
                  GCS_PREFIX="page/")
    at.secrets["GCS_SERVICE_ACCOUNT"] = info if as_table else json.dumps(info)
    at.run()
    shown = visible(at)
    assert f"Reference uploads: Cloud Storage bucket {BUCKET}" in shown, shown[-1500:]
    data = image("PNG", (10, 120, 30))
    at.file_uploader(key="uploader").set_value([("harbour.png", data, "image/png")]).run()
    assert not at.exception
    (ref,) = at.session_state["wf"].references
    blob = bucket_reader.get_blob(f"page/{hashlib.sha256(data).hexdigest()}.png")
    assert blob is not None and blob.download_as_bytes() == data
    assert ref.url.startswith(f"{emulator}/{BUCKET}/page/") and "X-Goog-Signature=" in ref.url
    assert any(t.value == "harbour.png" for t in at.text)
    shown = visible(at)
    assert "BEGIN PRIVATE KEY" not in shown and "X-Goog-Signature" not in shown
    # The storage emulator speaks plain http: the orchestrator's schema wants https://, so the
    # dry-run names the reference instead of sending it (a real bucket's URLs are https).
    enter_batch(at, "S1 | a quiet harbour | 1")
    dry_run(at)
    assert "Reference 1" in visible(at) and "not an https:// address" in visible(at)


def test_reference_upload_gcs_without_a_usable_account_falls_back_and_says_so(tmp_path):
    """REFERENCE_UPLOAD=gcs with a broken service account: one sentence in the sidebar, uploads go through the orchestrator."""
    from tests.app.conftest import make_app
    from tests.app.hostile_page import visible

    at = make_app(tmp_path, REFERENCE_UPLOAD="gcs", GCS_BUCKET=BUCKET,
                  GCS_ENDPOINT="http://127.0.0.1:9", GCS_SERVICE_ACCOUNT='{"type": "x"}').run()
    shown = visible(at)
    assert "REFERENCE_UPLOAD is gcs, but GCS_SERVICE_ACCOUNT has no client_email" in shown
    at.file_uploader(key="uploader").set_value(
        [("harbour.png", image("PNG", (1, 2, 3)), "image/png")]).run()
    (ref,) = at.session_state["wf"].references
    assert ref.url.startswith("https://emulator.local/")
