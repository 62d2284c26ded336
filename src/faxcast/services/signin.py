"""Web sign-in: passwords checked with throttling, server-side sessions with idle and absolute
expiry, sign-out that ends the session on the server."""

from __future__ import annotations

import math
from datetime import timedelta

from faxcast.domain.access import AuditAction, Caller, User
from faxcast.errors import InputError, ThrottledError
from faxcast.i18n import codes
from faxcast.services import audit, passwords
from faxcast.services.context import Services
from faxcast.services.handouts import digest, new_secret, plausible
from faxcast.services.users import LOGIN_MAX, caller_of
from faxcast.store import repository

# A session's last use is written at most this often, not on every page.
_TOUCH_EVERY = timedelta(seconds=60)


def sign_in(svc: Services, login: str, password: str, *, address: str) -> str:
    """A new session's secret for the user, or InputError; ThrottledError after too many
    failures for this login or from this address (the password is then not even checked)."""
    name = login.strip().casefold()[:LOGIN_MAX]
    settings = svc.settings
    window = timedelta(seconds=settings.sign_in_window_s)
    with svc.transaction() as conn:
        now = svc.clock.now()
        repository.forget_failures(conn, before=now - window)
        by_login, by_address = repository.failures_since(
            conn, login=name, address=address, since=now - window
        )
        found = repository.user_by_login(conn, name)
    if (
        by_login >= settings.sign_in_login_failures
        or by_address >= settings.sign_in_address_failures
    ):
        minutes = max(1, math.ceil(settings.sign_in_window_s / 60))
        raise ThrottledError(
            codes.AUTH_THROTTLED(count=minutes), retry_after_s=int(settings.sign_in_window_s)
        )
    user, stored = found if found is not None else (None, None)
    if user is None or not passwords.matches(stored, password):
        with svc.transaction() as conn:
            repository.insert_failure(conn, login=name, address=address, now=svc.clock.now())
        raise InputError(codes.AUTH_BAD_CREDENTIALS())
    return open_session(svc, user, address=address)


def open_session(svc: Services, user: User, *, address: str) -> str:
    """A new session's secret for a user whose password was just checked (or just chosen)."""
    secret = new_secret()
    with svc.transaction() as conn:
        repository.forget_failures(conn, login=user.login)
        repository.insert_session(conn, digest(secret), user_id=user.id, now=svc.clock.now())
        signed_in = svc.acting_for(caller_of(conn, user, address))
        audit.record_in_every_account(conn, signed_in, AuditAction.SIGNED_IN, user.login)
    return secret


def session_caller(svc: Services, secret: str | None, *, address: str) -> Caller | None:
    """Who the session is, or None when it is unknown, ended or expired (it is then removed)."""
    if secret is None or not plausible(secret):
        return None
    key = digest(secret)
    with svc.transaction() as conn:
        found = repository.session_of(conn, key)
        if found is None:
            return None
        user_id, created_at, seen_at = found
        now = svc.clock.now()
        settings = svc.settings
        if now - seen_at > timedelta(seconds=settings.session_idle_s) or now - created_at > (
            timedelta(seconds=settings.session_max_s)
        ):
            repository.delete_session(conn, key)
            return None
        if now - seen_at >= _TOUCH_EVERY:
            repository.touch_session(conn, key, now=now)
        return caller_of(conn, repository.get_user(conn, user_id), address)


def sign_out(svc: Services, secret: str | None) -> None:
    """End the session on the server (its cookie then opens nothing)."""
    if secret is None or not plausible(secret):
        return
    with svc.transaction() as conn:
        if repository.session_of(conn, digest(secret)) is None:
            return
        repository.delete_session(conn, digest(secret))
        audit.record_in_every_account(conn, svc, AuditAction.SIGNED_OUT, svc.caller.login)
