"""Batch Studio's core library. Never imports Streamlit.

The public face is small and lazy: ``import batchcore`` loads nothing, and each name below
is imported from its module on first use, so parsing a batch never loads the HTTP client or
the database driver. Everything else is imported from its module, by role:

* ``batchcore.domain``        pure rules and state: rows, prices, hashing, the workflow,
                              spend, outcomes (what paid work came to), history, exports
* ``batchcore.wire``          pure: the orchestrator's answers (models) and error bodies
* ``batchcore.adapters``      I/O: the client (httpx), the store (SQLAlchemy), uploads and
                              image checks (Pillow, GCS), the job runner, the paid-call worker
* ``batchcore.service_layer`` one function per user action (``services``)
* ``batchcore.bootstrap``     the composition root (``build(settings) -> Runtime``)
* ``batchcore.config``, ``batchcore.errors``   settings; the one error tree
* ``batchcore.emulator``      an independent emulator of the orchestrator
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_FACE = {
    "services": "batchcore.service_layer.services",
    "Runtime": "batchcore.bootstrap",
    "build": "batchcore.bootstrap",
    "Workspace": "batchcore.service_layer.services",
    "Outcome": "batchcore.service_layer.services",
    "Notice": "batchcore.service_layer.services",
    "WorkflowState": "batchcore.domain.workflow",
    "can_generate": "batchcore.domain.workflow",
    "Settings": "batchcore.config",
    "load_settings": "batchcore.config",
    "BatchStudioError": "batchcore.errors",
    "InputError": "batchcore.errors",
    "GuardrailError": "batchcore.errors",
    "OrchestratorError": "batchcore.errors",
    "StoreError": "batchcore.errors",
    "BatchRow": "batchcore.domain.rows",
    "LineError": "batchcore.domain.rows",
    "ParseResult": "batchcore.domain.rows",
    "parse_batch": "batchcore.domain.rows",
    "parse_single": "batchcore.domain.rows",
    "MAX_ROWS": "batchcore.domain.pricing",
    "MAX_VARIANTS": "batchcore.domain.pricing",
    "MAX_REF_IMAGES": "batchcore.domain.pricing",
    "PRICE_PER_IMAGE": "batchcore.domain.pricing",
    "format_money": "batchcore.domain.pricing",
    "image_cost": "batchcore.domain.pricing",
    "video_cost": "batchcore.domain.pricing",
    "batch_hash": "batchcore.domain.hashing",
}

__all__ = [
    "BatchRow",
    "BatchStudioError",
    "GuardrailError",
    "InputError",
    "LineError",
    "MAX_REF_IMAGES",
    "MAX_ROWS",
    "MAX_VARIANTS",
    "Notice",
    "OrchestratorError",
    "Outcome",
    "PRICE_PER_IMAGE",
    "ParseResult",
    "Runtime",
    "Settings",
    "StoreError",
    "WorkflowState",
    "Workspace",
    "batch_hash",
    "build",
    "can_generate",
    "format_money",
    "image_cost",
    "load_settings",
    "parse_batch",
    "parse_single",
    "services",
    "video_cost",
]


def __getattr__(name: str) -> Any:
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module 'batchcore' has no attribute {name!r}")
    target = importlib.import_module(module)
    value = target if name == "services" else getattr(target, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FACE))


if TYPE_CHECKING:
    from batchcore.bootstrap import Runtime, build
    from batchcore.config import Settings, load_settings
    from batchcore.domain.hashing import batch_hash
    from batchcore.domain.pricing import (
        MAX_REF_IMAGES,
        MAX_ROWS,
        MAX_VARIANTS,
        PRICE_PER_IMAGE,
        format_money,
        image_cost,
        video_cost,
    )
    from batchcore.domain.rows import BatchRow, LineError, ParseResult, parse_batch, parse_single
    from batchcore.domain.workflow import WorkflowState, can_generate
    from batchcore.errors import (
        BatchStudioError,
        GuardrailError,
        InputError,
        OrchestratorError,
        StoreError,
    )
    from batchcore.service_layer import services
    from batchcore.service_layer.services import Notice, Outcome, Workspace
