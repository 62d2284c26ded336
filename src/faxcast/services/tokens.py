"""API tokens: per user, shown once, kept as their SHA-256, revoked at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from faxcast.domain.access import ApiToken, AuditAction, Caller
from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.services import audit
from faxcast.services.context import Services
from faxcast.services.handouts import digest, new_secret, plausible
from faxcast.services.users import caller_of
from faxcast.store import repository

PREFIX: Final = "fxc_"
NAME_MAX: Final = 100
_HINT_CHARS: Final = len(PREFIX) + 4
_TOUCH_EVERY: Final = timedelta(seconds=60)


def create_token(
    svc: Services, name: str, *, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for the caller, and its secret (shown this once, never again)."""
    user_id = _user_id(svc)
    label = name.strip()
    if not 1 <= len(label) <= NAME_MAX:
        raise InputError(codes.TOKEN_NAME_LENGTH(max=NAME_MAX), field=Field.NAME)
    if expires_at is not None and expires_at <= svc.clock.now():
        raise InputError(codes.TOKEN_EXPIRY_PAST(), field=Field.EXPIRES_AT)
    secret = new_secret(PREFIX)
    with svc.transaction() as conn:
        token = repository.insert_token(
            conn,
            digest(secret),
            user_id=user_id,
            name=label,
            hint=secret[:_HINT_CHARS],
            now=svc.clock.now(),
            expires_at=expires_at,
        )
        audit.record_in_every_account(conn, svc, AuditAction.TOKEN_CREATED, label)
    return token, secret


def list_tokens(svc: Services) -> list[ApiToken]:
    """The caller's tokens, newest first."""
    with svc.transaction() as conn:
        return repository.list_tokens(conn, _user_id(svc))


def revoke_token(svc: Services, token_id: int) -> None:
    """Revoke one of the caller's tokens: the next request with it is refused."""
    with svc.transaction() as conn:
        token = repository.delete_token(conn, user_id=_user_id(svc), token_id=token_id)
        audit.record_in_every_account(conn, svc, AuditAction.TOKEN_REVOKED, token.name)


def token_caller(svc: Services, secret: str, *, address: str) -> Caller | None:
    """Who the token's user is, or None for an unknown, revoked or expired token."""
    if not plausible(secret) or not secret.startswith(PREFIX):
        return None
    with svc.transaction() as conn:
        token = repository.token_by_digest(conn, digest(secret))
        now = svc.clock.now()
        if token is None or (token.expires_at is not None and token.expires_at <= now):
            return None
        if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
            repository.touch_token(conn, token.id, now=now)
        return caller_of(conn, repository.get_user(conn, token.user_id), address)


def _user_id(svc: Services) -> int:
    user_id = svc.caller.user_id
    assert user_id is not None, "tokens belong to users, not to the operator"
    return user_id
