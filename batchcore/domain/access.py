"""Who may see and spend: sign-in decisions, pure (the shell reads ``st.user`` and secrets).

With Streamlit's built-in sign-in configured (an ``[auth]`` section in secrets), every
workspace belongs to the signed-in person, named by :func:`owner_of` (the lower-cased
email). Without it, everyone who can open the app is one team and the owner is ``""``.
A half-written ``[auth]`` section is a problem that keeps the app closed (it never falls
back to "everyone is one team" by accident).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_PROVIDER",
    "PROVIDER_KEYS",
    "SHARED_KEYS",
    "SIGN_IN_TEXT",
    "SIGN_IN_TITLE",
    "auth_configured",
    "auth_problem",
    "login_providers",
    "may_open",
    "owner_of",
    "signed_in_as",
    "spend_note",
]

#: keys every ``[auth]`` section needs
SHARED_KEYS = ("redirect_uri", "cookie_secret")
#: keys a provider needs (in ``[auth]`` itself, or in a ``[auth.<name>]`` subsection)
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
#: the provider of ``st.login()`` without a name (its keys sit in ``[auth]`` itself)
DEFAULT_PROVIDER = ""

SIGN_IN_TITLE = "Sign in to Batch Studio"
SIGN_IN_TEXT = ("This deployment is shared: sign in to see your own workspaces and history. "
                "Nothing is generated or spent until you sign in.")

_FALSE = {"false", "0", "no", "off"}


def _filled(section: Mapping[str, Any], key: str) -> bool:
    value = section.get(key)
    return value is not None and str(value).strip() != ""


def _auth_section(secrets_sections: Mapping[str, Any]) -> Mapping[str, Any] | None:
    section = secrets_sections.get("auth")
    return section if isinstance(section, Mapping) else None


def login_providers(secrets_sections: Mapping[str, Any]) -> tuple[str, ...]:
    """The providers ``st.login`` can use: ``("",)`` for the keys in ``[auth]`` itself,
    otherwise the names of complete ``[auth.<name>]`` sections; ``()`` when sign-in is not
    (completely) configured."""
    auth = _auth_section(secrets_sections)
    if auth is None or not all(_filled(auth, k) for k in SHARED_KEYS):
        return ()
    found: list[str] = []
    if all(_filled(auth, k) for k in PROVIDER_KEYS):
        found.append(DEFAULT_PROVIDER)
    for name, value in auth.items():
        if isinstance(value, Mapping) and "_" not in str(name) and name != "client_kwargs" \
                and all(_filled(value, k) for k in PROVIDER_KEYS):
            found.append(str(name))
    return tuple(found)


def auth_configured(secrets_sections: Mapping[str, Any]) -> bool:
    """Is sign-in asked for at all (an ``[auth]`` section is present)? A present but
    incomplete section counts as asked for: :func:`auth_problem` says what is missing."""
    return _auth_section(secrets_sections) is not None


def auth_problem(secrets_sections: Mapping[str, Any]) -> str:
    """Why the ``[auth]`` section cannot be used ("" when it can, or when there is none).
    Names the missing keys, never a value."""
    auth = _auth_section(secrets_sections)
    if auth is None or login_providers(secrets_sections):
        return ""
    missing = [k for k in SHARED_KEYS if not _filled(auth, k)]
    if not any(isinstance(v, Mapping) and k != "client_kwargs" for k, v in auth.items()):
        missing += [k for k in PROVIDER_KEYS if not _filled(auth, k)]
    if not missing:
        missing = [f"{'/'.join(PROVIDER_KEYS)} of a provider"]
    return ("Sign-in is configured but incomplete, so the app stays closed: the [auth] "
            f"section of the secrets is missing {', '.join(missing)}.")


def owner_of(user_info: Mapping[str, Any]) -> str:
    """Who owns what this person makes: the lower-cased email of a signed-in person, or
    ``"sub:<subject>"`` when the provider gives no email it vouches for (an email marked
    ``email_verified = false`` is not trusted); ``""`` when nobody is signed in."""
    if not user_info.get("is_logged_in"):
        return ""
    email = str(user_info.get("email") or "").strip().lower()
    verified = str(user_info.get("email_verified", "true")).strip().lower() not in _FALSE
    if email and verified:
        return email
    subject = str(user_info.get("sub") or "").strip()
    return f"sub:{subject}" if subject else ""


def may_open(owner: str, workspace_owner: str) -> bool:
    """May ``owner`` open a workspace stamped ``workspace_owner``? Unowned ones (made
    before sign-in was configured) are open to everyone; owned ones only to their owner."""
    return not workspace_owner or workspace_owner == owner


def signed_in_as(owner: str) -> str:
    """The sidebar line for the signed-in person (plain text)."""
    return f"Signed in as {owner.removeprefix('sub:')}"



def spend_note(owner: str, allowlist: tuple[str, ...], sign_in: bool) -> str:
    """What the sidebar says when SPEND_ALLOWLIST keeps this person from spending ("" when
    it does not). The services refuse the spending itself; this only says so up front."""
    if not allowlist or owner.lower() in allowlist:
        return ""
    if not sign_in:
        return ("SPEND_ALLOWLIST is set but sign-in is not configured, so nobody can spend: "
                "configure sign-in ([auth] in the secrets) or remove SPEND_ALLOWLIST.")
    return ("You may look and dry-run, but not spend: your account is not on SPEND_ALLOWLIST. "
            "Ask an admin to add you.")
