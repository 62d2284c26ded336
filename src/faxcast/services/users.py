"""Users and their roles in accounts: the first admin, invitations, roles, passwords."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy import Connection

from faxcast.domain.access import AuditAction, Caller, Member, Role, User
from faxcast.errors import ConflictError, InputError, NotFoundError, collect, raise_all
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.services import audit, passwords
from faxcast.services.context import Services
from faxcast.services.guard import require_admin
from faxcast.services.handouts import digest, new_secret, plausible
from faxcast.store import repository

LOGIN_MAX: Final = 100
SETUP_PATH: Final = "/setup/"


@dataclass(frozen=True)
class SetupLink:
    """A one-time link where a user chooses their password (the first admin, their login too)."""

    path: str
    valid_hours: int

    def url(self, base: str) -> str:
        """The link on the server at `base` (its scheme, host and port)."""
        return base.rstrip("/") + self.path


def caller_of(conn: Connection, user: User, address: str = "") -> Caller:
    """The user as a caller, with their role in each of their accounts."""
    return Caller(user.id, user.login, repository.roles_of(conn, user.id), address)


def normalise_login(login: str) -> str:
    """The login as kept (case-folded, trimmed), or InputError."""
    folded = login.strip().casefold()
    if not 1 <= len(folded) <= LOGIN_MAX or any(not c.isprintable() or c.isspace() for c in folded):
        raise InputError(codes.LOGIN_INVALID(max=LOGIN_MAX), field=Field.LOGIN)
    return folded


def first_admin_link(svc: Services) -> SetupLink | None:
    """A set-up link for the first admin when nobody can sign in yet, else None."""
    with svc.transaction() as conn:
        if repository.count_users(conn):
            return None
        return _new_link(conn, svc, user_id=None)


def create_user(
    svc: Services, login: str, *, accounts: dict[int, Role], password: str | None = None
) -> tuple[User, SetupLink | None]:
    """A new user with these roles (the shell's `faxcast user create`); without a password,
    the link where they choose one."""
    name = normalise_login(login)
    hashed = passwords.hash_password(passwords.check_new(password)) if password else None
    with svc.transaction() as conn:
        _check_free(conn, name)
        user = repository.insert_user(conn, login=name, password_hash=hashed, now=svc.clock.now())
        for account_id, role in sorted(accounts.items()):
            repository.get_account(conn, account_id)
            _put(conn, svc, account_id, user, role, AuditAction.USER_ADDED)
        link = None if hashed else _new_link(conn, svc, user_id=user.id)
    return user, link


def add_member(
    svc: Services, account_id: int, login: str, role: Role
) -> tuple[Member, SetupLink | None]:
    """Add a user to the account (an admin's act); a new login becomes a user with a set-up
    link, to be handed to them."""
    require_admin(svc, account_id)
    name = normalise_login(login)
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        found = repository.user_by_login(conn, name)
        link = None
        if found is None:
            user = repository.insert_user(conn, login=name, password_hash=None, now=svc.clock.now())
            link = _new_link(conn, svc, user_id=user.id)
        else:
            user = found[0]
            # Adding someone already in the account changes their role: keep an admin then too.
            if role is not Role.ADMIN and account_id in repository.roles_of(conn, user.id):
                _keep_an_admin(conn, repository.get_member(conn, account_id, user.id))
        _put(conn, svc, account_id, user, role, AuditAction.USER_ADDED)
        return repository.get_member(conn, account_id, user.id), link


def list_members(svc: Services, account_id: int) -> list[Member]:
    """The account's users and their roles; for its admins."""
    require_admin(svc, account_id)
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        return repository.list_members(conn, account_id)


def change_role(svc: Services, account_id: int, user_id: int, role: Role) -> Member:
    """Give the account's user another role; the account keeps at least one admin."""
    require_admin(svc, account_id)
    with svc.transaction() as conn:
        member = repository.get_member(conn, account_id, user_id)
        if member.role is role:
            return member
        _keep_an_admin(conn, member)
        _put(conn, svc, account_id, member.user, role, AuditAction.USER_ROLE_CHANGED)
        return repository.get_member(conn, account_id, user_id)


def remove_member(svc: Services, account_id: int, user_id: int) -> None:
    """Take a user out of the account (their sessions there end with it)."""
    require_admin(svc, account_id)
    with svc.transaction() as conn:
        member = repository.get_member(conn, account_id, user_id)
        _keep_an_admin(conn, member)
        repository.remove_member(conn, account_id=account_id, user_id=user_id)
        audit.record(conn, svc, account_id, AuditAction.USER_REMOVED, member.user.login)


def new_setup_link(svc: Services, account_id: int, user_id: int) -> SetupLink:
    """A new set-up link for one of the account's users (one who lost theirs or their password)."""
    require_admin(svc, account_id)
    with svc.transaction() as conn:
        repository.get_member(conn, account_id, user_id)
        return _new_link(conn, svc, user_id=user_id)


def setup_link_login(svc: Services, secret: str) -> str | None:
    """Whether the link can still be used: the login it is for ("" for the first admin), or None."""
    if not plausible(secret):
        return None
    with svc.transaction() as conn:
        if not repository.setup_link_valid(conn, digest(secret), now=svc.clock.now()):
            return None
        user_id = repository.setup_link_user(conn, digest(secret))
        return "" if user_id is None else repository.get_user(conn, user_id).login


def use_setup_link(svc: Services, secret: str, *, login: str | None, password: str) -> User:
    """Choose the password through the link (the first admin also chooses a login, and becomes
    admin of every account); the link is used up."""
    errors: list[InputError] = []
    name = collect(errors, lambda: normalise_login(login or "")) if login is not None else None
    collect(errors, lambda: passwords.check_new(password))
    raise_all(errors)
    hashed = passwords.hash_password(password)
    with svc.transaction() as conn:
        taken = (
            repository.take_setup_link(conn, digest(secret), now=svc.clock.now())
            if plausible(secret)
            else None
        )
        if taken is None:
            raise ConflictError(codes.SETUP_LINK_INVALID())
        (user_id,) = taken
        if user_id is not None:
            repository.set_password_hash(conn, user_id, hashed)
            return repository.get_user(conn, user_id)
        if name is None:
            raise InputError(codes.LOGIN_INVALID(max=LOGIN_MAX), field=Field.LOGIN)
        _check_free(conn, name)
        user = repository.insert_user(conn, login=name, password_hash=hashed, now=svc.clock.now())
        for account in repository.list_accounts(conn):
            _put(conn, svc, account.id, user, Role.ADMIN, AuditAction.USER_ADDED)
        return user


def change_password(svc: Services, current: str, new: str, *, keep_session: str | None) -> None:
    """The caller changes their password; their other sessions end."""
    user_id = svc.caller.user_id
    assert user_id is not None, "the operator has no password"
    passwords.check_new(new, Field.NEW_PASSWORD)
    with svc.transaction() as conn:
        stored = repository.password_hash_of(conn, user_id)
    if not passwords.matches(stored, current):
        raise InputError(codes.PASSWORD_WRONG(), field=Field.PASSWORD)
    hashed = passwords.hash_password(new)
    with svc.transaction() as conn:
        repository.set_password_hash(conn, user_id, hashed)
        repository.delete_sessions_of(
            conn, user_id, keep=digest(keep_session) if keep_session else None
        )
        audit.record_in_every_account(conn, svc, AuditAction.PASSWORD_CHANGED, svc.caller.login)


def _put(
    conn: Connection, svc: Services, account_id: int, user: User, role: Role, action: AuditAction
) -> None:
    repository.put_member(
        conn, account_id=account_id, user_id=user.id, role=role, now=svc.clock.now()
    )
    audit.record(conn, svc, account_id, action, f"{user.login} ({role.value})")


def _keep_an_admin(conn: Connection, member: Member) -> None:
    if member.role is Role.ADMIN and repository.count_admins(conn, member.account_id) <= 1:
        raise ConflictError(codes.LAST_ADMIN(login=member.user.login))


def _check_free(conn: Connection, login: str) -> None:
    if repository.user_by_login(conn, login) is not None:
        raise InputError(codes.LOGIN_TAKEN(login=login), field=Field.LOGIN)


def _new_link(conn: Connection, svc: Services, *, user_id: int | None) -> SetupLink:
    secret = new_secret()
    now = svc.clock.now()
    seconds = svc.settings.setup_link_s
    repository.insert_setup_link(
        conn, digest(secret), user_id=user_id, now=now, expires_at=now + timedelta(seconds=seconds)
    )
    return SetupLink(f"{SETUP_PATH}{secret}", max(1, round(seconds / 3600)))


def user_named(svc: Services, login: str) -> User:
    """The user with this login (the shell names users by login), or NotFoundError."""
    with svc.transaction() as conn:
        found = repository.user_by_login(conn, normalise_login(login))
    if found is None:
        raise NotFoundError(codes.NO_LOGIN(login=login))
    return found[0]


def acting_as(svc: Services, user: User) -> Services:
    """The services acting for `user`, as the shell does to manage their API tokens."""
    with svc.transaction() as conn:
        return svc.acting_for(caller_of(conn, user))
