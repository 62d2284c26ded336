"""Bounded resources (issue 13): ids out of range answer 404, on every route that takes one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import Message, Scope

from faxcast.api import routes as api_routes
from faxcast.bootstrap import create_app
from faxcast.domain.access import Caller
from faxcast.domain.numbers import MAX_LISTED
from faxcast.services import tokens
from faxcast.services.context import Services
from faxcast.web import csrf
from faxcast.web import routes as web_routes
from tests import pdfs
from tests.asgi import SyncAsgiTransport
from tests.identity import as_tester

# Past PostgreSQL's INTEGER, past SQLite's INTEGER (and PostgreSQL's BIGINT), and below 1.
OUT_OF_RANGE = ("2147483648", "9223372036854775808", "18446744073709551616", "-1", "0")
ID_PARAMS = frozenset({"account", "line", "campaign", "document", "attempt", "user", "token"})
_PARAM = re.compile(r"{(\w+)}")
# A set-up link's {token} is its secret, not an id: any wrong one is gone (410).
SECRET_PATHS = frozenset({"/setup/{token}"})


def _routes_with_ids() -> list[tuple[str, str]]:
    """(method, path template) of every API and web route with an id in its path."""
    found: list[tuple[str, str]] = []
    for router in (*api_routes.ROUTERS, *web_routes.ROUTERS):
        for route in router.routes:
            if (
                isinstance(route, APIRoute)
                and ID_PARAMS & set(_PARAM.findall(route.path))
                and route.path not in SECRET_PATHS
            ):
                found.extend((method, route.path) for method in sorted(route.methods or ()))
    return found


def test_an_id_out_of_range_is_not_found_on_every_route(svc: Services) -> None:
    app = create_app(svc)
    routes = _routes_with_ids()
    assert len(routes) > 20  # the API's and the web pages'
    with httpx.Client(
        transport=SyncAsgiTransport(app, raise_app_exceptions=False), base_url="http://faxcast.test"
    ) as http:
        me = as_tester(svc, http)
        account = http.post("/telephony", json={"name": "Acme"}).json()["id"]
        line = http.get(f"/telephony/{account}/fax").json()[0]["id"]
        token = http.post("/me/token", json={"name": "Ids"}).json()["id"]
        document = http.post(
            "/me/document",
            params={"account": str(account)},
            files={"file": ("a.pdf", pdfs.text_pdf())},
        ).json()["id"]
        new_campaign = {
            "name": "Ids",
            "documentId": document,
            "sendType": "manual",
            "recipientsType": "list",
            "recipientsList": "+33123456789",
        }
        campaign = http.post(
            f"/telephony/{account}/fax/{line}/campaigns", json=new_campaign
        ).json()["id"]
        # The web's POSTs must pass the CSRF check to reach the id.
        http.get("/")
        token = csrf.token_of(app.state.web.secret, http.cookies.get(csrf.COOKIE))
        assert token is not None
        real = {
            "account": account,
            "line": line,
            "campaign": campaign,
            "document": document,
            "attempt": 1,
            "page": 1,
            "user": me.user_id,
            "token": tokens.list_tokens(svc.acting_for(Caller(me.user_id, "tester")))[0].id,
        }
        settings = http.get(f"/telephony/{account}/fax/{line}/settings").json()
        # Valid bodies, so that only the id can be wrong.
        bodies: dict[tuple[str, str], object] = {
            ("POST", "/telephony/{account}/fax"): {"name": "Second"},
            ("PUT", "/telephony/{account}/fax/{line}/settings"): settings,
            ("POST", "/telephony/{account}/fax/{line}/campaigns"): new_campaign,
            ("POST", "/telephony/{account}/fax/{line}/campaigns/check"): new_campaign,
            ("PUT", "/telephony/{account}/users/{user}"): {"role": "admin"},
        }
        failures = []
        for method, template in routes:
            for name in ID_PARAMS & set(_PARAM.findall(template)):
                for bad in OUT_OF_RANGE:
                    path = template.format(**{**real, name: bad})
                    answer = http.request(
                        method,
                        path,
                        headers={csrf.HEADER: token},
                        json=bodies.get((method, template)),
                    )
                    if answer.status_code != 404:
                        failures.append(f"{method} {path}: {answer.status_code}")
        assert not failures, "\n".join(failures)


BAD_ENTRIES = 1_000
BAD_LIST = "\n".join(f"12x{n}" for n in range(BAD_ENTRIES))


def test_the_api_lists_the_first_hundred_bad_numbers_and_counts_them_all(svc: Services) -> None:
    with httpx.Client(
        transport=SyncAsgiTransport(create_app(svc)), base_url="http://faxcast.test"
    ) as http:
        as_tester(svc, http)
        account = http.post("/telephony", json={"name": "Acme"}).json()["id"]
        line = http.get(f"/telephony/{account}/fax").json()[0]["id"]
        refused = http.post(
            f"/telephony/{account}/fax/{line}/campaigns",
            json={
                "name": "Bad",
                "sendType": "manual",
                "recipientsType": "list",
                "recipientsList": BAD_LIST,
            },
            headers={"Accept-Language": "fr"},
        )

    assert refused.status_code == 422
    problem = refused.json()
    numbers = [e for e in problem["errors"] if e["field"] == "recipientsList"]
    assert len(numbers) == MAX_LISTED
    assert numbers[-1]["line"] == MAX_LISTED
    # Every bad entry, and the missing document.
    assert problem["errorsTotal"] == BAD_ENTRIES + 1
    assert f"{BAD_ENTRIES} numéros invalides" in problem["detail"]
    assert f"et {BAD_ENTRIES - 10} de plus" in problem["detail"]


def test_the_web_form_shows_the_first_bad_numbers_and_how_many_more(svc: Services) -> None:
    app = create_app(svc)
    with httpx.Client(transport=SyncAsgiTransport(app), base_url="http://faxcast.test") as http:
        as_tester(svc, http)
        account = http.post("/telephony", json={"name": "Acme"}).json()["id"]
        line = http.get(f"/telephony/{account}/fax").json()[0]["id"]
        http.cookies.set("lang", "en")
        http.get("/")
        token = csrf.token_of(app.state.web.secret, http.cookies.get(csrf.COOKIE))
        refused = http.post(
            f"/accounts/{account}/lines/{line}/fax/campaigns/new",
            data={
                "csrf_token": token,
                "name": "Bad",
                "quality": "normal",
                "send_type": "manual",
                "recipients_type": "list",
                "recipients_list": BAD_LIST,
            },
            files={"pdf": ("letter.pdf", pdfs.text_pdf(), "application/pdf")},
        )

    assert refused.status_code == 422
    assert f"{BAD_ENTRIES} invalid numbers" in refused.text
    listed = re.search(r'<ul class="problems">(.*?)</ul>', refused.text, re.DOTALL)
    assert listed is not None
    shown = listed.group(1).count("12x")
    assert 0 < shown <= MAX_LISTED
    assert f"… and {BAD_ENTRIES - shown} more." in refused.text


# --- request bodies --------------------------------------------------------------------------

SMALL_LIMITS = {"max_document_bytes": 1024 * 1024}  # requests of at most 3 MB
CHUNK = b"x" * (256 * 1024)
# A file part's start, so that the form parser reads on: the body is valid, only too long.
PART = (
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n"
)
LIMIT = 3 * 1024 * 1024
CHUNKS_TO_PASS_LIMIT = (LIMIT - len(PART)) // len(CHUNK) + 1


def _small(svc: Services) -> Services:
    return replace(svc, settings=svc.settings.model_copy(update=SMALL_LIMITS))


@dataclass
class _Answer:
    """What the app answered a raw request, and how many body chunks it read."""

    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int

    @property
    def text(self) -> str:
        return self.body.decode()


def _post_chunks(
    app: FastAPI, path: str, chunks: int, headers: dict[str, str], *, declared: bool
) -> _Answer:
    """POST `chunks` chunks of CHUNK to the ASGI app itself, counting what it reads."""
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        if read == chunks:
            return {"type": "http.disconnect"}
        read += 1
        body = PART + CHUNK if read == 1 else CHUNK
        return {"type": "http.request", "body": body, "more_body": read < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    fields = {"content-type": "multipart/form-data; boundary=x", **headers}
    if declared:
        fields["content-length"] = str(len(PART) + chunks * len(CHUNK))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in fields.items()],
        "client": ("127.0.0.1", 1),
        "server": ("faxcast.test", 80),
    }
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return _Answer(start["status"], answer_headers, body, read)


def _tenant(app: FastAPI, svc: Services) -> tuple[int, int, dict[str, str]]:
    """A new account, its line, and the headers of its admin's token and session."""
    with httpx.Client(transport=SyncAsgiTransport(app), base_url="http://faxcast.test") as http:
        me = as_tester(svc, http)
        account = http.post("/telephony", json={"name": "Acme"}).json()["id"]
        signed = {**me.bearer, "cookie": f"faxcast_session={me.session}"}
        return account, http.get(f"/telephony/{account}/fax").json()[0]["id"], signed


def test_a_body_declared_too_large_is_refused_before_it_is_read(svc: Services) -> None:
    svc = _small(svc)
    assert svc.settings.max_request_bytes == LIMIT
    app = create_app(svc)
    _, _, signed = _tenant(app, svc)

    refused = _post_chunks(
        app,
        "/me/document",
        64,  # 16 MB
        {**signed, "accept-language": "fr"},
        declared=True,
    )

    assert refused.status == 413
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["content-language"] == "fr"
    problem = json.loads(refused.body)
    assert problem["title"] == "Contenu trop volumineux"
    # The body's declared size and the limit, both in the reader's way of writing figures.
    size = f"{(len(PART) + 64 * len(CHUNK)) / (1024 * 1024):.2f}".replace(".", ",")
    assert problem["detail"] == (
        f"la requête fait {size} Mo, plus que les 3 Mo que ce serveur accepte "
        "(un document d'au plus 1 Mo, avec les autres champs du formulaire)"
    )
    assert refused.chunks_read == 0


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(svc: Services) -> None:
    svc = _small(svc)
    app = create_app(svc)
    _, _, signed = _tenant(app, svc)

    refused = _post_chunks(app, "/me/document", 64, signed, declared=False)

    assert refused.status == 413
    assert json.loads(refused.body)["status"] == 413
    # The chunk that passes the limit is the last one read.
    assert refused.chunks_read == CHUNKS_TO_PASS_LIMIT


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_web_form_too_large_gets_a_page_before_the_csrf_check(
    svc: Services, declared: bool
) -> None:
    svc = _small(svc)
    app = create_app(svc)
    account, line, signed = _tenant(app, svc)

    refused = _post_chunks(
        app,
        f"/accounts/{account}/lines/{line}/fax/campaigns/new",
        64,
        {**signed, "cookie": f"lang=fr; {signed['cookie']}"},
        declared=declared,
    )

    assert refused.status == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert "Ce que vous avez envoyé est trop volumineux pour ce serveur." in refused.text
    # A streamed body is not read to its end: only a declared size can be told.
    told = (
        "La requête fait 16,00 Mo, plus que les 3 Mo" if declared else "La requête dépasse les 3 Mo"
    )
    assert told in refused.text
    assert refused.chunks_read == (0 if declared else CHUNKS_TO_PASS_LIMIT)
