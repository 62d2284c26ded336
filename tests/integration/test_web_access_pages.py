"""The web pages of an account's users, one's API tokens and the audit log (issue 15), through
the ASGI app: what each role may open, the one-time secrets, escaping, paging and the CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from faxcast.bootstrap import create_app
from faxcast.clock import SystemClock
from faxcast.config import Settings
from faxcast.domain.access import Role
from faxcast.services import accounts, audit, tokens, users
from faxcast.services.context import Services
from faxcast.store import repository
from faxcast.store.blobs import FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.web.routes.audit_log import PAGE_SIZE
from tests.asgi import SyncAsgiTransport
from tests.identity import Identity, new_user

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SETUP_LINK = re.compile(r"http://faxcast\.test/setup/[A-Za-z0-9_-]+")
_SECRET = re.compile(r"fxc_[A-Za-z0-9_-]+")


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services on this test's database, SQLite and PostgreSQL."""
    engine = create_engine_for(database_url)
    yield Services(
        engine=engine,
        blobs=FileBlobStore(tmp_path / "blobs"),
        clock=SystemClock(),
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )
    engine.dispose()


@dataclass(frozen=True)
class People:
    """Account `acme` with its admin alice and member bob; account `other` with its admin carol."""

    acme: int
    other: int
    alice: Identity
    bob: Identity
    carol: Identity


@pytest.fixture
def people(svc: Services) -> People:
    acme = accounts.create_account(svc, name="Acme").id
    other = accounts.create_account(svc, name="Other").id
    return People(
        acme,
        other,
        new_user(svc, "alice", {acme: Role.ADMIN}),
        new_user(svc, "bob", {acme: Role.MEMBER}),
        new_user(svc, "carol", {other: Role.ADMIN}),
    )


def browser(svc: Services, who: Identity | None, lang: str = "en") -> httpx.Client:
    """A browser stand-in signed in as `who`: it keeps cookies and does not follow redirects."""
    client = httpx.Client(
        transport=SyncAsgiTransport(create_app(svc)), base_url="http://faxcast.test"
    )
    client.cookies.set("lang", lang)
    if who is not None:
        client.cookies.set("faxcast_session", who.session)
    return client


def post(client: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Submit a form of `page` to `action`, with the CSRF token the page handed out."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    token = _CSRF.search(shown.text)
    assert token, "the page has no CSRF field"
    return client.post(action, data={"csrf_token": token.group(1), **data})


def caller(svc: Services, who: Identity) -> Services:
    """`svc` acting for `who`."""
    with svc.transaction() as conn:
        return svc.acting_for(users.caller_of(conn, repository.get_user(conn, who.user_id)))


def logins(svc: Services, account: int) -> dict[str, Role]:
    return {m.user.login: m.role for m in users.list_members(svc, account)}


# --- account users ---------------------------------------------------------------------------


def test_a_new_login_gets_a_set_up_link_shown_once_that_works(
    svc: Services, people: People
) -> None:
    page = f"/accounts/{people.acme}/users"
    with browser(svc, people.alice) as alice:
        added = post(alice, page, page, {"login": "Dave", "role": "member"})
        again = alice.get(page)

    assert added.status_code == 200
    links = _SETUP_LINK.findall(added.text)
    assert len(links) == 1
    assert "only once" in added.text
    assert 'data-copy="secret"' in added.text
    assert logins(svc, people.acme)["dave"] is Role.MEMBER
    # Not on the list afterwards: the link is in no other page.
    assert "dave" in again.text
    assert "/setup/" not in again.text
    with browser(svc, None) as anyone:
        assert anyone.get(urlsplit(links[0]).path).status_code == 200


def test_an_existing_login_is_added_with_a_notice_and_no_link(
    svc: Services, people: People
) -> None:
    page = f"/accounts/{people.acme}/users"
    with browser(svc, people.alice) as alice:
        added = post(alice, page, page, {"login": "carol", "role": "admin"})
        shown = alice.get(added.headers["location"])

    assert added.status_code == 303
    assert "/setup/" not in shown.text
    assert "User added." in shown.text
    assert logins(svc, people.acme)["carol"] is Role.ADMIN


def test_a_bad_login_or_role_shows_the_form_again_with_its_errors(
    svc: Services, people: People
) -> None:
    page = f"/accounts/{people.acme}/users"
    with browser(svc, people.alice) as alice:
        spaced = post(alice, page, page, {"login": "two words", "role": "member"})
        no_role = post(alice, page, page, {"login": "erin", "role": "owner"})

    assert spaced.status_code == 422
    assert 'id="error-summary"' in spaced.text
    assert 'href="#login"' in spaced.text
    assert 'value="two words"' in spaced.text
    assert 'aria-invalid="true"' in spaced.text
    assert no_role.status_code == 422
    assert 'href="#role"' in no_role.text
    assert set(logins(svc, people.acme)) == {"alice", "bob"}


def test_an_admin_changes_a_role_and_the_last_admin_stays(svc: Services, people: People) -> None:
    page = f"/accounts/{people.acme}/users"
    with browser(svc, people.alice) as alice:
        refused = post(alice, page, f"{page}/{people.alice.user_id}/role", {"role": "member"})
        promoted = post(alice, page, f"{page}/{people.bob.user_id}/role", {"role": "admin"})
        shown = alice.get(promoted.headers["location"])
        stepped_down = post(alice, page, f"{page}/{people.alice.user_id}/role", {"role": "member"})

    assert refused.status_code == 409
    assert "alice is the account&#39;s last admin" in refused.text
    assert promoted.status_code == 303
    assert "Role changed." in shown.text
    # Alice is no longer admin there: she goes home rather than to a page she may not see.
    assert stepped_down.status_code == 303
    assert stepped_down.headers["location"] == "/"
    assert logins(svc, people.acme) == {"alice": Role.MEMBER, "bob": Role.ADMIN}


def test_removing_a_user_asks_first_and_never_removes_the_last_admin(
    svc: Services, people: People
) -> None:
    page = f"/accounts/{people.acme}/users"
    remove = f"{page}/{people.bob.user_id}/remove"
    with browser(svc, people.alice) as alice:
        asked = alice.get(remove)
        removed = post(alice, remove, remove, {})
        shown = alice.get(removed.headers["location"])
        last = post(alice, page, f"{page}/{people.alice.user_id}/remove", {})
    with browser(svc, people.bob) as bob:
        gone = bob.get(f"/accounts/{people.acme}/lines/1")

    assert asked.status_code == 200
    assert "bob will no longer have access to the account Acme" in asked.text
    assert removed.status_code == 303
    assert "User removed from the account." in shown.text
    assert f'id="user-{people.bob.user_id}"' not in shown.text
    assert last.status_code == 409
    assert "last admin" in last.text
    assert set(logins(svc, people.acme)) == {"alice"}
    assert gone.status_code == 404


def test_a_new_set_up_link_replaces_a_lost_one(svc: Services, people: People) -> None:
    page = f"/accounts/{people.acme}/users"
    with browser(svc, people.alice) as alice:
        handed = post(alice, page, f"{page}/{people.bob.user_id}/link", {})

    assert handed.status_code == 200
    (link,) = _SETUP_LINK.findall(handed.text)
    assert users.setup_link_login(svc, link.rsplit("/", 1)[1]) == "bob"


def test_html_in_a_login_is_shown_escaped_in_the_pages_and_the_csv(
    svc: Services, people: People
) -> None:
    page = f"/accounts/{people.acme}/users"
    with browser(svc, people.alice) as alice:
        added = post(alice, page, page, {"login": SCRIPT, "role": "member"})
        listed = alice.get(page)
        logged = alice.get(f"/accounts/{people.acme}/audit")
        table = alice.get(f"/accounts/{people.acme}/audit.csv")

    for response in (added, listed, logged):
        assert SCRIPT not in response.text
        assert ESCAPED in response.text
    assert f"{SCRIPT} (member)" in table.text  # CSV is not HTML: the text as typed


# --- who may open what ------------------------------------------------------------------------


def test_a_member_is_refused_the_admin_pages_and_sees_no_link_to_them(
    svc: Services, people: People
) -> None:
    acme = f"/accounts/{people.acme}"
    with browser(svc, people.bob) as bob:
        home = bob.get("/")
        answers = {
            path: bob.get(path).status_code
            for path in (f"{acme}/users", f"{acme}/audit", f"{acme}/audit.csv")
        }
        answers[f"{acme}/users/{people.alice.user_id}/remove"] = bob.get(
            f"{acme}/users/{people.alice.user_id}/remove"
        ).status_code
        answers["POST add"] = post(
            bob, "/me/tokens", f"{acme}/users", {"login": "mallory", "role": "admin"}
        ).status_code
        answers["POST role"] = post(
            bob, "/me/tokens", f"{acme}/users/{people.bob.user_id}/role", {"role": "admin"}
        ).status_code

    assert set(answers.values()) == {403}, answers
    assert "API tokens" in home.text
    assert f"{acme}/users" not in home.text
    assert f"{acme}/audit" not in home.text
    assert logins(svc, people.acme) == {"alice": Role.ADMIN, "bob": Role.MEMBER}


def test_another_accounts_admin_gets_not_found(svc: Services, people: People) -> None:
    acme = f"/accounts/{people.acme}"
    with browser(svc, people.carol) as carol:
        home = carol.get("/")
        answers = {
            path: carol.get(path).status_code
            for path in (
                f"{acme}/users",
                f"{acme}/audit",
                f"{acme}/audit.csv",
                f"{acme}/users/{people.bob.user_id}/remove",
            )
        }
        answers["POST link"] = post(
            carol, "/me/tokens", f"{acme}/users/{people.bob.user_id}/link", {}
        ).status_code
        # Her own account's pages do not reach acme's users either.
        other = f"/accounts/{people.other}/users/{people.bob.user_id}"
        answers["other remove"] = carol.get(f"{other}/remove").status_code
        answers["other role"] = post(
            carol, "/me/tokens", f"{other}/role", {"role": "admin"}
        ).status_code

    assert set(answers.values()) == {404}, answers
    assert f"/accounts/{people.other}/users" in home.text
    assert f"/accounts/{people.other}/audit" in home.text
    assert logins(svc, people.acme) == {"alice": Role.ADMIN, "bob": Role.MEMBER}


def test_the_pages_need_a_session_and_their_forms_a_csrf_token(
    svc: Services, people: People
) -> None:
    with browser(svc, None) as anyone:
        pages = [anyone.get(p) for p in ("/me/tokens", f"/accounts/{people.acme}/audit")]
    with browser(svc, people.alice) as alice:
        forged = alice.post(f"/accounts/{people.acme}/users", data={"login": "x", "role": "admin"})
        forged_token = alice.post("/me/tokens", data={"name": "x"})

    assert [p.status_code for p in pages] == [303, 303]
    assert all(p.headers["location"].startswith("/sign-in?next=") for p in pages)
    assert forged.status_code == forged_token.status_code == 403
    assert "x" not in logins(svc, people.acme)
    assert [t.name for t in tokens.list_tokens(caller(svc, people.alice))] == ["tests"]


# --- API tokens -------------------------------------------------------------------------------


def test_a_token_is_created_shown_once_listed_and_revoked(svc: Services, people: People) -> None:
    expiry = date.today() + timedelta(days=30)
    with browser(svc, people.bob) as bob:
        created = post(
            bob, "/me/tokens", "/me/tokens", {"name": SCRIPT, "expires_at": expiry.isoformat()}
        )
        (secret,) = set(_SECRET.findall(created.text))
        listed = bob.get("/me/tokens")
        with browser(svc, None) as program:
            program.headers["Authorization"] = f"Bearer {secret}"
            before = program.get("/telephony")
            (token,) = [t for t in tokens.list_tokens(caller(svc, people.bob)) if t.name == SCRIPT]
            asked = bob.get(f"/me/tokens/{token.id}/revoke")
            revoked = post(bob, "/me/tokens", f"/me/tokens/{token.id}/revoke", {})
            after = program.get("/telephony")
        shown = bob.get(revoked.headers["location"])

    assert created.status_code == 201
    assert "it will not be shown again" in created.text
    assert SCRIPT not in created.text
    assert ESCAPED in created.text
    assert secret not in listed.text
    assert ESCAPED in listed.text
    assert secret[:8] + "…" in listed.text
    assert expiry.strftime("%Y-%m-%d") + " 00:00" in listed.text
    assert token.name == SCRIPT
    assert before.status_code == 200
    assert asked.status_code == 200
    assert ESCAPED in asked.text
    assert revoked.status_code == 303
    assert "Token revoked." in shown.text
    assert secret[:8] not in shown.text
    assert after.status_code == 401


def test_a_bad_token_name_or_date_shows_the_form_again(svc: Services, people: People) -> None:
    with browser(svc, people.alice) as alice:
        empty = post(alice, "/me/tokens", "/me/tokens", {"name": " ", "expires_at": ""})
        garbled = post(alice, "/me/tokens", "/me/tokens", {"name": "ci", "expires_at": "31/01/27"})
        past = post(alice, "/me/tokens", "/me/tokens", {"name": "ci", "expires_at": "2020-01-01"})

    assert [r.status_code for r in (empty, garbled, past)] == [422, 422, 422]
    assert 'href="#name"' in empty.text
    assert 'href="#expires_at"' in garbled.text
    assert "YYYY-MM-DD" in garbled.text
    assert 'href="#expires_at"' in past.text
    assert "in the future" in past.text
    assert [t.name for t in tokens.list_tokens(caller(svc, people.alice))] == ["tests"]


def test_another_users_token_is_not_found(svc: Services, people: People) -> None:
    (theirs,) = tokens.list_tokens(caller(svc, people.carol))
    with browser(svc, people.alice) as alice:
        asked = alice.get(f"/me/tokens/{theirs.id}/revoke")
        revoked = post(alice, "/me/tokens", f"/me/tokens/{theirs.id}/revoke", {})
        listed = alice.get("/me/tokens")

    assert asked.status_code == revoked.status_code == 404
    assert theirs.hint not in listed.text
    assert tokens.list_tokens(caller(svc, people.carol)) == [theirs]


# --- the audit log ----------------------------------------------------------------------------


def test_the_audit_log_pages_newest_first(svc: Services, people: People) -> None:
    alice = caller(svc, people.alice)
    for n in range(PAGE_SIZE + 5):
        tokens.create_token(alice, f"token {n:02d}")
    with browser(svc, people.alice) as client:
        first = client.get(f"/accounts/{people.acme}/audit")
        older = re.search(r'id="audit-older" href="([^"]+)"', first.text)
        assert older, "no link to the older events"
        second = client.get(older.group(1).replace("&amp;", "&"))

    first_names = re.findall(r"token (\d\d)", first.text)
    second_names = re.findall(r"token (\d\d)", second.text)
    assert first_names == [f"{n:02d}" for n in range(PAGE_SIZE + 4, 4, -1)]
    # Then the rest, and the older events (the users added, the account created).
    assert second_names == ["04", "03", "02", "01", "00"]
    assert "User added" in second.text
    assert "Account created" in second.text
    assert 'id="audit-older"' not in second.text
    assert 'id="audit-newest"' in second.text
    assert "API token created" in first.text
    assert "127.0.0.1" in second.text  # where alice signed in from


def test_the_audit_csv_is_translated_whole_and_safe_in_a_spreadsheet(
    svc: Services, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "PAGE_MAX", 2)  # the log is read a page at a time: many pages
    alice = caller(svc, people.alice)
    for n in range(3):
        tokens.create_token(alice, f"=HYPERLINK({n})")
    with browser(svc, people.alice, lang="fr") as client:
        response = client.get(f"/accounts/{people.acme}/audit.csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="faxcast-audit-{people.acme}.csv"'
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["N°", "Date", "Auteur", "Action", "Objet", "Adresse"]
    assert [r[4] for r in rows[1:4]] == ["'=HYPERLINK(2)", "'=HYPERLINK(1)", "'=HYPERLINK(0)"]
    assert {r[3] for r in rows[1:4]} == {"Jeton d'API créé"}
    assert rows[-1][3] == "Groupe créé"
    assert rows[1][1].endswith("+01:00") or rows[1][1].endswith("+02:00")  # Europe/Paris
    with svc.transaction() as conn:
        count = len(repository.list_events(conn, people.acme, limit=1000))
    assert len(rows) == count + 1


def test_the_french_pages_read_like_the_providers_guide(svc: Services, people: People) -> None:
    with browser(svc, people.alice, lang="fr") as alice:
        home = alice.get("/").text
        listed = alice.get(f"/accounts/{people.acme}/users").text
        handed = post(
            alice,
            "/me/tokens",
            f"/accounts/{people.acme}/users/{people.bob.user_id}/link",
            {},
        ).text
        mine = alice.get("/me/tokens").text
        logged = alice.get(f"/accounts/{people.acme}/audit").text

    assert "Jetons d&#39;API" in home
    assert "Journal d&#39;activité" in home
    assert "Ajouter un utilisateur" in listed
    assert '<option value="member">Membre</option>' in listed
    assert "Transmettez ce lien à « bob »" in handed
    assert "cliquez sur « Copier »" in handed
    assert "Créer le jeton" in mine
    assert "Jamais" in mine  # the tests' token: never used, never expires
    assert "Utilisateur ajouté" in logged
    assert "Groupe créé" in logged
