"""``EmulatorConfig``: every knob of the emulated orchestrator, with the real server's defaults."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

__all__ = ["EmulatorConfig", "utc_now"]


def utc_now() -> datetime:
    """The default clock: an aware UTC ``datetime``."""
    return datetime.now(UTC)


@dataclass
class EmulatorConfig:
    """How the emulated orchestrator behaves.

    Defaults reproduce the real server at the contract's commit (``profile="head"``):
    synchronous live batches, 501-free planned videos, problem+json errors.
    """

    #: ``"head"``: the real server (synchronous live answer with ``jobs``/``results``).
    #: ``"brief"``: the brief's shape (``{batch_job}`` then ``GET /status/:jobId`` polling).
    profile: Literal["head", "brief"] = "head"
    #: ``"planned"``: the planned video schema is implemented; ``"501"``: Not Implemented.
    videos: Literal["planned", "501"] = "planned"
    #: ``"problem"``: RFC 7807 problem+json; ``"legacy"``: older ``{error, message}`` bodies.
    error_style: Literal["problem", "legacy"] = "problem"
    #: ``True``: none of the emulator's conveniences, only the real server's rules. Today that
    #: means reference URLs (``ref_pack_public_urls[].url``) must be ``https://`` even when they
    #: are the emulator's own uploads served over plain ``http://127.0.0.1`` (by default those
    #: are accepted so a served emulator's uploads can be used as references). The image schema
    #: is strict (unknown keys refused) either way, as on the server.
    strict: bool = False

    #: If set, only these keys are valid (else 401 "Invalid API Key"); if empty, every
    #: well-formed key (``aip_`` + at least 40 characters) is accepted.
    api_keys: frozenset[str] = frozenset()
    #: With ``False`` requests without any key are served (as key "anonymous"); a key that is
    #: sent must still be well formed.
    require_key: bool = True

    #: Daily budget per key for live batches (402 beyond it), in dollars.
    daily_budget: Decimal = Decimal(10)
    #: Requests per key per minute before 429 (the server's global 100/min); 0 disables.
    rate_limit_per_minute: int = 100

    #: Emulated generation time per image, in milliseconds (live ``head`` batches).
    latency_ms: int = 0
    #: ``brief`` profile and videos: emulated seconds a row/clip takes before it is done
    #: (progress also advances one step per status poll, whichever is faster).
    seconds_per_step: float = 1.0

    #: Rows (scene ids) whose generation always fails.
    fail_scenes: frozenset[str] = frozenset()
    #: Probability that a row fails, drawn deterministically from ``seed``.
    failure_rate: float = 0.0
    seed: int = 0

    #: Served face: how long a ``timeout_after_accept`` answer is held back (seconds).
    hang_seconds: float = 30.0
    #: ``/progress`` SSE: seconds between events, and the most events one stream sends.
    progress_interval: float = 2.0
    progress_max_events: int = 300

    #: Image size, thumbnail size, video size (16:9; 9:16 swaps), clip length and frame rate.
    #: Clips last 8 seconds like the real ones (``duration_s: 8``); the low frame rate keeps
    #: them small and quick to make (48 frames) — the request's ``fps: 24`` is not imitated.
    image_size: int = 512
    thumb_size: int = 128
    video_size: tuple[int, int] = (640, 360)
    video_seconds: float = 8.0
    video_fps: int = 6

    #: Serve the emulator-only ``/_emulator/{ledger,faults,reset}`` control routes.
    admin_routes: bool = True

    #: Clock and sleep, injectable so tests are deterministic and fast.
    now: Callable[[], datetime] = field(default=utc_now)
    sleep: Callable[[float], None] = field(default=time.sleep)
    version: str = "1.0.0-emulator"

    def __post_init__(self) -> None:
        self.api_keys = frozenset(self.api_keys)
        self.fail_scenes = frozenset(self.fail_scenes)
        self.daily_budget = Decimal(str(self.daily_budget))
        if self.profile not in ("head", "brief"):
            raise ValueError(f"profile must be 'head' or 'brief', not {self.profile!r}")
        if self.videos not in ("planned", "501"):
            raise ValueError(f"videos must be 'planned' or '501', not {self.videos!r}")
        if self.error_style not in ("problem", "legacy"):
            raise ValueError(f"error_style must be 'problem' or 'legacy', not {self.error_style!r}")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
