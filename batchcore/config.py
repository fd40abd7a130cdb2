"""Settings read from ``st.secrets`` and the environment, and the mock/live decision.

The page passes plain mappings (``dict(st.secrets)``, ``os.environ``); this module never
imports Streamlit. The API key is kept in a ``SecretStr``: it never shows in a repr, a log
line or an error text, and :meth:`Settings.describe` (what the sidebar shows) omits it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from batchcore.domain.rows import describe_value, visible
from batchcore.domain.spend import parse_cap
from batchcore.errors import InputError

__all__ = [
    "DEFAULT_BASE_URL",
    "Settings",
    "check_base_url",
    "load_settings",
    "redact_url",
    "secrets_problem",
    "secrets_settings",
    "shown_setting",
]

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
    #: where reference images go: "backend" (POST /upload-reference) or "gcs" (our own bucket
    #: by V4 signed URLs, the brief's plan)
    reference_upload: str = "backend"
    gcs_bucket: str = ""
    gcs_endpoint: str = ""
    gcs_prefix: str = "refs/"
    #: the service-account JSON that signs the URLs (a secret: never shown, never dumped)
    gcs_service_account: SecretStr | None = None
    #: signs the capability tokens of the app's routes; replicas share it (a secret: never
    #: shown). None: a random key per process (then a link works on its own replica only)
    signing_key: SecretStr | None = None
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
        """What the sidebar may show: backend URL (never a user name or password in it) and
        mode, never the key."""
        return {
            "Backend": MOCK_BASE_URL + " (built-in emulator)" if self.use_mock
            else redact_url(self.base_url),
            "Mode": "Mock — no real cost" if self.use_mock else "Live — real cost",
        } | ({} if self.use_mock else {  # mock mode: the key check below says the one fact
            "API key": "configured" if self.api_key else "missing"}) | ({"Reference uploads": f"Cloud Storage bucket {self.gcs_bucket}"}
             if self.reference_upload == "gcs" else {})


#: hosts a plain http:// backend may live on (a served emulator, a tunnel): never the internet
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
_USERINFO = re.compile(r"(//)[^/?#@]*@")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")
#: settings that are text; a list, table or number there is refused, not turned into text
_TEXT_SETTINGS = ("ORCHESTRATOR_API_KEY", "API_KEY", "ORCHESTRATOR_URL", "BATCH_API_URL",
                  "DATABASE_URL")


def shown_setting(value: Any, limit: int = 80) -> str:
    """A setting's value quoted for a problem sentence: short text as its repr, anything else
    described ("a list of 2 items"); never huge, never raising, no hidden characters."""
    if isinstance(value, str) and len(value) <= limit:
        return repr(visible(value, limit))
    return describe_value(value)


def redact_url(url: str) -> str:
    """``url`` with any user name or password replaced by ``***`` (safe to show)."""
    return _USERINFO.sub(r"\1***@", url)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_problem(host: str) -> str:
    if not host:
        return "it has no host name"
    try:
        ipaddress.ip_address(host)
        return ""
    except ValueError:
        pass
    for label in host.rstrip(".").split("."):
        if len(label) > 63:
            return f"a part of its host name is {len(label):,} characters long (at most 63)"
        if not _HOST_LABEL.match(label):
            try:
                ascii_label = label.encode("idna").decode("ascii")
            except UnicodeError:
                return "its host name has characters a web address cannot hold"
            if not _HOST_LABEL.match(ascii_label):
                return "its host name has characters a web address cannot hold"
    if len(host) > 253:
        return f"its host name is {len(host):,} characters long (at most 253)"
    return ""


def check_base_url(raw: Any, name: str = "ORCHESTRATOR_URL") -> tuple[str, list[str]]:
    """The backend address to use, and problems to say.

    ``("", problems)`` when the address cannot be used at all (not text, not a web address,
    not https:// — plain http:// only for this machine —, a bad host or port, a query): the
    caller then stays in mock mode rather than guess another backend. A user name or password
    inside the address is removed (never used, never shown) and said.
    """
    if not isinstance(raw, str):
        return "", [(f"{name} should be a web address, not {describe_value(raw)}; "
                    "using mock mode until it is fixed.")]
    text = raw.strip().rstrip("/")
    quoted = shown_setting(redact_url(text))
    unusable = f"{name} ({quoted}) cannot be used: {{}}; using mock mode until it is fixed."
    if any(not c.isprintable() or c.isspace() for c in text):
        return "", [unusable.format("it contains spaces or invisible characters")]
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return "", [unusable.format("it is not a valid web address")]
    host = parts.hostname or ""
    problems: list[str] = []
    if parts.scheme.lower() not in ("https", "http"):
        return "", [unusable.format("it must start with https://")]
    if parts.scheme.lower() == "http" and not _is_loopback(host):
        return "", [unusable.format("the key would travel unencrypted; it must start with "
                                    "https:// (plain http:// only for this machine)")]
    why = _host_problem(host)
    if why:
        return "", [unusable.format(why)]
    if port == 0:
        return "", [unusable.format("its port is 0")]
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        return "", [unusable.format("it must not contain ? or #")]
    if parts.username is not None or parts.password is not None:
        problems.append(f"{name} contains a user name or password; it is not used and never "
                        "shown (the key belongs in ORCHESTRATOR_API_KEY).")
        netloc = parts.netloc.rpartition("@")[2]
        text = urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")
    return text, problems


def secrets_problem(error_id: str, message: str) -> str:
    """What to say when ``st.secrets`` could not be read; "" when there is simply no file.

    A secrets.toml that exists but cannot be parsed must never pass silently as "no secrets":
    the app would fall back to mock mode (or to another key from the environment) unseen.
    """
    if error_id == "no-secrets-found":
        return ""
    where = re.search(r"\(at line \d+, column \d+\)", message)
    return ("The secrets file (.streamlit/secrets.toml) could not be read"
            + (f" {where.group(0)}" if where else "")
            + "; every setting in it is ignored, so settings come from the environment only.")


#: every setting Batch Studio reads (a section of the secrets file holding one is said)
SETTING_NAMES = frozenset({
    "ORCHESTRATOR_API_KEY", "API_KEY", "BATCH_USE_MOCK", "NEXT_PUBLIC_USE_MOCK",
    "ORCHESTRATOR_URL", "BATCH_API_URL", "DATABASE_URL", "DAILY_SPEND_CAP",
    "WORKSPACE_DAILY_CAP", "SPEND_ALLOWLIST", "MOCK_PROFILE", "LIVE_READ_TIMEOUT",
    "MOCK_LATENCY_MS", "POLL_SECONDS", "REFERENCE_UPLOAD", "GCS_BUCKET", "GCS_ENDPOINT",
    "GCS_PREFIX", "GCS_SERVICE_ACCOUNT", "APP_SIGNING_KEY",
})
#: settings that may be a TOML table (the service-account JSON, as Streamlit's docs show it)
TABLE_SETTINGS = frozenset({"GCS_SERVICE_ACCOUNT"})


def secrets_settings(secrets: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The top-level values of the secrets file (what settings are read from), and a problem
    for every TOML section that holds, or is named as, a setting: those are not read."""
    flat = {k: v for k, v in secrets.items()
            if not isinstance(v, Mapping) or k in TABLE_SETTINGS}
    problems = []
    for name, value in secrets.items():
        if not isinstance(value, Mapping) or name in TABLE_SETTINGS:
            continue
        shown = visible(str(name), 40)
        if name in SETTING_NAMES:
            problems.append(f"{shown} is a section ([{shown}]) in the secrets file, not a "
                            "value; it is ignored.")
        elif inner := sorted(k for k in value if k in SETTING_NAMES):
            problems.append(f"The section [{shown}] of the secrets file holds {inner[0]}"
                            + (f" and {len(inner) - 1} more setting(s)" if len(inner) > 1 else "")
                            + "; settings are read only from the top of the file (before any "
                            "[section]), so they are ignored.")
    return flat, problems


def _text_problems(sources: tuple[Mapping[str, Any], ...]) -> tuple[list[str], set[str]]:
    """Text settings given as something else (a TOML list, table, number): said, not used."""
    problems: list[str] = []
    bad: set[str] = set()
    for name in _TEXT_SETTINGS:
        value = _first(sources, name)
        if value is not None and not isinstance(value, str):
            bad.add(name)
            if name in ("ORCHESTRATOR_API_KEY", "API_KEY"):
                problems.append(f"{name} should be text, not {describe_value(value)}; it is "
                                "ignored.")
            elif name == "DATABASE_URL":
                problems.append(f"DATABASE_URL should be a database address, not "
                                f"{describe_value(value)}; it is ignored.")
    return problems, bad


def _first(sources: tuple[Mapping[str, Any], ...], *names: str) -> Any:
    for source in sources:
        for name in names:
            value = source.get(name)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return value
    return None


def load_settings(*sources: Mapping[str, Any]) -> Settings:
    """Build settings from mappings, earlier ones winning (e.g. ``st.secrets`` then env).

    Mock mode is on when ``BATCH_USE_MOCK`` is true, or when no API key is configured.
    A value that cannot be read is reported in ``problems`` and its default is kept.
    """
    problems, not_text = _text_problems(sources)
    key_text = _api_key(sources, problems)
    forced = _mock_flag(sources, problems)
    base = _first(sources, "ORCHESTRATOR_URL", "BATCH_API_URL")
    base_url, url_problems = ("", []) if base is None else check_base_url(base)
    if forced is True:
        use_mock, reason = True, "BATCH_USE_MOCK is true"
    elif not key_text:
        use_mock, reason = True, "no API key is configured"
    elif base is not None and not base_url:
        use_mock, reason = True, "ORCHESTRATOR_URL cannot be used"
    else:
        use_mock, reason = False, ""
    values: dict[str, Any] = {
        "api_key": SecretStr(key_text) if key_text else None,
        "use_mock": use_mock,
        "mock_reason": reason,
    }
    problems.extend(url_problems)
    if base_url:
        values["base_url"] = base_url
    db = _first(sources, "DATABASE_URL")
    if db is not None and "DATABASE_URL" not in not_text:
        values["database_url"] = str(db).strip()
    values.update(_caps(sources, problems))
    profile = _first(sources, "MOCK_PROFILE")
    if profile is not None:
        if str(profile).strip() in ("head", "brief"):
            values["mock_profile"] = str(profile).strip()
        else:
            problems.append(f"MOCK_PROFILE should be head or brief, not {shown_setting(profile)}; "
                            "using head.")
    values.update(_numbers(sources, problems))
    values.update(_upload_settings(sources, use_mock, problems))
    signing = _signing_key(sources, not_text, problems)
    if signing:
        values["signing_key"] = SecretStr(signing)
    values["problems"] = tuple(problems)
    return Settings(**values)


#: the shortest APP_SIGNING_KEY taken (a shorter one could be guessed)
MIN_SIGNING_KEY = 32


def _signing_key(sources: tuple[Mapping[str, Any], ...], not_text: set[str],
                 problems: list[str]) -> str:
    """APP_SIGNING_KEY when it is long enough, else "" (said; a random key is used)."""
    raw = _first(sources, "APP_SIGNING_KEY")
    if raw is None or "APP_SIGNING_KEY" in not_text:
        return ""
    text = str(raw).strip()
    if len(text) < MIN_SIGNING_KEY:
        problems.append(f"APP_SIGNING_KEY is too short ({len(text)} characters; at least "
                        f"{MIN_SIGNING_KEY}); a random key is used, so the app's links work "
                        "on this replica only.")
        return ""
    return text


def _api_key(sources: tuple[Mapping[str, Any], ...], problems: list[str]) -> str:
    """The configured key, or "" (with a problem) when it cannot be sent."""
    key = _first(sources, "ORCHESTRATOR_API_KEY", "API_KEY")
    key_text = key.strip() if isinstance(key, str) else ""
    if key_text and any(not c.isprintable() or c.isspace() or not c.isascii() for c in key_text):
        problems.append("The configured API key contains spaces or characters a request header "
                        "cannot carry; it is ignored.")
        return ""
    if key_text and not key_text.startswith("aip_"):
        problems.append('The configured API key does not start with "aip_"; the server will refuse it.')
    return key_text


def _mock_flag(sources: tuple[Mapping[str, Any], ...], problems: list[str]) -> bool | None:
    """``BATCH_USE_MOCK``: True, False, or None when unset; unreadable means mock mode."""
    flag = _first(sources, "BATCH_USE_MOCK", "NEXT_PUBLIC_USE_MOCK")
    if flag is None:
        return None
    word: str | None = None
    if isinstance(flag, bool):
        word = str(flag).lower()
    elif isinstance(flag, str):
        word = flag.strip().lower()
    elif isinstance(flag, int) and flag in (0, 1):
        word = str(flag)
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    shown = shown_setting(word) if word is not None else describe_value(flag)
    problems.append(f"BATCH_USE_MOCK should be true or false, not {shown}; using mock mode.")
    return True


def _caps(sources: tuple[Mapping[str, Any], ...], problems: list[str]) -> dict[str, Any]:
    """The deployment cap, the optional workspace cap, and who may spend."""
    values: dict[str, Any] = {}
    cap = _first(sources, "DAILY_SPEND_CAP")
    if cap is not None:
        try:
            values["daily_cap"] = _cap(cap)
        except InputError as exc:
            problems.append(f"DAILY_SPEND_CAP: {exc} Using $2.00.")
    ws_cap = _first(sources, "WORKSPACE_DAILY_CAP")
    if ws_cap is not None:
        try:
            values["workspace_cap"] = min(_cap(ws_cap), values.get("daily_cap", Decimal("2.00")))
        except InputError as exc:
            problems.append(f"WORKSPACE_DAILY_CAP: {exc} No per-workspace cap is set.")
    allow = _first(sources, "SPEND_ALLOWLIST")
    if allow is not None:
        if isinstance(allow, (list, tuple)) and all(isinstance(e, str) for e in allow):
            items: list[str] | tuple[str, ...] = allow
        elif isinstance(allow, str):
            items = allow.split(",")
        else:
            # fail closed: an unreadable allow-list lets nobody spend, rather than everybody
            problems.append(f"SPEND_ALLOWLIST should be e-mail addresses separated by commas, "
                            f"not {describe_value(allow)}; nobody may spend until it is fixed.")
            items = ["(unreadable SPEND_ALLOWLIST)"]
        values["spend_allowlist"] = tuple(sorted({e.strip().lower() for e in items
                                                  if e.strip()}))
    return values


def _numbers(sources: tuple[Mapping[str, Any], ...], problems: list[str]) -> dict[str, Any]:
    """The numeric settings, each within its range (else its default and a problem)."""
    values: dict[str, Any] = {}
    for name, field, kind, low, high in (
        ("LIVE_READ_TIMEOUT", "live_read_timeout", float, 1.0, 24 * 3600.0),
        ("MOCK_LATENCY_MS", "mock_latency_ms", int, 0, 60_000),
        ("POLL_SECONDS", "poll_seconds", float, 0.01, 600.0),
    ):
        raw = _first(sources, name)
        if raw is None:
            continue
        try:
            if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
                raise TypeError("not a number")
            number = kind(str(raw).strip())
        except (ValueError, TypeError, OverflowError):
            problems.append(f"{name} should be a number, not {shown_setting(raw)}; using the "
                            "default.")
            continue
        if not low <= number <= high:  # also refuses nan and inf
            problems.append(f"{name} should be between {low:g} and {high:g}, not "
                            f"{shown_setting(raw)}; using the default.")
            continue
        values[field] = number
    return values


def _cap(raw: Any) -> Decimal:
    """A cap setting, any TOML type: lists, tables and unreadable numbers are InputError."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise InputError(f"The daily cap must be an amount in dollars, such as 2.00; found "
                         f"{describe_value(raw)}.")
    try:
        return parse_cap(raw)
    except InputError:
        raise
    except (ValueError, TypeError, ArithmeticError):
        raise InputError(f"The daily cap must be an amount in dollars, such as 2.00; found "
                         f"{shown_setting(raw)}.") from None


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_ACCOUNT_FIELDS = ("type", "client_email", "private_key")


def _service_account(raw: Any) -> tuple[str, str]:
    """The service-account JSON as text, or why it cannot be used (never quoting it)."""
    if isinstance(raw, Mapping):
        info: Any = dict(raw)
    elif isinstance(raw, str):
        try:
            info = json.loads(raw)
        except ValueError:
            return "", "GCS_SERVICE_ACCOUNT is not valid JSON"
    else:
        return "", f"GCS_SERVICE_ACCOUNT should be the service account's JSON, not {describe_value(raw)}"
    if not isinstance(info, dict):
        return "", "GCS_SERVICE_ACCOUNT should be a JSON object"
    missing = [f for f in _ACCOUNT_FIELDS if not isinstance(info.get(f), str) or not info.get(f)]
    if missing:
        return "", f"GCS_SERVICE_ACCOUNT has no {missing[0]} (a service-account key can sign URLs)"
    return json.dumps(info), ""


def _upload_settings(sources: tuple[Mapping[str, Any], ...], use_mock: bool,
                     problems: list[str]) -> dict[str, Any]:
    """REFERENCE_UPLOAD and the GCS_* settings; anything missing or wrong keeps "backend"
    (uploads through the orchestrator) and is said."""
    mode = _first(sources, "REFERENCE_UPLOAD")
    if mode is None:
        return {}
    word = mode.strip().lower() if isinstance(mode, str) else ""
    if word not in ("backend", "gcs"):
        problems.append(f"REFERENCE_UPLOAD should be backend or gcs, not {shown_setting(mode)}; "
                        "uploads go through the orchestrator.")
        return {}
    if word == "backend":
        return {}
    why: list[str] = []
    bucket = _first(sources, "GCS_BUCKET")
    if not isinstance(bucket, str) or not _BUCKET.match(bucket.strip()):
        why.append("GCS_BUCKET is missing or not a bucket name" if bucket is None or
                   isinstance(bucket, str) else f"GCS_BUCKET should be text, not "
                   f"{describe_value(bucket)}")
    account, account_problem = _service_account(_first(sources, "GCS_SERVICE_ACCOUNT"))
    if _first(sources, "GCS_SERVICE_ACCOUNT") is None:
        account_problem = "GCS_SERVICE_ACCOUNT is missing"
    if account_problem:
        why.append(account_problem)
    endpoint_raw = _first(sources, "GCS_ENDPOINT")
    endpoint = ""
    if endpoint_raw is not None:
        endpoint, endpoint_problems = check_base_url(endpoint_raw, "GCS_ENDPOINT")
        if not endpoint:
            why.append("GCS_ENDPOINT cannot be used")
            problems.extend(p.replace("; using mock mode until it is fixed.", ".")
                            for p in endpoint_problems)
        else:
            problems.extend(endpoint_problems)
    if use_mock and not (endpoint and _is_loopback(urlsplit(endpoint).hostname or "")):
        why.append("in mock mode reference images stay in the built-in emulator (unless "
                   "GCS_ENDPOINT is a storage emulator on this machine)")
    if why:
        problems.append("REFERENCE_UPLOAD is gcs, but " + "; ".join(why)
                        + "; uploads go through the orchestrator.")
        return {}
    prefix = _first(sources, "GCS_PREFIX")
    values: dict[str, Any] = {"reference_upload": "gcs", "gcs_bucket": str(bucket).strip(),
                              "gcs_endpoint": endpoint,
                              "gcs_service_account": SecretStr(account)}
    if isinstance(prefix, str) and re.fullmatch(r"[A-Za-z0-9._/-]{0,100}", prefix.strip()) \
            and not prefix.strip().startswith("/") and ".." not in prefix.split("/"):
        values["gcs_prefix"] = prefix.strip()
    elif prefix is not None:
        problems.append(f"GCS_PREFIX should be a folder name such as refs/, not "
                        f"{shown_setting(prefix)}; using refs/.")
    return values
