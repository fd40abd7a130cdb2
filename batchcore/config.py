"""Settings read from ``st.secrets`` and the environment, and the mock/live decision.

The page passes plain mappings (``dict(st.secrets)``, ``os.environ``); this module never
imports Streamlit. The API key is kept in a ``SecretStr``: it never shows in a repr, a log
line or an error text, and :meth:`Settings.describe` (what the sidebar shows) omits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from batchcore.domain.spend import parse_cap
from batchcore.errors import InputError

__all__ = ["DEFAULT_BASE_URL", "Settings", "load_settings"]

DEFAULT_BASE_URL = "https://orchestrator-582559442661.us-central1.run.app"
MOCK_BASE_URL = "https://emulator.local"
LIVE_MIN_POLL = 1.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Settings(BaseModel):
    """Where to send requests, with which key, and whether to use the built-in emulator."""

    model_config = ConfigDict(frozen=True)

    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr | None = None
    use_mock: bool = True
    mock_reason: str = ""
    database_url: str | None = None
    #: deployment-wide: every workspace, tab and replica on one backend together, per UTC day
    daily_cap: Decimal = Decimal("2.00")
    #: optional, per workspace, below ``daily_cap``
    workspace_cap: Decimal | None = None
    #: emails that may spend when sign-in is configured (empty: every signed-in person)
    spend_allowlist: tuple[str, ...] = ()
    live_read_timeout: float = 900.0
    mock_latency_ms: int = 150
    mock_profile: Literal["head", "brief"] = "head"  # "brief": the brief's async shape
    poll_seconds: float = 2.0
    problems: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The API key in clear, for the HTTP client only (never for display)."""
        return self.api_key.get_secret_value() if self.api_key else ""

    @property
    def poll_interval(self) -> float:
        """Seconds between status polls: as configured in mock mode, at least 1 s against a
        real server (its global rate limit is 100 requests a minute)."""
        return self.poll_seconds if self.use_mock else max(self.poll_seconds, LIVE_MIN_POLL)

    def describe(self) -> dict[str, str]:
        """What the sidebar may show: backend URL and mode, never the key."""
        return {
            "Backend": MOCK_BASE_URL + " (built-in emulator)" if self.use_mock else self.base_url,
            "Mode": "Mock — no real cost" if self.use_mock else "Live — real cost",
            "API key": "not needed" if self.use_mock else ("configured" if self.api_key else "missing"),
        }


def _first(sources: tuple[Mapping[str, Any], ...], *names: str) -> Any:
    for source in sources:
        for name in names:
            value = source.get(name)
            if value is not None and str(value).strip() != "":
                return value
    return None


def load_settings(*sources: Mapping[str, Any]) -> Settings:
    """Build settings from mappings, earlier ones winning (e.g. ``st.secrets`` then env).

    Mock mode is on when ``BATCH_USE_MOCK`` is true, or when no API key is configured.
    A value that cannot be read is reported in ``problems`` and its default is kept.
    """
    problems: list[str] = []
    key = _first(sources, "ORCHESTRATOR_API_KEY", "API_KEY")
    key_text = str(key).strip() if key is not None else ""
    flag = _first(sources, "BATCH_USE_MOCK", "NEXT_PUBLIC_USE_MOCK")
    forced: bool | None = None
    if flag is not None:
        word = str(flag).strip().lower()
        if word in _TRUE:
            forced = True
        elif word in _FALSE:
            forced = False
        else:
            problems.append(f"BATCH_USE_MOCK should be true or false, not {word!r}; using mock mode.")
            forced = True
    if forced is True:
        use_mock, reason = True, "BATCH_USE_MOCK is true"
    elif not key_text:
        use_mock, reason = True, "no API key is configured"
    else:
        use_mock, reason = False, ""
    if key_text and not key_text.startswith("aip_"):
        problems.append('The configured API key does not start with "aip_"; the server will refuse it.')

    values: dict[str, Any] = {
        "api_key": SecretStr(key_text) if key_text else None,
        "use_mock": use_mock,
        "mock_reason": reason,
    }
    base = _first(sources, "ORCHESTRATOR_URL", "BATCH_API_URL")
    if base is not None:
        values["base_url"] = str(base).strip().rstrip("/")
    db = _first(sources, "DATABASE_URL")
    if db is not None:
        values["database_url"] = str(db).strip()
    cap = _first(sources, "DAILY_SPEND_CAP")
    if cap is not None:
        try:
            values["daily_cap"] = parse_cap(cap)
        except InputError as exc:
            problems.append(f"DAILY_SPEND_CAP: {exc} Using $2.00.")
    ws_cap = _first(sources, "WORKSPACE_DAILY_CAP")
    if ws_cap is not None:
        try:
            values["workspace_cap"] = min(parse_cap(ws_cap), values.get("daily_cap", Decimal("2.00")))
        except InputError as exc:
            problems.append(f"WORKSPACE_DAILY_CAP: {exc} No per-workspace cap is set.")
    allow = _first(sources, "SPEND_ALLOWLIST")
    if allow is not None:
        items = allow if isinstance(allow, (list, tuple)) else str(allow).split(",")
        values["spend_allowlist"] = tuple(sorted({str(e).strip().lower() for e in items
                                                  if str(e).strip()}))
    profile = _first(sources, "MOCK_PROFILE")
    if profile is not None:
        if str(profile).strip() in ("head", "brief"):
            values["mock_profile"] = str(profile).strip()
        else:
            problems.append(f"MOCK_PROFILE should be head or brief, not {profile!r}; using head.")
    for name, field, kind, low, high in (
        ("LIVE_READ_TIMEOUT", "live_read_timeout", float, 1.0, 24 * 3600.0),
        ("MOCK_LATENCY_MS", "mock_latency_ms", int, 0, 60_000),
        ("POLL_SECONDS", "poll_seconds", float, 0.01, 600.0),
    ):
        raw = _first(sources, name)
        if raw is None:
            continue
        try:
            number = kind(str(raw).strip())
        except ValueError:
            problems.append(f"{name} should be a number, not {raw!r}; using the default.")
            continue
        if not low <= number <= high:  # also refuses nan and inf
            problems.append(f"{name} should be between {low:g} and {high:g}, not {raw!r}; "
                            "using the default.")
            continue
        values[field] = number
    values["problems"] = tuple(problems)
    return Settings(**values)
