"""Capability tokens for the app's own routes (pure: ``hmac`` of the standard library).

A page is given a token for what it may read (the event stream of its workspace), bound to
the workspace, its owner (the signed-in email, or "") and an expiry; a route that receives
the token checks it without any other state. The key is the deployment's secret setting
(shared by replicas) or random per process; it is never put in a URL, only signatures are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["TOKEN_LIFETIME", "check", "sign"]

#: how long a token is good for, in seconds (a page open longer reloads its token on a rerun)
TOKEN_LIFETIME = 12 * 3600

_SEP = "\x1f"


def _mac(key: bytes, expires: int, parts: tuple[str, ...]) -> str:
    message = _SEP.join((str(expires), *parts)).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(key: bytes, *parts: str, now: float, lifetime: int = TOKEN_LIFETIME) -> str:
    """``<expiry>.<signature>`` over ``parts``, good until ``now + lifetime``."""
    expires = int(now) + lifetime
    return f"{expires}.{_mac(key, expires, parts)}"


def check(key: bytes, token: str, *parts: str, now: float) -> str:
    """"" when ``token`` was signed with ``key`` over exactly ``parts`` and has not expired;
    else why not, in a sentence (forged, altered, expired or malformed)."""
    head, dot, mac = (token or "").partition(".")
    if not dot or not head.isdigit() or not mac or len(token) > 200:
        return "The link is malformed."
    expires = int(head)
    if not hmac.compare_digest(mac, _mac(key, expires, parts)):
        return "The link's signature does not match."
    if expires < now:
        return "The link has expired; reload the page."
    return ""
