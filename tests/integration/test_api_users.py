"""Managing users, API tokens and the audit log through the REST API, on SQLite and PostgreSQL.

Each test makes its own users (tests.identity.new_user) with the roles it is about, and calls
the API with their tokens; accounts are made by the operator, so nobody else is in them.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.domain.access import Role
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.store.blobs import DatabaseBlobStore, FileBlobStore
from faxcast.store.database import create_engine_for
from tests.asgi import api_client
from tests.identity import Identity, new_user

NOW = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


@pytest.fixture
def clock() -> ManualClock:
    """The services' clock, at NOW until a test moves it."""
    return ManualClock(NOW)


@pytest.fixture
def svc(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Services]:
    """Services on this test's database."""
    engine = create_engine_for(database_url)
    postgresql = engine.dialect.name == "postgresql"
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore() if postgresql else FileBlobStore(tmp_path / "blobs"),
        clock=clock,
        settings=Settings(data_dir=tmp_path, default_timezone="Europe/Paris"),
    )
    engine.dispose()


@pytest.fixture
def http(svc: Services) -> Iterator[httpx.Client]:
    """An anonymous client of the app; each request names its user's token."""
    with api_client(svc, signed_in=False) as client:
        yield client


@dataclass(frozen=True)
class Team:
    """Two accounts: in the first an admin and a member, in the second another admin."""

    account: int
    other: int
    admin: Identity
    member: Identity
    stranger: Identity

    def users(self, account: int | None = None) -> str:
        """The path of an account's users (the first's by default)."""
        return f"/telephony/{self.account if account is None else account}/users"


@pytest.fixture
def team(svc: Services) -> Team:
    """The accounts and users most tests need."""
    account = accounts.create_account(svc, name="Acme").id
    other = accounts.create_account(svc, name="Globex").id
    return Team(
        account,
        other,
        admin=new_user(svc, "ann", {account: Role.ADMIN}),
        member=new_user(svc, "mo", {account: Role.MEMBER}),
        stranger=new_user(svc, "bea", {other: Role.ADMIN}),
    )


def problem(response: httpx.Response, status: int) -> Any:
    """The problem document of `response`, checked for its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


def logins(http: httpx.Client, team: Team, reader: Identity | None = None) -> dict[str, str]:
    """The first account's users and their roles, as an admin (ann by default) reads them."""
    listed = http.get(team.users(), headers=(reader or team.admin).bearer)
    assert listed.status_code == 200, listed.text
    return {member["login"]: member["role"] for member in listed.json()}


def test_an_admin_adds_users_changes_their_role_and_removes_them(
    http: httpx.Client, team: Team
) -> None:
    added = http.post(
        team.users(), json={"login": " Zoe ", "role": "member"}, headers=team.admin.bearer
    )

    assert added.status_code == 201, added.text
    zoe = added.json()
    assert (zoe["login"], zoe["role"], zoe["hasPassword"]) == ("zoe", "member", False)
    assert zoe["setupUrl"].startswith("http://faxcast.test/setup/")
    assert zoe["validHours"] == 24
    assert http.get(zoe["setupUrl"]).status_code == 200  # the page where she chooses one
    assert logins(http, team) == {"ann": "admin", "mo": "member", "zoe": "member"}

    changed = http.put(
        f"{team.users()}/{zoe['id']}", json={"role": "admin"}, headers=team.admin.bearer
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "admin"
    assert logins(http, team)["zoe"] == "admin"

    link = http.post(f"{team.users()}/{zoe['id']}/setup-link", headers=team.admin.bearer)
    assert link.status_code == 201, link.text
    assert link.json()["setupUrl"] not in (zoe["setupUrl"], None)
    assert http.get(link.json()["setupUrl"]).status_code == 200

    removed = http.delete(f"{team.users()}/{zoe['id']}", headers=team.admin.bearer)
    assert removed.status_code == 204
    assert removed.content == b""
    assert logins(http, team) == {"ann": "admin", "mo": "member"}


def test_an_existing_user_joins_without_a_new_link(http: httpx.Client, team: Team) -> None:
    added = http.post(
        team.users(), json={"login": "BEA", "role": "member"}, headers=team.admin.bearer
    )

    assert added.status_code == 201, added.text
    assert added.json()["id"] == team.stranger.user_id
    assert added.json()["hasPassword"] is True
    assert added.json()["setupUrl"] is None
    assert logins(http, team)["bea"] == "member"


def test_the_last_admin_can_be_neither_demoted_nor_removed(http: httpx.Client, team: Team) -> None:
    me = f"{team.users()}/{team.admin.user_id}"

    demoted = http.put(
        me, json={"role": "member"}, headers=team.admin.bearer | {"Accept-Language": "fr"}
    )
    removed = http.delete(me, headers=team.admin.bearer)

    assert "ann est le dernier administrateur du groupe" in problem(demoted, 409)["detail"]
    assert "ann is the account's last admin" in problem(removed, 409)["detail"]
    # Adding her again as a member would demote her just the same.
    again = {"login": "ann", "role": "member"}
    assert problem(http.post(team.users(), json=again, headers=team.admin.bearer), 409)
    assert logins(http, team)["ann"] == "admin"
    # Once another admin is named, the first may step down.
    member = f"{team.users()}/{team.member.user_id}"
    assert http.put(member, json={"role": "admin"}, headers=team.admin.bearer).status_code == 200
    assert http.put(me, json={"role": "member"}, headers=team.admin.bearer).status_code == 200
    assert logins(http, team, team.member) == {"ann": "member", "mo": "admin"}


def test_a_member_is_forbidden_and_another_account_is_not_found(
    http: httpx.Client, team: Team
) -> None:
    someone = f"{team.users()}/{team.admin.user_id}"
    as_member: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET", team.users(), None),
        ("POST", team.users(), {"login": "eve", "role": "admin"}),
        ("PUT", someone, {"role": "member"}),
        ("DELETE", someone, None),
        ("POST", f"{someone}/setup-link", None),
        ("GET", f"/telephony/{team.account}/audit", None),
        ("GET", f"/telephony/{team.account}/audit.csv", None),
    ]
    for method, path, body in as_member:
        answer = http.request(method, path, json=body, headers=team.member.bearer)
        assert problem(answer, 403)["type"] == "/problems/forbidden", (method, path)
        # The same from an admin of another account: nothing there is theirs.
        answer = http.request(method, path, json=body, headers=team.stranger.bearer)
        assert problem(answer, 404)["type"] == "/problems/not-found", (method, path)

    # An admin cannot reach a user of another account through their own.
    bea = f"{team.users()}/{team.stranger.user_id}"
    assert problem(http.put(bea, json={"role": "member"}, headers=team.admin.bearer), 404)
    assert problem(http.delete(bea, headers=team.admin.bearer), 404)
    assert logins(http, team) == {"ann": "admin", "mo": "member"}


def test_me_says_who_the_token_acts_for(http: httpx.Client, svc: Services, team: Team) -> None:
    both = new_user(svc, "dual", {team.account: Role.MEMBER, team.other: Role.ADMIN})

    me = http.get("/me", headers=both.bearer)

    assert me.status_code == 200, me.text
    assert me.json() == {
        "id": both.user_id,
        "login": "dual",
        "accounts": [
            {"id": team.account, "name": "Acme", "role": "member"},
            {"id": team.other, "name": "Globex", "role": "admin"},
        ],
    }
    assert problem(http.get("/me"), 401)


def test_a_token_works_until_it_is_revoked_then_is_refused_at_once(
    http: httpx.Client, clock: ManualClock, team: Team
) -> None:
    made = http.post("/me/token", json={"name": " deploy "}, headers=team.member.bearer)
    assert made.status_code == 201, made.text
    secret = made.json()["token"]
    assert secret.startswith("fxc_")
    assert made.json()["hint"] == secret[:8]
    bearer = {"Authorization": f"Bearer {secret}"}

    clock.advance(timedelta(minutes=5))
    assert http.get("/me", headers=bearer).json()["login"] == "mo"
    listed = http.get("/me/token", headers=bearer)
    assert listed.status_code == 200
    assert secret not in listed.text
    deploy = next(t for t in listed.json() if t["name"] == "deploy")
    assert "token" not in deploy
    assert deploy["createdAt"] == "2030-01-15T09:00:00+00:00"
    assert deploy["lastUsedAt"] == "2030-01-15T09:05:00+00:00"
    assert deploy["expiresAt"] is None
    # Another user's token is not theirs to revoke.
    assert problem(http.delete(f"/me/token/{deploy['id']}", headers=team.admin.bearer), 404)

    revoked = http.delete(f"/me/token/{deploy['id']}", headers=bearer)

    assert revoked.status_code == 204
    refused = http.get("/me", headers=bearer)
    assert problem(refused, 401)["type"] == "/problems/unauthorized"
    assert refused.headers["www-authenticate"] == "Bearer"
    # The user's other tokens still work.
    assert http.get("/me/token", headers=team.member.bearer).status_code == 200


def test_an_expired_token_is_refused(http: httpx.Client, clock: ManualClock, team: Team) -> None:
    made = http.post(
        "/me/token",
        json={"name": "one hour", "expiresAt": "2030-01-15T11:00:00+01:00"},
        headers=team.member.bearer,
    )
    assert made.status_code == 201, made.text
    assert made.json()["expiresAt"] == "2030-01-15T10:00:00+00:00"
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}

    clock.advance(timedelta(minutes=59, seconds=59))
    assert http.get("/me", headers=bearer).status_code == 200
    clock.advance(timedelta(seconds=1))
    assert problem(http.get("/me", headers=bearer), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "past", "expiresAt": "2030-01-15T08:59:59+00:00"}, "expiresAt"),
        ({"name": "no offset", "expiresAt": "2030-02-01T00:00:00"}, "expiresAt"),
        ({"name": "typo", "expires": "2030-02-01T00:00:00Z"}, "expires"),
    ],
)
def test_a_bad_token_request_names_its_field(
    http: httpx.Client, team: Team, body: dict[str, str], field: str
) -> None:
    refused = problem(http.post("/me/token", json=body, headers=team.member.bearer), 422)

    assert [error["field"] for error in refused["errors"]] == [field]


def test_the_audit_log_says_who_did_what_from_where_newest_first(
    http: httpx.Client, clock: ManualClock, team: Team
) -> None:
    audit = f"/telephony/{team.account}/audit"
    zoe = http.post(
        team.users(), json={"login": "zoe", "role": "member"}, headers=team.admin.bearer
    )
    clock.advance(timedelta(minutes=1))
    http.put(
        f"{team.users()}/{zoe.json()['id']}", json={"role": "admin"}, headers=team.admin.bearer
    )
    http.delete(f"{team.users()}/{zoe.json()['id']}", headers=team.admin.bearer)
    http.post("/me/token", json={"name": "ci"}, headers=team.admin.bearer)

    events = http.get(audit, headers=team.admin.bearer)

    assert events.status_code == 200, events.text
    newest = [(e["actor"], e["action"], e["subject"], e["address"]) for e in events.json()[:4]]
    assert newest == [
        ("ann", "token_created", "ci", "127.0.0.1"),
        ("ann", "user_removed", "zoe", "127.0.0.1"),
        ("ann", "user_role_changed", "zoe (admin)", "127.0.0.1"),
        ("ann", "user_added", "zoe (member)", "127.0.0.1"),
    ]
    assert events.json()[3]["at"] == "2030-01-15T09:00:00+00:00"
    assert events.json()[2]["at"] == "2030-01-15T09:01:00+00:00"
    # Another account's log has none of it.
    elsewhere = http.get(f"/telephony/{team.other}/audit", headers=team.stranger.bearer).json()
    assert "zoe (member)" not in [e["subject"] for e in elsewhere]

    everything = [e["id"] for e in events.json()]
    first = http.get(audit, params={"limit": 2}, headers=team.admin.bearer).json()
    rest = http.get(audit, params={"before": first[-1]["id"]}, headers=team.admin.bearer).json()
    assert [e["id"] for e in first + rest] == everything
    assert everything == sorted(everything, reverse=True)
    for bad in ({"limit": 0}, {"limit": 501}, {"before": 0}, {"before": 2**31}):
        assert problem(http.get(audit, params=bad, headers=team.admin.bearer), 422)


@pytest.mark.parametrize(
    ("lang", "header", "added"),
    [
        ("fr", ["N°", "Date", "Auteur", "Action", "Objet", "Adresse"], "Utilisateur ajouté"),
        ("en", ["ID", "Date", "By", "Action", "Subject", "Address"], "User added"),
    ],
)
def test_the_audit_csv_is_in_the_readers_language_and_runs_no_formula(
    http: httpx.Client, svc: Services, team: Team, lang: str, header: list[str], added: str
) -> None:
    plus = new_user(svc, "+evil", {team.account: Role.ADMIN})
    assert http.post("/me/token", json={"name": "=cmd"}, headers=plus.bearer).status_code == 201
    for login in ("=1+2", "@sum(a1)", "-2+3", "<b>bold</b>"):
        made = http.post(
            team.users(), json={"login": login, "role": "member"}, headers=team.admin.bearer
        )
        assert made.status_code == 201, made.text

    response = http.get(
        f"/telephony/{team.account}/audit.csv",
        headers=team.admin.bearer | {"Accept-Language": lang},
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="faxcast-audit-{team.account}.csv"'
    )
    assert response.headers["content-language"] == lang
    assert response.content.startswith(codecs.BOM_UTF8)
    assert b"\r\n" in response.content
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == header
    # Newest first; times in the account's time zone (Paris, UTC+1 in January).
    assert [row[2:] for row in rows[1:5]] == [
        ["ann", added, "<b>bold</b> (member)", "127.0.0.1"],
        ["ann", added, "'-2+3 (member)", "127.0.0.1"],
        ["ann", added, "'@sum(a1) (member)", "127.0.0.1"],
        ["ann", added, "'=1+2 (member)", "127.0.0.1"],
    ]
    assert rows[1][1] == "2030-01-15T10:00:00+01:00"
    assert rows[5][2:5] == [
        "'+evil",
        "Jeton d'API créé" if lang == "fr" else "API token created",
        "'=cmd",
    ]
    assert "&lt;" not in response.text
