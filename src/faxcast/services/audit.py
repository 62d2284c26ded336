"""The audit log: who did what in an account, written in the transaction that did it."""

from __future__ import annotations

from sqlalchemy import Connection

from faxcast.domain.access import AuditAction, AuditEvent
from faxcast.services.context import Services
from faxcast.services.guard import require_admin
from faxcast.store import repository

PAGE_MAX = 500


def record(
    conn: Connection, svc: Services, account_id: int, action: AuditAction, subject: str
) -> None:
    """Note that the services' caller did `action` to `subject` in the account."""
    caller = svc.caller
    repository.insert_event(
        conn,
        account_id=account_id,
        at=svc.clock.now(),
        actor=caller.login,
        action=action,
        subject=subject,
        address=caller.address,
    )


def record_in_every_account(
    conn: Connection, svc: Services, action: AuditAction, subject: str
) -> None:
    """Note a user's own action (a sign-in, a token) in each of their accounts' logs."""
    for account_id in sorted(repository.roles_of(conn, svc.caller.user_id or 0)):
        record(conn, svc, account_id, action, subject)


def list_events(
    svc: Services, account_id: int, *, limit: int = 100, before_id: int | None = None
) -> list[AuditEvent]:
    """The account's log, newest first; for its admins."""
    require_admin(svc, account_id)
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        return repository.list_events(
            conn, account_id, limit=max(1, min(limit, PAGE_MAX)), before_id=before_id
        )
