"""CSRF protection: a per-session token in a signed cookie, echoed by every form and fetch.

A POST passes when its form field (or header) equals the token inside the cookie and the cookie's
signature is the server's (made with its secret key, so it holds across restarts and processes).
Another site can neither read the cookie nor forge a signed one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

COOKIE: Final = "faxcast_csrf"
FIELD: Final = "csrf_token"
HEADER: Final = "X-CSRF-Token"


class CsrfError(Exception):
    """The request has no valid token: refused with 403."""


def signing_key(secret_key: bytes) -> bytes:
    """The key cookies are signed with, derived from the server's secret key for this use only."""
    return hmac.new(secret_key, b"faxcast web csrf", hashlib.sha256).digest()


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(24)


def sign(secret: bytes, token: str) -> str:
    """The cookie value: the token and its HMAC."""
    return f"{token}.{_mac(secret, token)}"


def token_of(secret: bytes, cookie: str | None) -> str | None:
    """The token inside a cookie signed with `secret`, or None."""
    if not cookie or "." not in cookie:
        return None
    token, _, mac = cookie.rpartition(".")
    return token if token and hmac.compare_digest(mac, _mac(secret, token)) else None


def check(secret: bytes, cookie: str | None, submitted: str | None) -> None:
    """Raise CsrfError unless `submitted` is the token of a validly signed cookie."""
    token = token_of(secret, cookie)
    if token is None or not submitted or not hmac.compare_digest(token, submitted):
        raise CsrfError("missing or wrong CSRF token")


def _mac(secret: bytes, token: str) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()
