"""Real Chromium against the served emulator configured like the real server.

The emulator runs with ``--strict`` (every reference URL must be ``https://``, exactly as the
server's zod schema says) and over https with a certificate made at run time for 127.0.0.1
(so its own upload URLs are https too). The app runs in live mode against it, trusting that
certificate through ``SSL_CERT_FILE``. In the browser: the key is accepted at start, a
reference image is uploaded and attached, a prompt of 1,001 UTF-16 units (emoji count 2) is
refused at Parse with nothing sent, and the brief's batch is generated with the reference
attached and billed exactly once.
"""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import re
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from PIL import Image

from tests.app.conftest import EXAMPLE
from tests.conftest import fake_key
from tests.e2e.conftest import idle, paste_batch, served_emulator, shot, start_app

pytestmark = pytest.mark.e2e

EMOJI_PROMPT = "\U0001f40d" * 500 + "x"  # 501 characters, 1,001 UTF-16 units


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own authority) and its key, made now, kept in tmp."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                         key_cert_sign=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "emulator-cert.pem", tmp_path / "emulator-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@pytest.fixture
def strict_emulator(tmp_path):
    """``python -m batchcore.emulator --strict`` over https on a free port: (base URL, cert, key)."""
    cert, cert_key = self_signed(tmp_path)
    key = fake_key("strict")
    with served_emulator(key, "--strict", "--latency-ms", "20", "--ssl-certfile", str(cert),
                         "--ssl-keyfile", str(cert_key), scheme="https",
                         verify=trusting(cert)) as base:
        yield base, cert, key


def ledger_units(base: str, cert: Path) -> int:
    return int(httpx.get(base + "/_emulator/ledger", verify=trusting(cert)).json()["units"])


def reference_png(tmp_path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 160, 90)).save(out, format="PNG")
    path = tmp_path / "harbour-reference.png"
    path.write_bytes(out.getvalue())
    return path


def test_generates_with_references_and_refuses_a_1001_unit_emoji_prompt(tmp_path, page,
                                                                          strict_emulator):
    """Against the strict https emulator: references attached and accepted, the emoji prompt refused at Parse, the batch billed once."""
    base, cert, key = strict_emulator
    app, url = start_app(tmp_path, ORCHESTRATOR_API_KEY=key, ORCHESTRATOR_URL=base,
                         SSL_CERT_FILE=str(cert))
    try:
        page.goto(url)
        idle(page)
        assert page.get_by_text("Live — real cost").first.is_visible()
        page.get_by_text("Key accepted by").wait_for(timeout=30_000)

        page.locator("input[type=file]").first.set_input_files(str(reference_png(tmp_path)))
        page.get_by_text("1 reference image(s), attached to every row").wait_for(timeout=30_000)
        idle(page)
        assert page.get_by_text("harbour-reference.png").first.is_visible()

        paste_batch(page, f"S1 | {EMOJI_PROMPT} | 1\nS2 | a quiet harbour | 1")
        page.get_by_text("1 line(s) need fixing").wait_for(timeout=30_000)
        page.get_by_role("button", name="Dry-Run Images").click()  # kept clickable: it says why
        idle(page)
        assert page.get_by_text(re.compile(r"^Dry-run receipt")).count() == 0
        assert ledger_units(base, cert) == 0

        paste_batch(page, EXAMPLE)
        page.get_by_role("button", name="Dry-Run Images", disabled=False).click()
        idle(page)
        page.get_by_text("Dry-run receipt: 3 rows, 6 images").wait_for(timeout=30_000)
        page.get_by_role("button", name="Generate Images", disabled=False).click()
        idle(page)
        page.get_by_role("button", name=re.compile(r"^Confirm — spend \$0\.012$")).click()
        page.get_by_role("button", name="Approve SCENE-003 #1").wait_for(timeout=60_000)
        idle(page)
        assert ledger_units(base, cert) == 6
        log = page.locator("[data-testid=stCode]").last.inner_text()
        assert "completed" in log and "1 reference image(s): harbour-reference.png" in log
        html = page.content()
        assert key not in html and key[4:20] not in html
        shot(page, "strict-emulator-with-references")
    finally:
        app.stop()


def test_the_emoji_prompt_error_says_how_it_was_counted(tmp_path, page, strict_emulator):
    """Single mode shows the live count of the emoji prompt in UTF-16 units and refuses it, nothing sent."""
    base, cert, key = strict_emulator
    app, url = start_app(tmp_path, ORCHESTRATOR_API_KEY=key, ORCHESTRATOR_URL=base,
                         SSL_CERT_FILE=str(cert))
    try:
        page.goto(url)
        idle(page)
        page.get_by_text("Single", exact=True).click()
        idle(page)
        box = page.locator("textarea[aria-label='Prompt']")
        box.fill(EMOJI_PROMPT)
        box.press("Control+Enter")
        idle(page)
        page.get_by_text("1,001 of 1,000 characters (emoji count as 2)").first.wait_for(
            timeout=30_000)
        page.get_by_role("button", name="Dry-Run Images").click()  # kept clickable: it says why
        idle(page)
        assert page.get_by_text(re.compile(r"^Dry-run receipt")).count() == 0
        assert ledger_units(base, cert) == 0
    finally:
        app.stop()
