"""Who may do what, through the app as it is served: CSRF, sign-in throttling, sessions, tokens,
roles, set-up links, upload bounds, and user text shown escaped.

Every test runs on SQLite and on PostgreSQL, over two accounts with data of every kind
(two_accounts.py); time moves only when a test moves the ManualClock.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

import anyio
import httpx
import markupsafe
import pytest
from fastapi import FastAPI
from starlette.types import Message, Scope

from faxcast.bootstrap import create_app
from faxcast.clock import ManualClock
from faxcast.domain.access import Role
from faxcast.errors import ConflictError, NotFoundError
from faxcast.services import accounts, audit, campaigns, documents, signin, tokens, users
from faxcast.services.context import Services
from faxcast.store import repository
from faxcast.web import csrf
from tests.asgi import SyncAsgiTransport
from tests.identity import PASSWORD, Identity
from tests.integration.app_routes import PUBLIC, endpoints, own_path
from tests.integration.two_accounts import (
    BASE_URL,
    PROBLEM,
    START,
    Site,
    make_tenant,
    services,
    site,
)

__all__ = ["site"]  # the fixture, imported for pytest

SESSION: Final = "faxcast_session"
FORBIDDEN_PAGE: Final = "Only the account&#39;s admins may do this."
CSRF_PAGE: Final = "The form has expired or did not come from this site."


def sign_in(site: Site, http: httpx.Client, login: str, password: str) -> httpx.Response:
    """The sign-in form, posted as a browser would."""
    token = site.csrf_token(http)
    return http.post(
        "/sign-in",
        data={"login": login, "password": password, "next": "/", csrf.FIELD: token},
    )


def line_path(site: Site) -> str:
    """Alpha's line page."""
    return f"/accounts/{site.alpha.account}/lines/{site.alpha.line}"


def line_name(site: Site) -> str:
    """Alpha's line's name as the API gives it now."""
    with site.client(site.alpha.admin) as http:
        answer = http.get(f"/telephony/{site.alpha.account}/fax/{site.alpha.line}")
        name: str = answer.json()["name"]
        return name


# --- CSRF ------------------------------------------------------------------------------------


def test_a_form_without_the_right_csrf_token_is_refused(site: Site) -> None:
    edit = f"{line_path(site)}/edit"
    form = {"name": "Renamed", "kind": "sandbox", "country": "FR", "channel_limit": "2"}
    with site.client(site.alpha.admin) as http:
        token = site.csrf_token(http)
        forged = csrf.sign(b"another server's key" * 2, token)
        refusals = {
            "no token": http.post(edit, data=form),
            "a wrong token": http.post(edit, data={**form, csrf.FIELD: csrf.new_token()}),
            "a wrong header": http.post(edit, data=form, headers={csrf.HEADER: "x" * 32}),
        }
        out = http.post("/sign-out")
        http.cookies.clear()
        http.cookies.set(SESSION, site.alpha.admin.session)
        refusals["no cookie"] = http.post(edit, data={**form, csrf.FIELD: token})
        http.cookies.set(csrf.COOKIE, forged)
        refusals["a cookie signed with another key"] = http.post(
            edit, data={**form, csrf.FIELD: token}
        )
        http.cookies.clear()
        http.cookies.set(SESSION, site.alpha.admin.session)
        for why, answer in refusals.items():
            assert answer.status_code == 403, why
            assert answer.headers["content-type"].startswith("text/html"), why
            assert CSRF_PAGE in answer.text, why
        assert out.status_code == 403
        assert line_name(site) == "alpha-line-name"
        assert http.get("/").status_code == 200  # still signed in: the sign-out was refused

        token = site.csrf_token(http)
        saved = http.post(edit, data={**form, csrf.FIELD: token})
        assert saved.status_code == 303, saved.text
        assert line_name(site) == "Renamed"


# --- sign-in throttling ----------------------------------------------------------------------


def test_sign_in_is_throttled_per_login_even_with_the_right_password(site: Site) -> None:
    settings = site.svc.settings
    login = "alpha-admin-login"
    with site.client(None, address="192.0.2.1") as http:
        for _ in range(settings.sign_in_login_failures):
            assert sign_in(site, http, login, "not the password").status_code == 401
        refused = sign_in(site, http, login, PASSWORD)
    assert refused.status_code == 429
    assert "too many failed sign-ins: try again in 15 minutes" in refused.text.casefold()
    assert SESSION not in refused.cookies
    # Per login: from another address too; other logins are not held back.
    with site.client(None, address="198.51.100.7") as other:
        assert sign_in(site, other, login.upper(), PASSWORD).status_code == 429
        assert sign_in(site, other, "bravo-admin-login", PASSWORD).status_code == 303

    site.clock.advance(timedelta(seconds=settings.sign_in_window_s + 1))
    with site.client(None, address="192.0.2.1") as http:
        signed = sign_in(site, http, login, PASSWORD)
        assert signed.status_code == 303
        assert http.get("/").status_code == 200


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_session_cookie_is_http_only_same_site_and_secure_over_https(
    site: Site, scheme: str
) -> None:
    with site.client(None) as http:
        http.base_url = httpx.URL(f"{scheme}://faxcast.test")
        signed = sign_in(site, http, "alpha-admin-login", PASSWORD)
    assert signed.status_code == 303
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{SESSION}="))
    flags = {part.strip().split("=")[0].casefold(): part for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert flags["samesite"].strip().casefold() == "samesite=lax"
    assert ("secure" in flags) is (scheme == "https")


def test_sign_in_failures_older_than_the_window_are_forgotten(site: Site) -> None:
    settings = site.svc.settings
    login = "alpha-admin-login"
    with site.client(None, address="192.0.2.2") as http:
        for _ in range(settings.sign_in_login_failures - 1):
            assert sign_in(site, http, login, "wrong").status_code == 401
        site.clock.advance(timedelta(seconds=settings.sign_in_window_s + 1))
        for _ in range(settings.sign_in_login_failures - 1):
            assert sign_in(site, http, login, "wrong").status_code == 401
        # Only the last ones count: still one failure short of the limit.
        assert sign_in(site, http, login, PASSWORD).status_code == 303


def test_sign_in_is_throttled_per_address(site: Site) -> None:
    settings = site.svc.settings
    assert settings.sign_in_address_failures > settings.sign_in_login_failures
    with site.client(None, address="203.0.113.9") as http:
        # Many logins, each below its own limit: the address's limit holds them back.
        for n in range(settings.sign_in_address_failures):
            assert sign_in(site, http, f"guess-{n}", "wrong").status_code == 401
        assert sign_in(site, http, "alpha-admin-login", PASSWORD).status_code == 429
    with site.client(None, address="203.0.113.10") as elsewhere:
        assert sign_in(site, elsewhere, "alpha-admin-login", PASSWORD).status_code == 303


# --- tokens and sessions ---------------------------------------------------------------------


def _caller_services(site: Site, who: Identity) -> Services:
    with site.svc.transaction() as conn:
        caller = users.caller_of(conn, repository.get_user(conn, who.user_id))
    return site.svc.acting_for(caller)


def test_a_revoked_token_is_refused_at_once(site: Site) -> None:
    acting = _caller_services(site, site.alpha.admin)
    made, secret = tokens.create_token(acting, "to revoke")
    accounts = "/telephony"
    with site.client(None) as http:
        http.headers["Authorization"] = f"Bearer {secret}"
        assert http.get(accounts).status_code == 200
        tokens.revoke_token(acting, made.id)
        refused = http.get(accounts)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["detail"] == "this API token is unknown, revoked or expired"
        # The user's other tokens still work.
        http.headers.update(site.alpha.admin.bearer)
        assert http.get(accounts).status_code == 200


def test_an_expired_token_is_refused(site: Site) -> None:
    acting = _caller_services(site, site.alpha.admin)
    expires = site.clock.now() + timedelta(hours=1)
    _, secret = tokens.create_token(acting, "short-lived", expires_at=expires)
    with site.client(None) as http:
        http.headers["Authorization"] = f"Bearer {secret}"
        assert http.get("/telephony").status_code == 200
        site.clock.advance(timedelta(hours=1))
        assert http.get("/telephony").status_code == 401


def _sends_to_sign_in(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith("/sign-in?next=")


def test_an_idle_session_expires(site: Site) -> None:
    idle = timedelta(seconds=site.svc.settings.session_idle_s)
    with site.client(site.alpha.admin) as http:
        # Each request keeps it alive: twice the idle time in all, never idle for that long.
        for _ in range(2):
            site.clock.advance(idle - timedelta(minutes=2))
            assert http.get("/").status_code == 200
        site.clock.advance(idle + timedelta(seconds=1))
        assert _sends_to_sign_in(http.get(line_path(site)))
        site.clock.advance(timedelta(seconds=-idle.total_seconds()))
        assert _sends_to_sign_in(http.get("/"))  # ended on the server, not just too old now


def test_a_session_ends_after_its_absolute_lifetime_however_busy(site: Site) -> None:
    settings = site.svc.settings
    step = timedelta(seconds=settings.session_idle_s / 2)
    steps = int(settings.session_max_s // step.total_seconds())
    with site.client(site.alpha.admin) as http:
        for _ in range(steps):
            assert http.get("/").status_code == 200
            site.clock.advance(step)
        assert _sends_to_sign_in(http.get("/"))


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    secret = site.alpha.admin.session
    with site.client(site.alpha.admin) as http:
        token = site.csrf_token(http)
        out = http.post("/sign-out", data={csrf.FIELD: token})
        assert out.status_code == 303
        assert out.headers["location"] == "/sign-in"
        # The browser is told to forget it.
        assert out.headers["set-cookie"].startswith(f'{SESSION}=""')
        assert "Max-Age=0" in out.headers["set-cookie"]
    assert signin.session_caller(site.svc, secret, address="127.0.0.1") is None
    # Whoever kept the old cookie gets nothing with it.
    with site.client(None) as kept:
        kept.cookies.set(SESSION, secret)
        assert _sends_to_sign_in(kept.get("/"))
        assert _sends_to_sign_in(kept.get(line_path(site)))


# --- roles -----------------------------------------------------------------------------------


def test_a_member_is_refused_the_admins_actions(site: Site) -> None:
    alpha = site.alpha
    api = f"/telephony/{alpha.account}/fax"
    with site.client(alpha.member) as http:
        settings = http.get(f"{api}/{alpha.line}/settings")
        assert settings.status_code == 200  # a member sees the line
        refused = {
            "create a line": http.post(api, json={"name": "Mine"}),
            "edit a line": http.put(
                f"{api}/{alpha.line}/settings", json={**settings.json(), "name": "Mine"}
            ),
            "test a line": http.post(f"{api}/{alpha.line}/test"),
        }
        for action, answer in refused.items():
            assert answer.status_code == 403, action
            assert answer.headers["content-type"] == PROBLEM, action
            assert answer.json()["detail"] == "only the account's admins may do this", action

        token = site.csrf_token(http)
        # A valid form, and one with nothing in it: either way the role is what is refused.
        full = {
            csrf.FIELD: token,
            "name": "Mine",
            "kind": "sandbox",
            "country": "FR",
            "channel_limit": "2",
        }
        empty = {csrf.FIELD: token}
        new, edit = f"/accounts/{alpha.account}/lines/new", f"{line_path(site)}/edit"
        pages = {
            "create a line": http.post(new, data=full),
            "create a line, form empty": http.post(new, data=empty),
            "edit a line": http.post(edit, data=full),
            "edit a line, form empty": http.post(edit, data=empty),
            "test a line": http.post(f"{line_path(site)}/test", data=empty),
        }
        for action, answer in pages.items():
            assert answer.status_code == 403, action
            assert answer.headers["content-type"].startswith("text/html"), action
            assert FORBIDDEN_PAGE in answer.text, action

        # What members may do, they do: a campaign on the line.
        created = http.post(
            f"{api}/{alpha.line}/campaigns",
            json={
                "name": "A member's",
                "documentId": alpha.pdf,
                "sendType": "manual",
                "recipientsList": "+33 1 23 45 67 89",
            },
        )
        assert created.status_code == 201, created.text
    with site.client(alpha.admin) as http:
        assert [line["name"] for line in http.get(api).json()] == ["Sandbox", "alpha-line-name"]


# --- set-up links ----------------------------------------------------------------------------


def test_a_set_up_link_works_once(site: Site) -> None:
    _, link = users.create_user(site.svc, "newcomer", accounts={site.alpha.account: Role.MEMBER})
    assert link is not None
    chosen = "a new long passphrase"
    with site.client(None) as http:
        page = http.get(link.path)
        assert page.status_code == 200
        assert "newcomer" in page.text
        token = site.csrf_token(http)
        form = {"password": chosen, "confirm": chosen, csrf.FIELD: token}
        used = http.post(link.path, data=form)
        assert used.status_code == 303
        assert http.get("/").status_code == 200  # signed in by it

    with site.client(None) as again:
        gone = again.get(link.path)
        assert gone.status_code == 410
        assert "This set-up link was already used or has expired." in gone.text
        token = site.csrf_token(again)
        other = "someone else's passphrase"
        reused = again.post(
            link.path, data={"password": other, "confirm": other, csrf.FIELD: token}
        )
        assert reused.status_code == 410
        assert SESSION not in reused.cookies
        assert sign_in(site, again, "newcomer", other).status_code == 401
        assert sign_in(site, again, "newcomer", chosen).status_code == 303
    with pytest.raises(ConflictError):
        users.use_setup_link(site.svc, link.path.rsplit("/", 1)[-1], login=None, password=other)


def test_an_expired_set_up_link_does_nothing(site: Site) -> None:
    _, link = users.create_user(site.svc, "latecomer", accounts={site.alpha.account: Role.MEMBER})
    assert link is not None
    site.clock.advance(timedelta(seconds=site.svc.settings.setup_link_s + 1))
    chosen = "a new long passphrase"
    with site.client(None) as http:
        assert http.get(link.path).status_code == 410
        token = site.csrf_token(http)
        late = http.post(link.path, data={"password": chosen, "confirm": chosen, csrf.FIELD: token})
        assert late.status_code == 410
        assert sign_in(site, http, "latecomer", chosen).status_code == 401


def test_the_first_admins_link_works_once_and_only_while_nobody_can_sign_in(
    database_url: str, tmp_path: Path
) -> None:
    svc = services(database_url, tmp_path, ManualClock(START))
    account = accounts.create_account(svc, name="Solo")
    link = users.first_admin_link(svc)
    assert link is not None
    app = create_app(svc)
    chosen = "the first admin's passphrase"
    with httpx.Client(transport=SyncAsgiTransport(app), base_url=BASE_URL) as http:
        page = http.get(link.path)
        assert page.status_code == 200
        assert 'name="login"' in page.text  # the first admin chooses a login too
        http.get("/sign-in")
        token = csrf.token_of(app.state.web.secret, http.cookies.get(csrf.COOKIE))
        assert token is not None
        form = {"login": "Boss", "password": chosen, "confirm": chosen, csrf.FIELD: token}
        assert http.post(link.path, data=form).status_code == 303
        assert http.get("/").status_code == 200  # signed in by it
        again = http.post(link.path, data={**form, "login": "intruder"})
        assert again.status_code == 410
    assert users.first_admin_link(svc) is None
    with svc.transaction() as conn:
        assert repository.user_by_login(conn, "intruder") is None
        found = repository.user_by_login(conn, "boss")
        assert found is not None
        # Admin of the account that was there.
        assert dict(repository.roles_of(conn, found[0].id)) == {account.id: Role.ADMIN}
    svc.engine.dispose()


# --- uploads ---------------------------------------------------------------------------------

MB: Final = 1024 * 1024
STREAMED: Final = 50 * MB
CHUNK: Final = b"%" * MB
# What streaming one upload may allocate at most: a tenth of what it sends, and below the
# request limit, so that a server that kept the body in memory could not pass.
MEMORY_BOUND: Final = 5 * MB
_PART: Final = (
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
)


@dataclass(frozen=True)
class Streamed:
    """What the app answered an upload, how many chunks it read, and its memory peak."""

    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int
    peak_bytes: int


def stream_upload(app: FastAPI, headers: dict[str, str], *, declared: bool) -> Streamed:
    """POST STREAMED bytes of one file to /me/document in 1 MB chunks, straight to the ASGI
    app, measuring the memory it allocates meanwhile (tracemalloc)."""
    chunks = STREAMED // len(CHUNK)
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        if read == chunks:
            return {"type": "http.disconnect"}
        read += 1
        return {
            "type": "http.request",
            "body": _PART + CHUNK if read == 1 else CHUNK,
            "more_body": read < chunks,
        }

    async def send(message: Message) -> None:
        sent.append(message)

    fields = {"content-type": "multipart/form-data; boundary=x", **headers}
    if declared:
        fields["content-length"] = str(len(_PART) + STREAMED)
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/me/document",
        "raw_path": b"/me/document",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in fields.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("faxcast.test", 80),
    }
    tracemalloc.start()
    try:
        anyio.run(app, scope, receive, send)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return Streamed(start["status"], answer_headers, body, read, peak)


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_an_oversized_upload_is_refused_before_it_is_all_read(site: Site, declared: bool) -> None:
    limit = site.svc.settings.max_request_bytes
    assert limit < STREAMED
    refused = stream_upload(site.app, site.alpha.admin.bearer, declared=declared)

    assert refused.status == 413
    assert refused.headers["content-type"] == PROBLEM
    assert json.loads(refused.body)["status"] == 413
    # Read up to the limit and no further (nothing at all when the length said it).
    assert refused.chunks_read == (0 if declared else (limit - len(_PART)) // len(CHUNK) + 1)
    assert refused.peak_bytes < MEMORY_BOUND, f"{refused.peak_bytes / MB:.1f} MB"


@pytest.mark.parametrize(
    "credentials", [{}, {"Authorization": "Bearer fxc_revoked-or-made-up"}], ids=["none", "wrong"]
)
def test_an_upload_without_a_valid_token_is_refused_before_its_body_is_read(
    site: Site, credentials: dict[str, str]
) -> None:
    refused = stream_upload(site.app, credentials, declared=False)

    assert refused.status == 401
    assert refused.headers["content-type"] == PROBLEM
    assert refused.chunks_read == 0


# --- user text shown escaped -----------------------------------------------------------------

# No blank (a login has none), a formula's start for spreadsheets, and markup for every context.
HOSTILE: Final = "=1+1\"'><script>alert(1)</script><img/src=x/onerror=alert(2)>"
HEADER: Final = "<script>alert(3)</script>"
RAW_MARKUP: Final = ("<script>alert(", "<img/src=x")


def test_html_and_script_in_every_text_field_are_shown_escaped(site: Site) -> None:
    evil = make_tenant(
        site.svc, site.app, site.clock, site.worker, HOSTILE, "+33 1 76 54 32 10", header=HEADER
    )
    shown: dict[str, str] = {}
    failures: list[str] = []
    with site.client(evil.admin) as http:
        for endpoint in endpoints(site.app):
            if not endpoint.web or endpoint.method != "GET" or endpoint.path in PUBLIC:
                continue
            path = own_path(endpoint, evil)
            answer = http.get(path)
            kind = answer.headers.get("content-type", "")
            if answer.status_code != 200:
                failures.append(f"{path}: {answer.status_code}")
            elif kind.startswith("text/html"):
                shown[endpoint.path] = answer.text
                failures += [f"{path}: raw {m!r}" for m in RAW_MARKUP if m in answer.text]
            elif kind.startswith("text/csv"):
                # Never rendered: saved as a file, and no browser may sniff it into HTML.
                assert answer.headers["content-disposition"].startswith("attachment;"), path
                assert answer.headers["x-content-type-options"] == "nosniff", path
                for row in csv.reader(io.StringIO(answer.text)):
                    failures += [
                        f"{path}: cell {cell!r}"
                        for cell in row
                        # A CSV is data, downloaded, never rendered: its guard is formulas'.
                        if cell.startswith(("=", "+", "-", "@")) and HOSTILE in cell
                    ]
        assert not failures, "\n".join(failures)

        def escaped(text: str) -> str:
            return str(markupsafe.escape(text))

        home, line = shown["/"], shown["/accounts/{account}/lines/{line}"]
        campaign = shown["/accounts/{account}/lines/{line}/fax/campaigns/{campaign}"]
        assert escaped(f"{HOSTILE} Holdings Account") in home
        assert escaped(f"{HOSTILE}-line-name") in home
        assert escaped(f"{HOSTILE}-admin-login".casefold()) in home  # who is signed in
        assert escaped(HEADER) in line
        assert escaped(f"{HOSTILE}-campaign-name") in campaign

        # A file name goes back in a header that cannot be broken out of.
        content = http.get(f"/me/document/{evil.pdf}/content")
        disposition = content.headers["content-disposition"]
        fallback = disposition.removeprefix('attachment; filename="').split('"; filename*=')[0]
        assert fallback.endswith("-letter-file.pdf")
        assert disposition.count('"') == 2


# --- the use cases check too -----------------------------------------------------------------


def test_the_use_cases_find_nothing_of_another_account_whatever_calls_them(site: Site) -> None:
    with site.svc.transaction() as conn:
        caller = users.caller_of(conn, repository.get_user(conn, site.alpha.admin.user_id))
    mine = site.svc.acting_for(caller)
    b = site.bravo
    tries: dict[str, Callable[[], object]] = {
        "get_account": lambda: accounts.get_account(mine, b.account),
        "list_lines": lambda: accounts.list_lines(mine, b.account),
        "get_line": lambda: accounts.get_line(mine, b.account, b.line),
        "list_campaigns": lambda: campaigns.list_campaigns(mine, b.account, b.line),
        "get_campaign": lambda: campaigns.get_campaign(mine, b.account, b.line, b.campaign),
        "campaign_detail": lambda: campaigns.campaign_detail(mine, b.account, b.line, b.campaign),
        "launch": lambda: campaigns.launch_campaign(mine, b.account, b.line, b.campaign),
        "stop": lambda: campaigns.stop_campaign(mine, b.account, b.line, b.campaign),
        "delete": lambda: campaigns.delete_campaign(mine, b.account, b.line, b.campaign),
        "remove_flagged": lambda: campaigns.remove_flagged(mine, b.account, b.line, b.campaign),
        "flagged_count": lambda: campaigns.flagged_count(mine, b.account, b.line, b.campaign),
        "received_fax": lambda: campaigns.received_fax(mine, b.account, b.line, b.attempt),
        "list_documents": lambda: documents.list_documents(mine, b.account),
        "get_document": lambda: documents.get_document(mine, b.account, b.pdf),
        "document_content": lambda: documents.caller_document_content(mine, b.pdf),
        "members": lambda: users.list_members(mine, b.account),
        "audit": lambda: audit.list_events(mine, b.account),
    }
    reached = []
    for name, use_case in tries.items():
        try:
            use_case()
        except NotFoundError:
            continue
        reached.append(name)
    assert reached == []
    # The operator (the shell) reaches it: the check is about the caller, not the ids.
    assert accounts.get_line(site.svc, b.account, b.line).id == b.line
