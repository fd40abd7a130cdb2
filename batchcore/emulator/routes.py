"""The route table: (method, path pattern, handler, is_asset). Assets need no key."""

from __future__ import annotations

import re

from .image_batches import batch_images
from .service_routes import asset, health, progress, readiness, status
from .uploads import upload_reference
from .video_batches import batch_videos

__all__ = ["ROUTES"]

ROUTES = [
    ("GET", re.compile(r"^/healthz$"), health, False),
    ("GET", re.compile(r"^/readiness$"), readiness, False),
    ("GET", re.compile(r"^/assets/(?P<name>[^/]+)$"), asset, True),
    ("POST", re.compile(r"^/batch/images$"), batch_images, False),
    ("POST", re.compile(r"^/batch/videos$"), batch_videos, False),
    ("GET", re.compile(r"^/status/(?P<id>[^/]+)$"), status, False),
    ("GET", re.compile(r"^/progress/(?P<id>[^/]+)$"), progress, False),
    ("POST", re.compile(r"^/upload-reference$"), upload_reference, False),
]
