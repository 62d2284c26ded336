"""Users for tests: an admin of every account with an API token and a web session.

Tests that are not about sign-in act as `tester`, made admin of every account that exists when
it sends a request (accounts made by the shell or the services join its list), so they read as
before sign-in existed. Isolation and roles are tested with users made apart (test_access.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx

from faxcast.domain.access import Role
from faxcast.services import signin, tokens, users
from faxcast.services.context import Services
from faxcast.store import repository

TESTER: Final = "tester"
PASSWORD: Final = "correct horse battery"


@dataclass(frozen=True)
class Identity:
    """A user's API token and web session cookie."""

    user_id: int
    token: str
    session: str

    @property
    def bearer(self) -> dict[str, str]:
        """The Authorization header of the token."""
        return {"Authorization": f"Bearer {self.token}"}


def new_user(
    svc: Services, login: str, roles: dict[int, Role], *, password: str = PASSWORD
) -> Identity:
    """A user with these roles, signed in, with a token."""
    user, _ = users.create_user(svc, login, accounts=roles, password=password)
    return _signed_in(svc, user.id, login, password)


def tester(svc: Services) -> Identity:
    """The tests' admin of every account (made on first use; a new token and session after)."""
    with svc.transaction() as conn:
        found = repository.user_by_login(conn, TESTER)
    identity = (
        new_user(svc, TESTER, {})
        if found is None
        else _signed_in(svc, found[0].id, TESTER, PASSWORD)
    )
    join_every_account(svc, identity.user_id)
    return identity


def _signed_in(svc: Services, user_id: int, login: str, password: str) -> Identity:
    session = signin.sign_in(svc, login, password, address="127.0.0.1")
    with svc.transaction() as conn:
        caller = users.caller_of(conn, repository.get_user(conn, user_id))
    _, token = tokens.create_token(svc.acting_for(caller), "tests")
    return Identity(user_id, token, session)


def join_every_account(svc: Services, user_id: int) -> None:
    """Make the user admin of every account they are not in yet."""
    with svc.transaction() as conn:
        roles = repository.roles_of(conn, user_id)
        for account in repository.list_accounts(conn):
            if account.id not in roles:
                repository.put_member(
                    conn,
                    account_id=account.id,
                    user_id=user_id,
                    role=Role.ADMIN,
                    now=svc.clock.now(),
                )


def as_tester(svc: Services, client: httpx.Client, identity: Identity | None = None) -> Identity:
    """Make `client` act as the tester: its token, its session cookie, and every account."""
    me = identity or tester(svc)
    client.headers.update(me.bearer)
    client.cookies.set("faxcast_session", me.session)
    client.event_hooks["request"].append(lambda _request: join_every_account(svc, me.user_id))
    return me
