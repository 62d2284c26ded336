"""Every response carries the security headers: API answers and problems, pages and their error
pages, static files, 404s, an unexpected error's 500 and the body limit's 413."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from faxcast.api.security_headers import CONTENT_SECURITY_POLICY
from faxcast.bootstrap import create_app
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.services.context import Services
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests.asgi import SyncAsgiTransport
from tests.identity import as_tester

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
ONE_MB = 1024 * 1024


@pytest.fixture
def svc(sqlite_database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(sqlite_database_url)
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore(),
        clock=ManualClock(datetime(2030, 1, 15, 9, 0, tzinfo=UTC)),
        settings=Settings(data_dir=tmp_path, max_document_bytes=ONE_MB),
    )
    engine.dispose()


@pytest.fixture
def http(svc: Services) -> Iterator[httpx.Client]:
    app = create_app(svc)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    transport = SyncAsgiTransport(app, raise_app_exceptions=False)
    with httpx.Client(transport=transport, base_url="http://faxcast.test") as client:
        as_tester(svc, client)
        yield client


def test_the_policy_allows_no_inline_code_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_every_kind_of_response_carries_the_headers(http: httpx.Client) -> None:
    account = http.post("/telephony", json={"name": "Acme"}).json()["id"]
    line = http.get(f"/telephony/{account}/fax").json()[0]["id"]
    too_large = b"x" * (4 * ONE_MB)  # past the document and the form around it
    responses = {
        "api": http.get("/telephony"),
        "api created": http.post("/telephony", json={"name": "Other"}),
        "api problem": http.get("/telephony/999"),
        "api bad input": http.post("/telephony", json={}),
        "openapi": http.get("/openapi.json"),
        "page": http.get("/"),
        "line page": http.get(f"/accounts/{account}/lines/{line}"),
        "page not found": http.get(f"/accounts/{account}/lines/999"),
        "no such path": http.get("/nowhere"),
        "static": http.get("/static/app.css"),
        "static missing": http.get("/static/missing.js"),
        "csrf refused": http.post(f"/accounts/{account}/lines/{line}/test"),
        "redirect": http.get("/lang/fr?next=/"),
        "unexpected error": http.get("/boom"),
        "api too large": http.post("/me/document", content=too_large),
        "api signed out": http.get("/telephony", headers={"Authorization": ""}),
        "page signed out": http.get("/", headers={"Cookie": "faxcast_session=gone"}),
        "form too large": http.post(
            f"/accounts/{account}/lines/{line}/fax/campaigns/new",
            content=too_large,
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        ),
    }
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses == {
        "api": 200,
        "api created": 201,
        "api problem": 404,
        "api bad input": 422,
        "openapi": 200,
        "page": 200,
        "line page": 200,
        "page not found": 404,
        "no such path": 404,
        "static": 200,
        "static missing": 404,
        "csrf refused": 403,
        "redirect": 303,
        "unexpected error": 500,
        "api too large": 413,
        "api signed out": 401,
        "page signed out": 303,
        "form too large": 413,
    }
    for name, response in responses.items():
        headers = {key: response.headers.get(key) for key in EXPECTED}
        assert headers == EXPECTED, name
        assert len(response.headers.get_list("content-security-policy")) == 1, name
