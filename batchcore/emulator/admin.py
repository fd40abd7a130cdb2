"""Emulator-only control routes under ``/_emulator/`` (not part of the real server).

For end-to-end tests that drive a served emulator from another process:
``GET /_emulator/ledger`` (the charges), ``POST /_emulator/faults`` (arm one fault:
``{"kind", "route"?, "method"?, "times"?, "retry_after"?, "seconds"?, "status"?, "scenes"?,
"answer_status"?, "answer_body"?, "answer_type"?, "answer_headers"?}``),
``POST /_emulator/reset``. No key needed; disabled with ``EmulatorConfig(admin_routes=False)``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .messages import EmuResponse, fastify_error, json_response

if TYPE_CHECKING:
    from .core import Emulator, RequestContext

__all__ = ["admin_faults", "admin_ledger", "admin_reset"]


def _disabled(emu: Emulator, ctx: RequestContext) -> EmuResponse | None:
    if emu.config.admin_routes:
        return None
    req = ctx.req
    return json_response(
        {"message": f"Route {req.method}:{req.url} not found", "error": "Not Found", "statusCode": 404}, 404
    )


def admin_ledger(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    off = _disabled(emu, ctx)
    if off:
        return off
    charges = [
        {"kind": c.kind, "count": c.count, "amount": str(c.amount), "batchHash": c.batch_hash,
         "batchId": c.batch_id, "sceneId": c.scene_id, "at": emu.iso(c.at), "keyId": c.key_id}
        for c in emu.ledger.charges
    ]
    return json_response({"total": str(emu.ledger.total()), "units": emu.ledger.units(), "charges": charges})


def admin_faults(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    off = _disabled(emu, ctx)
    if off:
        return off
    try:
        spec = json.loads(ctx.req.body or b"{}")
        fault = emu.faults.add(**{k: v for k, v in spec.items() if k in {
            "kind", "route", "method", "times", "retry_after", "seconds", "status", "scenes",
            "answer_status", "answer_body", "answer_type", "answer_headers"}})
    except (ValueError, TypeError) as exc:
        return fastify_error(400, str(exc))
    return json_response({"kind": fault.kind, "route": fault.route, "times": fault.times}, 201)


def admin_reset(emu: Emulator, ctx: RequestContext) -> EmuResponse:
    off = _disabled(emu, ctx)
    if off:
        return off
    emu.reset()
    return json_response({"reset": True})
