"""Users, their roles in accounts, the secrets handed to them (as SHA-256), and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from faxcast.domain.access import ApiToken, AuditAction, AuditEvent, Member, Role, User
from faxcast.errors import NotFoundError
from faxcast.i18n import codes
from faxcast.store.repository._ids import storable
from faxcast.store.tables import (
    api_tokens,
    audit_events,
    memberships,
    setup_links,
    sign_in_failures,
    users,
    web_sessions,
)

# ---------------------------------------------------------------------------- users


def insert_user(conn: Connection, *, login: str, password_hash: str | None, now: datetime) -> User:
    """A new user; `login` must already be case-folded and free."""
    new_id = conn.execute(
        insert(users).values(login=login, password_hash=password_hash, created_at=now)
    ).inserted_primary_key
    assert new_id is not None
    return get_user(conn, int(new_id[0]))


def get_user(conn: Connection, user_id: int) -> User:
    """The user, or NotFoundError."""
    row = (
        conn.execute(select(users).where(users.c.id == user_id)).first()
        if storable(user_id)
        else None
    )
    if row is None:
        raise NotFoundError(codes.NO_USER(user=user_id))
    return _user(row)


def user_by_login(conn: Connection, login: str) -> tuple[User, str | None] | None:
    """The user with this (case-folded) login and their password hash, or None."""
    row = conn.execute(select(users).where(users.c.login == login)).first()
    return None if row is None else (_user(row), row.password_hash)


def password_hash_of(conn: Connection, user_id: int) -> str | None:
    """The user's password hash (None: no password chosen yet)."""
    return conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    """Store the user's new password hash."""
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def count_users(conn: Connection) -> int:
    """How many users exist."""
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def _user(row: Row[Any]) -> User:
    return User(row.id, row.login, row.created_at, row.password_hash is not None)


# ---------------------------------------------------------------------------- memberships


def roles_of(conn: Connection, user_id: int) -> dict[int, Role]:
    """The user's role in each of their accounts."""
    rows = conn.execute(
        select(memberships.c.account_id, memberships.c.role).where(memberships.c.user_id == user_id)
    )
    return {r.account_id: Role(r.role) for r in rows}


def put_member(
    conn: Connection, *, account_id: int, user_id: int, role: Role, now: datetime
) -> None:
    """Make the user a member of the account with `role` (a member already: the role changes)."""
    changed = conn.execute(
        update(memberships)
        .where(memberships.c.account_id == account_id, memberships.c.user_id == user_id)
        .values(role=role.value)
    ).rowcount
    if not changed:
        conn.execute(
            insert(memberships).values(
                account_id=account_id, user_id=user_id, role=role.value, created_at=now
            )
        )


def remove_member(conn: Connection, *, account_id: int, user_id: int) -> bool:
    """Take the user out of the account; False if they were not in it."""
    return bool(
        conn.execute(
            delete(memberships).where(
                memberships.c.account_id == account_id, memberships.c.user_id == user_id
            )
        ).rowcount
    )


def list_members(conn: Connection, account_id: int) -> list[Member]:
    """The account's users, by login."""
    rows = conn.execute(
        select(users, memberships.c.role, memberships.c.created_at.label("added_at"))
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.account_id == account_id)
        .order_by(users.c.login)
    )
    return [Member(_user(r), account_id, Role(r.role), r.added_at) for r in rows]


def get_member(conn: Connection, account_id: int, user_id: int) -> Member:
    """The account's user, or NotFoundError (also for a user of another account only)."""
    for member in list_members(conn, account_id) if storable(account_id, user_id) else ():
        if member.user.id == user_id:
            return member
    raise NotFoundError(codes.NO_USER(user=user_id))


def count_admins(conn: Connection, account_id: int) -> int:
    """How many admins the account has."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(memberships)
            .where(memberships.c.account_id == account_id, memberships.c.role == Role.ADMIN.value)
        ).scalar_one()
    )


# ---------------------------------------------------------------------------- set-up links


def insert_setup_link(
    conn: Connection, digest: str, *, user_id: int | None, now: datetime, expires_at: datetime
) -> None:
    """Keep a set-up link (its SHA-256) for the user, or for the first admin (None)."""
    conn.execute(
        insert(setup_links).values(
            token_sha256=digest, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def take_setup_link(conn: Connection, digest: str, *, now: datetime) -> tuple[int | None] | None:
    """Use up the link: its user (None: the first admin), or None if unknown or expired."""
    row = conn.execute(
        delete(setup_links)
        .where(setup_links.c.token_sha256 == digest)
        .returning(setup_links.c.user_id, setup_links.c.expires_at)
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return (row.user_id,)


def setup_link_user(conn: Connection, digest: str) -> int | None:
    """The user a link is for (None: the first admin, or no such link)."""
    return conn.execute(
        select(setup_links.c.user_id).where(setup_links.c.token_sha256 == digest)
    ).scalar()


def setup_link_valid(conn: Connection, digest: str, *, now: datetime) -> bool:
    """Whether the link exists and has not expired (it is not used up)."""
    expires = conn.execute(
        select(setup_links.c.expires_at).where(setup_links.c.token_sha256 == digest)
    ).scalar()
    return expires is not None and expires > now


# ---------------------------------------------------------------------------- web sessions


def insert_session(conn: Connection, digest: str, *, user_id: int, now: datetime) -> None:
    """A new signed-in session."""
    conn.execute(
        insert(web_sessions).values(
            token_sha256=digest, user_id=user_id, created_at=now, seen_at=now
        )
    )


def session_of(conn: Connection, digest: str) -> tuple[int, datetime, datetime] | None:
    """The session's user, creation and last use, or None."""
    row = conn.execute(select(web_sessions).where(web_sessions.c.token_sha256 == digest)).first()
    return None if row is None else (row.user_id, row.created_at, row.seen_at)


def touch_session(conn: Connection, digest: str, *, now: datetime) -> None:
    """Note that the session was used now."""
    conn.execute(
        update(web_sessions).where(web_sessions.c.token_sha256 == digest).values(seen_at=now)
    )


def delete_session(conn: Connection, digest: str) -> None:
    """End the session."""
    conn.execute(delete(web_sessions).where(web_sessions.c.token_sha256 == digest))


def delete_sessions_of(conn: Connection, user_id: int, *, keep: str | None = None) -> None:
    """End every session of the user, but `keep`."""
    query = delete(web_sessions).where(web_sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(web_sessions.c.token_sha256 != keep)
    conn.execute(query)


# ---------------------------------------------------------------------------- API tokens


def insert_token(
    conn: Connection,
    digest: str,
    *,
    user_id: int,
    name: str,
    hint: str,
    now: datetime,
    expires_at: datetime | None,
) -> ApiToken:
    """A new API token of the user."""
    new_id = conn.execute(
        insert(api_tokens).values(
            user_id=user_id,
            name=name,
            token_sha256=digest,
            hint=hint,
            created_at=now,
            expires_at=expires_at,
        )
    ).inserted_primary_key
    assert new_id is not None
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == int(new_id[0]))).one()
    return _token(row)


def token_by_digest(conn: Connection, digest: str) -> ApiToken | None:
    """The token whose secret has this SHA-256, or None."""
    row = conn.execute(select(api_tokens).where(api_tokens.c.token_sha256 == digest)).first()
    return None if row is None else _token(row)


def touch_token(conn: Connection, token_id: int, *, now: datetime) -> None:
    """Note that the token was used now."""
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


def list_tokens(conn: Connection, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first."""
    rows = conn.execute(
        select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id.desc())
    )
    return [_token(r) for r in rows]


def delete_token(conn: Connection, *, user_id: int, token_id: int) -> ApiToken:
    """Revoke the user's token, or NotFoundError (also for another user's token)."""
    row = (
        conn.execute(
            delete(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
            .returning(*api_tokens.c)
        ).first()
        if storable(token_id)
        else None
    )
    if row is None:
        raise NotFoundError(codes.NO_TOKEN(token=token_id))
    return _token(row)


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(
        row.id, row.user_id, row.name, row.hint, row.created_at, row.last_used_at, row.expires_at
    )


# ---------------------------------------------------------------------------- sign-in failures


def insert_failure(conn: Connection, *, login: str, address: str, now: datetime) -> None:
    """Keep a refused sign-in."""
    conn.execute(insert(sign_in_failures).values(login=login, address=address, at=now))


def failures_since(
    conn: Connection, *, login: str, address: str, since: datetime
) -> tuple[int, int]:
    """Refused sign-ins since `since`: for this login, and from this address."""

    def count(*where: Any) -> int:
        query = select(func.count()).select_from(sign_in_failures).where(*where)
        return int(conn.execute(query).scalar_one())

    recent = sign_in_failures.c.at >= since
    return (
        count(sign_in_failures.c.login == login, recent),
        count(sign_in_failures.c.address == address, recent),
    )


def forget_failures(
    conn: Connection, *, login: str | None = None, before: datetime | None = None
) -> None:
    """Forget the login's refused sign-ins, or every one older than `before`."""
    query = delete(sign_in_failures)
    if login is not None:
        query = query.where(sign_in_failures.c.login == login)
    if before is not None:
        query = query.where(sign_in_failures.c.at < before)
    conn.execute(query)


# ---------------------------------------------------------------------------- audit log


def insert_event(
    conn: Connection,
    *,
    account_id: int,
    at: datetime,
    actor: str,
    action: AuditAction,
    subject: str,
    address: str,
) -> None:
    """Record what was done in the account."""
    conn.execute(
        insert(audit_events).values(
            account_id=account_id,
            at=at,
            actor=actor[:100],
            action=action.value,
            subject=subject[:200],
            address=address[:64],
        )
    )


def list_events(
    conn: Connection, account_id: int, *, limit: int, before_id: int | None = None
) -> list[AuditEvent]:
    """The account's events, newest first, `limit` of them older than event `before_id`."""
    query = select(audit_events).where(audit_events.c.account_id == account_id)
    if before_id is not None:
        query = query.where(audit_events.c.id < before_id)
    rows = conn.execute(query.order_by(audit_events.c.id.desc()).limit(limit))
    return [
        AuditEvent(r.id, r.account_id, r.at, r.actor, AuditAction(r.action), r.subject, r.address)
        for r in rows
    ]
