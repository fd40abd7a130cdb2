"""The orchestrator emulator: the real server's behaviour, in-process or served over HTTP.

A supported product mode (the app's mock mode runs on it), not a test double::

    emu = Emulator(EmulatorConfig(profile="head"))
    client = httpx.Client(transport=EmulatorTransport(emu), base_url="https://emulator.local")
    # or: with running_server(emu) as base_url: httpx.Client(base_url=base_url)
    # or: python -m batchcore.emulator --port 8787

``emu.ledger`` records every billed unit; ``emu.faults.add(kind=..., route=...)`` arms faults.

An independent witness: this package imports nothing else from ``batchcore``. It has its own
price table (``prices.py``, from the server's ``cost.ts``: $0.002 an image, $0.50 a ``veo3``
clip, $0.10 a ``veo3_fast`` clip) and its own request validation (``validation.py``, a
transcription of the server's zod schemas), so a mistake in the product is caught, not copied.

Strictness. By default the emulator applies the real server's rules (strict image schema,
UTF-16 lengths, generic 400s, a seventh upload file a 500) with one convenience: served over plain
``http://127.0.0.1``, its own uploaded-reference URLs are accepted as ``ref_pack_public_urls``
although they are not ``https://``. ``EmulatorConfig(strict=True)`` (CLI ``--strict``) drops
that convenience: every reference URL must be ``https://``, exactly as on the server.
"""

from __future__ import annotations

from .asgi import create_asgi_app, running_server, serve
from .config import EmulatorConfig
from .core import Emulator
from .faults import FAULT_KINDS, Fault, FaultPlan
from .ledger import Charge, ChargeLedger
from .messages import EmuRequest, EmuResponse
from .transport import EmulatorTransport

#: The base URL to give an in-process client (any host works; asset URLs follow it).
IN_PROCESS_BASE_URL = "https://emulator.local"

__all__ = [
    "FAULT_KINDS",
    "IN_PROCESS_BASE_URL",
    "Charge",
    "ChargeLedger",
    "EmuRequest",
    "EmuResponse",
    "Emulator",
    "EmulatorConfig",
    "EmulatorTransport",
    "Fault",
    "FaultPlan",
    "create_asgi_app",
    "running_server",
    "serve",
]
