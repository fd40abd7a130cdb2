"""The route table: (method, path pattern, handler, open). Open routes (assets, emulator
controls) skip faults, rate limit and auth."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .admin import admin_faults, admin_ledger, admin_reset
from .image_batches import batch_images
from .service_routes import asset, health, progress, readiness, status
from .uploads import upload_reference
from .video_batches import batch_videos

if TYPE_CHECKING:
    from .core import Route

__all__ = ["ROUTES"]

#: (method, path pattern, handler, is_asset_or_control: served without key/rate limit/faults)
ROUTES: list[tuple[str, re.Pattern[str], Route, bool]] = [
    ("GET", re.compile(r"^/healthz$"), health, False),
    ("GET", re.compile(r"^/readiness$"), readiness, False),
    ("GET", re.compile(r"^/assets/(?P<name>[^/]+)$"), asset, True),
    ("POST", re.compile(r"^/batch/images$"), batch_images, False),
    ("POST", re.compile(r"^/batch/videos$"), batch_videos, False),
    ("GET", re.compile(r"^/status/(?P<id>[^/]+)$"), status, False),
    ("GET", re.compile(r"^/progress/(?P<id>[^/]+)$"), progress, False),
    ("POST", re.compile(r"^/upload-reference$"), upload_reference, False),
    # Emulator-only control routes: no key, no rate limit, no faults (like assets).
    ("GET", re.compile(r"^/_emulator/ledger$"), admin_ledger, True),
    ("POST", re.compile(r"^/_emulator/faults$"), admin_faults, True),
    ("POST", re.compile(r"^/_emulator/reset$"), admin_reset, True),
]
