"""Two accounts with data of every kind, made through the API by their own admins.

Each account has its admin and a member, a second line, a PDF and a .txt list of numbers, a
campaign whose call the sandbox network answered (so its attempt holds a received fax), and an
API token per user. Every name, login and number is distinctive, so that a page or an answer
showing the other account's data is caught by a plain substring search.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from faxcast.bootstrap import create_app, line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.domain.access import Role
from faxcast.services import tokens, users
from faxcast.services.context import Services
from faxcast.store import repository
from faxcast.store.blobs import DatabaseBlobStore, FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.web import csrf
from tests import pdfs
from tests.asgi import SyncAsgiTransport
from tests.identity import Identity, new_user

START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
BASE_URL = "http://faxcast.test"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Tenant:
    """One account's ids and the strings that only its data holds."""

    label: str
    account: int
    line: int  # the line the campaign was sent on
    sandbox_line: int  # the one the account came with
    campaign: int
    attempt: int
    pdf: int
    numbers_file: int
    admin: Identity
    member: Identity
    token_ids: tuple[int, ...]  # the admin's: tokens are a user's, not an account's
    member_token_ids: tuple[int, ...]
    marks: tuple[str, ...]

    def as_member(self) -> Tenant:
        """The tenant as its member sees it: the tokens that are theirs."""
        return replace(self, token_ids=self.member_token_ids)

    @property
    def ids(self) -> dict[str, list[int]]:
        """Every id of the account's objects, by the path parameter that names such an id."""
        return {
            "account": [self.account],
            "line": [self.line, self.sandbox_line],
            "campaign": [self.campaign],
            "attempt": [self.attempt],
            "document": [self.pdf, self.numbers_file],
            "user": [self.admin.user_id, self.member.user_id],
            "member": [self.admin.user_id, self.member.user_id],
            "token": list(self.token_ids),
        }

    def first_ids(self) -> dict[str, int]:
        """One id of each kind (the line the campaign and its attempt belong to)."""
        return {name: values[0] for name, values in self.ids.items()}


class _FromAddress(SyncAsgiTransport):
    """The app in-process, for a client at `address` (sign-in throttling counts by address)."""

    def __init__(self, app: FastAPI, address: str) -> None:
        super().__init__(app, raise_app_exceptions=False)
        self._asgi = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(address, 50000)
        )


@dataclass
class Site:
    """An app over one database, and the two accounts in it."""

    svc: Services
    clock: ManualClock
    app: FastAPI
    worker: Worker
    alpha: Tenant
    bravo: Tenant

    def client(
        self, who: Identity | None, *, session: bool = True, address: str = "127.0.0.1"
    ) -> httpx.Client:
        """A client from `address` sending `who`'s token and (unless told not to) session
        cookie, or nothing."""
        client = httpx.Client(transport=_FromAddress(self.app, address), base_url=BASE_URL)
        if who is not None:
            client.headers.update(who.bearer)
            if session:
                client.cookies.set("faxcast_session", who.session)
        return client

    def csrf_token(self, client: httpx.Client) -> str:
        """The CSRF token of the client's web session (a page is fetched for its cookie)."""
        client.get("/sign-in")
        token = csrf.token_of(self.app.state.web.secret, client.cookies.get(csrf.COOKIE))
        assert token is not None
        return token


def services(database_url: str, tmp_path: Path, clock: ManualClock) -> Services:
    """Services on the test's database; blobs in files on SQLite, in the database on PostgreSQL."""
    engine = create_engine_for(database_url)
    postgresql = engine.dialect.name == "postgresql"
    return Services(
        engine=engine,
        blobs=DatabaseBlobStore() if postgresql else FileBlobStore(tmp_path / "blobs"),
        clock=clock,
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


def make_tenant(
    svc: Services,
    app: FastAPI,
    clock: ManualClock,
    worker: Worker,
    label: str,
    number: str,
    *,
    header: str | None = None,
) -> Tenant:
    """An account made by its new admin through the API, filled with data of every kind, each
    named after `label` (a fax header is short: `header` replaces a label too long for it)."""
    admin = new_user(svc, f"{label}-admin-login", {})
    marks = {
        "account": f"{label} Holdings Account",
        "line": f"{label}-line-name",
        "ident": number,
        # The number as stored (E.164) and as a page may group it: its last eight digits.
        "number": "".join(c for c in number if c.isdigit())[-8:],
        "header": f"{label} fax header" if header is None else header,
        "pdf": f"{label}-letter-file.pdf",
        "numbers": f"{label}-numbers-file.txt",
        "campaign": f"{label}-campaign-name",
        "admin": f"{label}-admin-login",
        "member": f"{label}-member-login",
        "token": f"{label}-token-name",
    }
    with httpx.Client(transport=SyncAsgiTransport(app), base_url=BASE_URL) as http:
        http.headers.update(admin.bearer)
        account = _ok(http.post("/telephony", json={"name": marks["account"]}), 201)["id"]
        sandbox_line = _ok(http.get(f"/telephony/{account}/fax"))[0]["id"]
        line = _ok(
            http.post(
                f"/telephony/{account}/fax",
                json={"name": marks["line"], "ident": number, "header": marks["header"]},
            ),
            201,
        )["id"]
        params = {"account": str(account)}
        pdf = _ok(
            http.post(
                "/me/document",
                params=params,
                files={"file": (marks["pdf"], pdfs.text_pdf(pages=1), "application/pdf")},
            ),
            201,
        )["id"]
        numbers_file = _ok(
            http.post(
                "/me/document",
                params=params,
                files={"file": (marks["numbers"], number.encode(), "text/plain")},
            ),
            201,
        )["id"]
        campaigns = f"/telephony/{account}/fax/{line}/campaigns"
        campaign = _ok(
            http.post(
                campaigns,
                json={
                    "name": marks["campaign"],
                    "documentId": pdf,
                    "sendType": "manual",
                    "recipientsType": "document",
                    "recipientsDocId": numbers_file,
                },
            ),
            201,
        )
        _ok(http.post(f"{campaigns}/{campaign['id']}/start"))
        clock.advance(timedelta(seconds=5))

        async def call() -> int:
            started = await worker.tick()
            await worker.idle()
            return started

        assert asyncio.run(call()) == 1
        detail = _ok(http.get(f"{campaigns}/{campaign['id']}/detail"))
        assert detail["campaign"]["state"] == "finished", detail
        (attempt,) = detail["recipients"][0]["attempts"]
        assert attempt["received"] is not None
        marks["reference"] = detail["campaign"]["reference"]
    member = new_user(svc, marks["member"], {account: Role.MEMBER})
    with svc.transaction() as conn:
        admin_caller = users.caller_of(conn, repository.get_user(conn, admin.user_id))
    named, _ = tokens.create_token(svc.acting_for(admin_caller), marks["token"])
    token_ids = tuple(t.id for t in tokens.list_tokens(svc.acting_for(admin_caller)))
    assert named.id in token_ids
    with svc.transaction() as conn:
        member_caller = users.caller_of(conn, repository.get_user(conn, member.user_id))
    member_token_ids = tuple(t.id for t in tokens.list_tokens(svc.acting_for(member_caller)))
    return Tenant(
        label=label,
        account=account,
        line=line,
        sandbox_line=sandbox_line,
        campaign=campaign["id"],
        attempt=attempt["id"],
        pdf=pdf,
        numbers_file=numbers_file,
        admin=admin,
        member=member,
        token_ids=token_ids,
        member_token_ids=member_token_ids,
        marks=tuple(marks.values()),
    )


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    """Accounts alpha and bravo, each with data of every kind, on SQLite and on PostgreSQL."""
    clock = ManualClock(START)
    svc = services(database_url, tmp_path, clock)
    app = create_app(svc)
    worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    # Numbers no page shows otherwise (the sandbox's healthy machines answer them).
    alpha = make_tenant(svc, app, clock, worker, "alpha", "+33 1 71 23 58 13")
    bravo = make_tenant(svc, app, clock, worker, "bravo", "+33 1 79 86 42 97")
    yield Site(svc, clock, app, worker, alpha, bravo)
    svc.engine.dispose()
