"""The REST API through httpx, on SQLite and on PostgreSQL: resources, rules and problem details."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, insert, select, update

from faxcast.bootstrap import create_app
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.domain.access import Role
from faxcast.services.context import Services
from faxcast.store import repository
from faxcast.store.blobs import DatabaseBlobStore, FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts, blobs, campaigns, documents, recipients, renditions
from tests import pdfs
from tests.asgi import SyncAsgiTransport, api_client
from tests.identity import as_tester, new_user

NOW = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"
NUMBERS = "+33 1 23 45 67 89, 01 98 76 54 32; +44 20 7946 0000\n06 12 34 56 78"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> ManualClock:
    """The services' clock, at NOW until a test moves it."""
    return ManualClock(NOW)


@pytest.fixture
def svc(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Services]:
    """Services on this test's database; blobs in the database on PostgreSQL, in files on SQLite."""
    engine = create_engine_for(database_url)
    postgresql = engine.dialect.name == "postgresql"
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore() if postgresql else FileBlobStore(tmp_path / "blobs"),
        clock=clock,
        settings=Settings(data_dir=tmp_path, default_country="FR", max_recipients=100),
    )
    engine.dispose()


@pytest.fixture
def client(svc: Services) -> Iterator[httpx.Client]:
    """An httpx client talking to create_app(svc)."""
    with api_client(svc) as client:
        yield client


@dataclass(frozen=True)
class Tenant:
    """An account made through the API, with its sandbox line."""

    account: int
    line: int

    @property
    def params(self) -> dict[str, str]:
        """The query that sends an upload of /me/document to this account."""
        return {"account": str(self.account)}

    @property
    def campaigns(self) -> str:
        """The path of its line's campaigns."""
        return f"/telephony/{self.account}/fax/{self.line}/campaigns"


def new_tenant(client: httpx.Client, name: str = "Acme") -> Tenant:
    """A new account and its sandbox line."""
    created = client.post("/telephony", json={"name": name})
    assert created.status_code == 201, created.text
    account = created.json()["id"]
    lines = client.get(f"/telephony/{account}/fax").json()
    return Tenant(account, lines[0]["id"])


def upload(client: httpx.Client, tenant: Tenant, name: str, data: bytes) -> httpx.Response:
    """POST /me/document with one file."""
    return client.post("/me/document", params=tenant.params, files={"file": (name, data)})


def upload_ok(client: httpx.Client, tenant: Tenant, name: str, data: bytes) -> int:
    """Upload a file that must be accepted; its document id."""
    response = upload(client, tenant, name, data)
    assert response.status_code == 201, response.text
    document_id: int = response.json()["id"]
    return document_id


def campaign_body(document_id: int, **fields: Any) -> dict[str, Any]:
    """A valid manual campaign's body, with `fields` replaced."""
    body: dict[str, Any] = {
        "name": "Spring prices",
        "documentId": document_id,
        "faxQuality": "normal",
        "sendType": "manual",
        "recipientsType": "list",
        "recipientsList": NUMBERS,
    }
    body.update(fields)
    return body


def create(client: httpx.Client, tenant: Tenant, document_id: int, **fields: Any) -> Any:
    """Create a campaign that must be accepted; its JSON."""
    response = client.post(tenant.campaigns, json=campaign_body(document_id, **fields))
    assert response.status_code == 201, response.text
    return response.json()


REPORT = frozenset({"warnings", "warningsTotal", "merged", "mergedTotal"})
"""What only the created campaign's answer tells about its numbers."""


def as_stored(created: Any) -> Any:
    """A created campaign's answer as a later GET gives it: without the numbers' report."""
    return {k: v for k, v in created.items() if k not in REPORT}


def row_counts(engine: Engine) -> tuple[int, ...]:
    """How many rows the tables that creating things writes to hold."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (campaigns, recipients, documents, renditions, blobs, attempts)
        )


def problem(response: httpx.Response, status: int) -> Any:
    """The problem document of `response`, checked for status, media type and required members."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert "Traceback" not in response.text
    return body


def fields(body: Any) -> list[str | None]:
    """The `field` of each entry of a problem's `errors`."""
    return [error.get("field") for error in body["errors"]]


def test_accounts_and_lines(client: httpx.Client) -> None:
    created = client.post("/telephony", json={"name": " Acme ", "timezone": "America/New_York"})
    assert created.status_code == 201
    account = created.json()
    assert account["name"] == "Acme"
    assert account["timezone"] == "America/New_York"
    assert account["language"] == "fr"  # the server's default
    assert account["createdAt"] == "2030-01-15T09:00:00+00:00"
    other = new_tenant(client, "Other")
    assert [a["id"] for a in client.get("/telephony").json()] == [account["id"], other.account]
    assert client.get(f"/telephony/{account['id']}").json() == account
    problem(client.get("/telephony/9999"), 404)
    problem(client.get("/telephony/9999/fax"), 404)

    lines = client.get(f"/telephony/{account['id']}/fax").json()
    assert len(lines) == 1
    assert lines[0]["kind"] == "sandbox"
    assert lines[0]["country"] == "FR"
    # Its pages are headed with the account's name; a sandbox line has no number to send.
    assert (lines[0]["header"], lines[0]["ident"]) == ("Acme", "")
    base = f"/telephony/{account['id']}/fax"
    made = client.post(
        base,
        json={"name": "Sales", "country": "be", "ident": "+32 2 000 00 00", "channelLimit": 2},
    )
    assert made.status_code == 201, made.text
    line = made.json()
    assert (line["country"], line["channelLimit"], line["header"]) == ("BE", 2, "")
    assert client.get(f"{base}/{line['id']}").json() == line
    assert [item["id"] for item in client.get(base).json()] == [lines[0]["id"], line["id"]]

    settings = client.get(f"{base}/{line['id']}/settings").json()
    assert settings == {
        "name": "Sales",
        "kind": "sandbox",
        "country": "BE",
        "ident": "+32 2 000 00 00",
        "header": "",
        "channelLimit": 2,
        "quality": "normal",
        "maxCalls": None,
        "sip": None,
    }
    new = {"header": "ACME SALES", "channelLimit": 8, "quality": "best", "maxCalls": 4}
    changed = client.put(f"{base}/{line['id']}/settings", json={**settings, "kind": None, **new})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**settings, **new}
    assert client.get(f"{base}/{line['id']}").json()["maxCalls"] == 4
    assert fields(
        problem(
            client.put(f"{base}/{line['id']}/settings", json={**settings, "quality": "ultra"}),
            422,
        )
    ) == ["quality"]
    assert client.get(f"{base}/{line['id']}/settings").json() == {**settings, **new}

    # Every bad field at once, under the API's names.
    bad = problem(client.post(base, json={"name": "X", "country": "ZZ", "ident": "1" * 21}), 422)
    assert fields(bad) == ["country", "ident"]
    assert "ZZ" in bad["errors"][0]["message"]
    assert (
        problem(client.post(base, json={"name": "X", "kind": "sip"}), 422)["errors"][0]["field"]
        == "sip"
    )
    assert fields(problem(client.post(base, json={"name": "X", "channelLimit": "x"}), 422)) == [
        "channelLimit"
    ]
    assert fields(problem(client.post(base, json={"name": "X", "channelLimit": 0}), 422)) == [
        "channelLimit"
    ]
    assert fields(problem(client.post(base, json={"name": "X", "colour": "red"}), 422)) == [
        "colour"
    ]
    assert fields(
        problem(
            client.put(f"{base}/{line['id']}/settings", json={**settings, "country": "FRA"}), 422
        )
    ) == ["country"]
    assert fields(
        problem(client.post("/telephony", json={"name": "", "timezone": "Mars"}), 422)
    ) == [
        "name",
        "timezone",
    ]
    assert fields(
        problem(client.post("/telephony", json={"name": "X", "language": "de"}), 422)
    ) == ["language"]

    # Another account's line is not found, whichever way it is asked for.
    foreign = f"/telephony/{other.account}/fax/{line['id']}"
    problem(client.get(foreign), 404)
    problem(client.get(f"{foreign}/settings"), 404)
    problem(client.put(f"{foreign}/settings", json=settings), 404)
    assert client.get(f"{base}/{line['id']}/settings").json()["channelLimit"] == 8


def test_an_accounts_language_and_name_head_its_sandbox_lines_pages(
    client: httpx.Client,
) -> None:
    english = client.post("/telephony", json={"name": "Société Générale", "language": "en"})
    assert english.status_code == 201, english.text
    assert english.json()["language"] == "en"
    # A name the header line cannot show leaves the line's header blank, not unusable.
    foreign = client.post("/telephony", json={"name": "東京支店"})
    assert foreign.status_code == 201, foreign.text

    headers = [
        client.get(f"/telephony/{created.json()['id']}/fax").json()[0]["header"]
        for created in (english, foreign)
    ]

    assert headers == ["Société Générale", ""]


def test_documents(client: httpx.Client, svc: Services) -> None:
    tenant, other = new_tenant(client), new_tenant(client, "Other")
    pdf = pdfs.text_pdf(pages=2)
    uploaded = upload(client, tenant, "prices.pdf", pdf)
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()
    assert document == {
        "id": document["id"],
        "name": "prices.pdf",
        "mediaType": "application/pdf",
        "size": len(pdf),
        "pages": 2,
        "createdAt": "2030-01-15T09:00:00+00:00",
    }
    listing = upload_ok(client, tenant, "numbers.txt", NUMBERS.encode("latin-1"))
    text = client.get(f"/me/document/{listing}").json()
    assert (text["mediaType"], text["pages"]) == ("text/plain", None)
    assert [d["id"] for d in client.get("/me/document").json()] == [listing, document["id"]]
    content = client.get(f"/me/document/{document['id']}/content")
    assert content.content == pdf
    assert content.headers["content-type"] == "application/pdf"
    assert "prices.pdf" in content.headers["content-disposition"]

    before = row_counts(svc.engine)
    not_pdf = problem(upload(client, tenant, "photo.pdf", PNG_MAGIC + bytes(200)), 422)
    assert fields(not_pdf) == ["file"]
    assert not_pdf["errors"][0]["message"] == "the file is a PNG image, not a PDF"
    encrypted = problem(upload(client, tenant, "locked.pdf", pdfs.encrypted_pdf()), 422)
    assert encrypted["errors"] == [
        {"field": "file", "code": "encrypted", "message": encrypted["errors"][0]["message"]}
    ]
    empty = problem(upload(client, tenant, "empty.pdf", pdfs.empty_pdf()), 422)
    assert empty["errors"][0]["code"] == "empty"
    no_file = client.post("/me/document", params=tenant.params)
    assert fields(problem(no_file, 422)) == ["file"]

    # Where an upload goes: a user of several accounts names one of theirs.
    several = problem(client.post("/me/document", files={"file": ("prices.pdf", pdf)}), 422)
    assert fields(several) == ["account"]
    problem(upload(client, Tenant(9999, 0), "prices.pdf", pdf), 404)
    # A user of the other account only sees nothing of the first one's.
    outsider = new_user(svc, "outsider", {other.account: Role.MEMBER}).bearer
    problem(client.get(f"/me/document/{document['id']}", headers=outsider), 404)
    problem(client.get(f"/me/document/{document['id']}/content", headers=outsider), 404)
    assert client.get("/me/document", headers=outsider).json() == []
    assert row_counts(svc.engine) == before


def test_create_list_and_get(client: httpx.Client, clock: ManualClock) -> None:
    tenant = new_tenant(client)
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    listing = upload_ok(client, tenant, "numbers.txt", b"\xef\xbb\xbf0612345678\r\n0698765432\r\n")

    manual = create(client, tenant, pdf, name="B manual")
    assert manual == {
        "id": manual["id"],
        "name": "B manual",
        "reference": manual["reference"],
        "status": "stopTodo",
        "state": "waiting",
        "outcome": "n/a",
        "faxQuality": "normal",
        "sendType": "manual",
        "sendDate": None,
        "documentId": pdf,
        "countTotal": 4,
        "countSuccess": 0,
        "countFailed": 0,
        "countTodo": 4,
        "dateStart": None,
        "dateEnd": None,
        "pages": 1,
        "error": None,
        "createdAt": "2030-01-15T09:00:00+00:00",
        "warnings": [],
        "warningsTotal": 0,
        "merged": [],
        "mergedTotal": 0,
    }
    clock.advance(timedelta(minutes=1))
    scheduled = create(
        client,
        tenant,
        pdf,
        name="A scheduled",
        faxQuality="best",
        sendType="scheduled",
        sendDate="2030-01-16T08:30:00+01:00",
    )
    assert (scheduled["state"], scheduled["status"]) == ("scheduled", "todo")
    assert scheduled["sendDate"] == "2030-01-16T07:30:00+00:00"
    clock.advance(timedelta(minutes=1))
    from_file = client.post(
        tenant.campaigns,
        json=campaign_body(
            pdf,
            name="C from file",
            recipientsType="document",
            recipientsList=None,
            recipientsDocId=listing,
        ),
    )
    assert from_file.status_code == 201, from_file.text
    assert from_file.headers["location"].endswith(f"{tenant.campaigns}/{from_file.json()['id']}")
    assert from_file.json()["countTotal"] == 2
    assert client.get(f"{tenant.campaigns}/{manual['id']}").json() == as_stored(manual)

    def listed(**params: Any) -> Any:
        response = client.get(tenant.campaigns, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    everything = listed()
    assert [c["name"] for c in everything["items"]] == ["C from file", "A scheduled", "B manual"]
    assert (everything["count"], everything["page"], everything["pageSize"]) == (3, 1, 50)
    second = listed(pageSize=2, page=2)
    assert [c["name"] for c in second["items"]] == ["B manual"]
    assert (second["count"], second["pageSize"]) == (3, 2)
    assert [c["name"] for c in listed(sort="name", order="asc")["items"]] == [
        "A scheduled",
        "B manual",
        "C from file",
    ]
    assert listed(sort="state", order="asc")["items"][0]["name"] == "A scheduled"
    assert listed(state="scheduled")["count"] == 1
    assert listed(state=["scheduled", "waiting"])["count"] == 3
    assert listed(state="running") == {"items": [], "count": 0, "page": 1, "pageSize": 50}
    for params, field in (
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 501}, "pageSize"),
        ({"page": 0}, "page"),
        ({"sort": "colour"}, "sort"),
        ({"order": "up"}, "order"),
        ({"state": "done"}, "state[0]"),
    ):
        assert fields(problem(client.get(tenant.campaigns, params=params), 422)) == [field]


# The entries: the guide's syntax accepts each, the French numbering plan does not.
PROBABLY_INVALID = "123456\n+123456; 12345678901234567, (0) 8-12-34\n01 23 45"
# One number, spelt four ways.
ONE_NUMBER = "0123456789\n01 23 45 67 89; +33123456789, 33123456789"


def test_numbers_the_guide_accepts_are_kept_with_a_warning_each(
    client: httpx.Client, svc: Services
) -> None:
    tenant = new_tenant(client)
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    body = campaign_body(pdf, recipientsList=PROBABLY_INVALID)
    before = row_counts(svc.engine)

    checked = client.post(f"{tenant.campaigns}/check", json=body)
    assert checked.status_code == 200, checked.text
    assert row_counts(svc.engine) == before
    created = create(client, tenant, pdf, recipientsList=PROBABLY_INVALID)

    expected = [
        (1, 1, "123456", "123456", "numbers.wrong_length"),
        (2, 1, "+123456", "+123456", "numbers.wrong_length"),
        (2, 10, "12345678901234567", "12345678901234567", "numbers.wrong_length_national"),
        (2, 29, "(0) 8-12-34", "081234", "numbers.wrong_length"),
        (3, 1, "01 23 45", "012345", "numbers.wrong_length"),
    ]
    for answer in (checked.json(), created):
        assert [
            (w["line"], w["column"], w["text"], w["number"], w["code"]) for w in answer["warnings"]
        ] == expected
        assert (answer["warningsTotal"], answer["merged"], answer["mergedTotal"]) == (5, [], 0)
    assert created["warnings"][0]["message"] == (
        "probably invalid for country FR: 9 digits expected after +33, this one has 6;"
        " dialled as typed"
    )
    assert created["countTotal"] == 5
    # Kept ones are dialled: they are the campaign's recipients, as typed.
    detail = client.get(f"{tenant.campaigns}/{created['id']}/detail").json()
    assert detail["todo"] == [number for _, _, _, number, _ in expected]
    # Each number is shown as typed too, where it was typed otherwise.
    assert [(r["typed"], r["number"]) for r in detail["recipients"]] == [
        (None, "123456"),
        (None, "+123456"),
        (None, "12345678901234567"),
        ("(0) 8-12-34", "081234"),
        ("01 23 45", "012345"),
    ]
    assert row_counts(svc.engine)[:2] == (before[0] + 1, before[1] + 5)

    french = client.post(
        f"{tenant.campaigns}/check", json=body, headers={"Accept-Language": "fr"}
    ).json()
    assert french["warnings"][0]["message"] == (
        "probablement invalide pour le pays FR : 9 chiffres attendus après +33, celui-ci en a 6 ;"
        " composé tel quel"
    )


def test_merged_spellings_are_one_recipient_and_told(client: httpx.Client, svc: Services) -> None:
    tenant = new_tenant(client)
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    before = row_counts(svc.engine)

    checked = client.post(
        f"{tenant.campaigns}/check", json=campaign_body(pdf, recipientsList=ONE_NUMBER)
    )
    created = create(client, tenant, pdf, recipientsList=ONE_NUMBER)
    as_array = create(
        client, tenant, pdf, recipientsList=ONE_NUMBER.replace("; ", "\n").split("\n")
    )

    merged = [
        {
            "number": "+33123456789",
            "entries": [
                {"line": 1, "column": 1, "text": "0123456789"},
                {"line": 2, "column": 1, "text": "01 23 45 67 89"},
                {"line": 2, "column": 17, "text": "+33123456789"},
                {"line": 2, "column": 31, "text": "33123456789"},
            ],
        }
    ]
    assert checked.status_code == 200
    for answer in (checked.json(), created):
        assert (answer["merged"], answer["mergedTotal"], answer["warnings"]) == (merged, 3, [])
    assert created["countTotal"] == 1
    [recipient] = client.get(f"{tenant.campaigns}/{created['id']}/detail").json()["recipients"]
    assert (recipient["typed"], recipient["number"]) == ("0123456789", "+33123456789")
    # In an array, an entry's line is its index + 1.
    assert [(e["line"], e["column"]) for e in as_array["merged"][0]["entries"]] == [
        (1, 1),
        (2, 1),
        (3, 1),
        (3, 15),
    ]
    assert row_counts(svc.engine)[:2] == (before[0] + 2, before[1] + 2)


def test_only_the_guides_syntax_refuses_and_stores_nothing(
    client: httpx.Client, svc: Services
) -> None:
    tenant = new_tenant(client)
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    before = row_counts(svc.engine)
    text = PROBABLY_INVALID + "\n12345, 123456789012345678; 12+3456"

    for path in (tenant.campaigns, f"{tenant.campaigns}/check"):
        refused = problem(client.post(path, json=campaign_body(pdf, recipientsList=text)), 422)
        assert [(e["line"], e["column"], e["text"], e["code"]) for e in refused["errors"]] == [
            (4, 1, "12345", "numbers.too_few_digits"),
            (4, 8, "123456789012345678", "numbers.too_many_digits"),
            (4, 28, "12+3456", "numbers.plus_not_first"),
        ]
        assert row_counts(svc.engine) == before


def test_problems_are_in_the_language_the_caller_accepts(client: httpx.Client) -> None:
    tenant = new_tenant(client)
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    french = {"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"}
    bad = campaign_body(pdf, name=" ", recipientsList="0612345678, 12")

    refused = client.post(tenant.campaigns, json=bad, headers=french)
    english = client.post(tenant.campaigns, json=bad)

    body = problem(refused, 422)
    assert refused.headers["content-language"] == "fr"
    assert body["title"] == "Données invalides"
    assert body["detail"] == (
        "name : le nom de la campagne est vide ; recipientsList : 1 numéro invalide : "
        "ligne 1, colonne 13 : « 12 » : a 2 chiffres ; il en faut au moins 6"
    )
    assert body["errors"] == [
        {
            "field": "name",
            "code": "campaign.name_empty",
            "message": "le nom de la campagne est vide",
        },
        {
            "field": "recipientsList",
            "line": 1,
            "column": 13,
            "text": "12",
            "code": "numbers.too_few_digits",
            "message": "a 2 chiffres ; il en faut au moins 6",
        },
    ]
    assert english.headers["content-language"] == "en"
    assert problem(english, 422)["errors"][0] == {
        "field": "name",
        "code": "campaign.name_empty",
        "message": "the campaign name is empty",
    }

    manual = create(client, tenant, pdf, name="Relance")
    url = f"{tenant.campaigns}/{manual['id']}"
    conflict = problem(client.post(f"{url}/stop", headers=french), 409)
    assert (conflict["title"], conflict["detail"]) == (
        "Conflit",
        "impossible de stopper la campagne « Relance » : elle est en attente ; "
        "seule une campagne programmée ou en cours peut être stoppée",
    )
    missing = problem(client.get(f"{tenant.campaigns}/999", headers=french), 404)
    assert (missing["title"], missing["detail"]) == (
        "Introuvable",
        f"aucune campagne 999 sur la ligne {tenant.line}",
    )
    anonymous = {"Accept-Language": "fr", "Authorization": ""}
    unsigned = problem(client.get("/me/document", headers=anonymous), 401)
    assert (unsigned["title"], unsigned["detail"]) == (
        "Non connecté",
        "connectez-vous d'abord, ou envoyez un jeton d'API dans l'en-tête Authorization (Bearer)",
    )


def test_start_stop_delete_rules(client: httpx.Client) -> None:
    tenant = new_tenant(client)
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    manual = create(client, tenant, pdf)
    url = f"{tenant.campaigns}/{manual['id']}"

    started = client.post(f"{url}/start")
    assert started.status_code == 200, started.text
    assert (started.json()["state"], started.json()["status"]) == ("running", "doing")
    assert started.json()["dateStart"] == "2030-01-15T09:00:00+00:00"
    again = problem(client.post(f"{url}/start"), 409)
    assert "it is running" in again["detail"]
    assert "only a waiting campaign can be launched" in again["detail"]
    refused = problem(client.delete(url), 409)
    assert "cannot delete" in refused["detail"]
    stopped = client.post(f"{url}/stop")
    assert (stopped.json()["state"], stopped.json()["status"]) == ("waiting", "stopTodo")
    assert "be stopped" in problem(client.post(f"{url}/stop"), 409)["detail"]
    deleted = client.delete(url)
    assert (deleted.status_code, deleted.content) == (204, b"")
    problem(client.get(url), 404)
    problem(client.delete(url), 404)

    scheduled = create(client, tenant, pdf, sendType="scheduled", sendDate="2030-01-15T12:00:00Z")
    url = f"{tenant.campaigns}/{scheduled['id']}"
    assert "it is scheduled" in problem(client.post(f"{url}/start"), 409)["detail"]
    assert client.post(f"{url}/stop").json()["state"] == "waiting"
    assert client.post(f"{url}/start").json()["state"] == "running"


def test_detail_pages_and_received_fax(client: httpx.Client, svc: Services) -> None:
    tenant, other = new_tenant(client), new_tenant(client, "Other")
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf(pages=2))
    campaign = create(client, tenant, pdf, faxQuality="high")
    url = f"{tenant.campaigns}/{campaign['id']}"

    detail = client.get(f"{url}/detail").json()
    assert detail["campaign"] == as_stored(campaign)
    expected = ["+33123456789", "+33198765432", "+442079460000", "+33612345678"]
    assert (detail["todo"], detail["success"], detail["failed"]) == (expected, [], [])
    assert detail["recipients"][0] == {
        "number": "+33123456789",
        "typed": "+33 1 23 45 67 89",
        "position": 1,
        "state": "pending",
        "calls": 0,
        "pagesConfirmed": 0,
        "reason": None,
        "dueAt": None,
        "settledAt": None,
        "nextCallAt": None,
        "triesLeft": None,
        "attempts": [],
    }
    page = client.get(f"{url}/pages/2.png")
    assert page.headers["content-type"] == "image/png"
    assert page.content.startswith(PNG_MAGIC)
    problem(client.get(f"{url}/pages/3.png"), 404)

    # What a worker would record after delivering the first number (the worker is not tested here).
    with svc.engine.begin() as conn:
        first = conn.execute(
            select(recipients.c.id).where(
                recipients.c.campaign_id == campaign["id"], recipients.c.position == 1
            )
        ).scalar_one()
        tiff = repository.campaign_tiff(conn, campaign["id"])
        conn.execute(
            update(recipients)
            .where(recipients.c.id == first)
            .values(state="delivered", calls=1, pages_confirmed=2, settled_at=NOW)
        )
        attempt = conn.execute(
            insert(attempts).values(
                recipient_id=first,
                campaign_id=campaign["id"],
                number="+33123456789",
                started_at=NOW,
                answered_at=NOW + timedelta(seconds=5),
                ended_at=NOW + timedelta(seconds=65),
                delivered=True,
                reason="delivered",
                sip_status=200,
                t30_code=0,
                t30_text="OK",
                pages_confirmed=2,
                pages_total=2,
                bit_rate=14400,
                ecm=True,
                resolution="fine",
                t38=False,
                remote_ident="+33 1 23 45 67 89",
                received_sha256=tiff,
            )
        ).inserted_primary_key
    assert attempt is not None
    attempt_id = attempt[0]
    detail = client.get(f"{url}/detail").json()
    assert detail["success"] == expected[:1]
    assert detail["todo"] == expected[1:]
    received = f"/telephony/{tenant.account}/fax/{tenant.line}/attempts/{attempt_id}/received"
    assert detail["recipients"][0]["attempts"] == [
        {
            "id": attempt_id,
            "startedAt": "2030-01-15T09:00:00+00:00",
            "answeredAt": "2030-01-15T09:00:05+00:00",
            "endedAt": "2030-01-15T09:01:05+00:00",
            "durationS": 65.0,
            "delivered": True,
            "failure": None,
            "reason": "delivered",
            "sipStatus": 200,
            "t30Code": 0,
            "t30Text": "OK",
            "pagesConfirmed": 2,
            "pagesTotal": 2,
            "bitRate": 14400,
            "ecm": True,
            "resolution": "fine",
            "t38": False,
            "remoteIdent": "+33 1 23 45 67 89",
            "received": f"http://faxcast.test{received}.tif",
        }
    ]
    fax = client.get(f"{received}.tif")
    assert fax.headers["content-type"] == "image/tiff"
    with svc.engine.connect() as conn:
        assert fax.content == svc.blobs.get(conn, tiff)
    assert client.get(f"{received}/2.png").content.startswith(PNG_MAGIC)
    problem(client.get(f"{received}/3.png"), 404)

    # Another account sees none of it, even through its own line.
    for path in (
        f"/telephony/{other.account}/fax/{tenant.line}/campaigns/{campaign['id']}/detail",
        f"/telephony/{other.account}/fax/{other.line}/campaigns/{campaign['id']}/detail",
        f"/telephony/{other.account}/fax/{other.line}/campaigns/{campaign['id']}/pages/1.png",
        f"/telephony/{other.account}/fax/{other.line}/attempts/{attempt_id}/received.tif",
        f"/telephony/{other.account}/fax/{other.line}/attempts/{attempt_id}/received/1.png",
        f"/telephony/{other.account}/fax/{tenant.line}/attempts/{attempt_id}/received.tif",
    ):
        problem(client.get(path), 404)


@dataclass(frozen=True)
class BadCampaign:
    """A creation request that must be refused, and the fields the problem must name."""

    description: str
    body: dict[str, Any]
    fields: list[str | None]


def test_bad_campaigns_are_refused_and_store_nothing(client: httpx.Client, svc: Services) -> None:
    tenant, other = new_tenant(client), new_tenant(client, "Other")
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    bad_list = upload_ok(client, tenant, "numbers.txt", b"0612345678\n06 12 AB\n")
    theirs = upload_ok(client, other, "theirs.pdf", pdfs.drawing_pdf())
    # A rendition of the PDF at every quality exists, so a refusal must not add one either.
    for quality in ("normal", "best"):
        create(client, tenant, pdf, faxQuality=quality)
    before = row_counts(svc.engine)

    cases = [
        BadCampaign("empty name", campaign_body(pdf, name="  "), ["name"]),
        BadCampaign("no document", campaign_body(pdf, documentId=None), ["documentId"]),
        BadCampaign("unknown document", campaign_body(9999), ["documentId"]),
        BadCampaign("another account's document", campaign_body(theirs), ["documentId"]),
        BadCampaign("a text file to fax", campaign_body(bad_list), ["documentId"]),
        BadCampaign("unknown quality", campaign_body(pdf, faxQuality="ultra"), ["faxQuality"]),
        BadCampaign("unknown send type", campaign_body(pdf, sendType="later"), ["sendType"]),
        BadCampaign(
            "past send date",
            campaign_body(pdf, sendType="scheduled", sendDate="2030-01-15T08:59:00+00:00"),
            ["sendDate"],
        ),
        BadCampaign(
            # 09:59 in Paris is 08:59 UTC, a minute before NOW.
            "past send date in the account's time zone",
            campaign_body(pdf, sendType="scheduled", sendDate="2030-01-15 09:59:00"),
            ["sendDate"],
        ),
        BadCampaign(
            "not a date", campaign_body(pdf, sendType="scheduled", sendDate="soon"), ["sendDate"]
        ),
        BadCampaign(
            "scheduled without date", campaign_body(pdf, sendType="scheduled"), ["sendDate"]
        ),
        BadCampaign(
            "manual with a date",
            campaign_body(pdf, sendDate="2030-02-01T10:00:00+00:00"),
            ["sendDate"],
        ),
        BadCampaign("no numbers", campaign_body(pdf, recipientsList=" ;\n"), ["recipientsList"]),
        BadCampaign(
            "too many numbers",
            campaign_body(pdf, recipientsList=",".join(f"+3361234{n:04d}" for n in range(101))),
            ["recipientsList"],
        ),
        BadCampaign(
            "no recipients document",
            campaign_body(pdf, recipientsType="document", recipientsList=[]),
            ["recipientsDocId"],
        ),
        BadCampaign(
            "a PDF as the numbers",
            campaign_body(pdf, recipientsType="document", recipientsList=[], recipientsDocId=pdf),
            ["recipientsDocId"],
        ),
        BadCampaign(
            "a list with a bad entry",
            campaign_body(
                pdf, recipientsType="document", recipientsList=[], recipientsDocId=bad_list
            ),
            ["recipientsDocId"],
        ),
        BadCampaign("an empty array", campaign_body(pdf, recipientsList=[]), ["recipientsList"]),
        BadCampaign(
            "an array entry not text",
            campaign_body(pdf, recipientsList=["0612345678", 33612345678]),
            ["recipientsList"],
        ),
        BadCampaign(
            "an array entry of two lines",
            campaign_body(pdf, recipientsList=["0612345678", "0698765432\n0612345679"]),
            ["recipientsList"],
        ),
        BadCampaign(
            "a list and a document",
            campaign_body(
                pdf, recipientsType="document", recipientsDocId=bad_list, recipientsList=["0612"]
            ),
            [None],
        ),
        BadCampaign(
            "a list and a document's id",
            campaign_body(pdf, recipientsDocId=bad_list),
            [None],
        ),
        BadCampaign(
            "a list given for a document",
            campaign_body(pdf, recipientsType="document", recipientsList="0612345678"),
            [None],
        ),
        BadCampaign("unknown field", campaign_body(pdf, priority="high"), ["priority"]),
        BadCampaign("wrong types", {"name": ["x"], "documentId": pdf}, ["name", "sendType"]),
        BadCampaign(
            "everything at once",
            campaign_body(
                pdf,
                name="",
                documentId=bad_list,
                sendType="scheduled",
                sendDate="2020-01-01T00:00:00+00:00",
                recipientsList="0612345678, 12",
            ),
            ["documentId", "name", "sendDate", "recipientsList"],
        ),
    ]
    for case in cases:
        body = problem(client.post(tenant.campaigns, json=case.body), 422)
        assert fields(body) == case.fields, case.description
        assert body["type"] == "/problems/invalid-input"
        assert row_counts(svc.engine) == before, case.description
        # The check answers what creating would, and stores nothing either.
        checked = problem(client.post(f"{tenant.campaigns}/check", json=case.body), 422)
        assert fields(checked) == case.fields, case.description
        assert row_counts(svc.engine) == before, case.description
    valid = client.post(f"{tenant.campaigns}/check", json=campaign_body(pdf))
    assert (valid.status_code, valid.content) == (204, b"")
    assert row_counts(svc.engine) == before

    typed = problem(
        client.post(
            tenant.campaigns,
            json=campaign_body(pdf, recipientsList="0612345678,\n  +33 6 12 34 AB, 12\n0698765432"),
        ),
        422,
    )
    assert typed["errors"] == [
        {
            "field": "recipientsList",
            "line": 2,
            "column": 3,
            "text": "+33 6 12 34 AB",
            "code": "numbers.not_a_digit",
            "message": "contains 'A', which is not a digit",
        },
        {
            "field": "recipientsList",
            "line": 2,
            "column": 19,
            "text": "12",
            "code": "numbers.too_few_digits",
            "message": "has 2 digits, at least 6 are needed",
        },
    ]
    from_file = problem(
        client.post(
            tenant.campaigns,
            json=campaign_body(
                pdf, recipientsType="document", recipientsList=[], recipientsDocId=bad_list
            ),
        ),
        422,
    )
    assert [(e["line"], e["column"], e["text"]) for e in from_file["errors"]] == [
        (2, 1, "06 12 AB")
    ]

    malformed = problem(
        client.post(
            tenant.campaigns,
            content=b'{"name": "x",',
            headers={"content-type": "application/json"},
        ),
        422,
    )
    assert fields(malformed) == [None]
    assert "not valid JSON" in malformed["detail"]
    assert fields(problem(client.post(tenant.campaigns), 422)) == [None]

    # Lines that are not the caller's: not found, and nothing stored.
    problem(
        client.post(f"/telephony/{tenant.account}/fax/9999/campaigns", json=campaign_body(pdf)), 404
    )
    problem(
        client.post(
            f"/telephony/{other.account}/fax/{tenant.line}/campaigns", json=campaign_body(pdf)
        ),
        404,
    )
    problem(
        client.post(
            f"/telephony/{tenant.account}/fax/{other.line}/campaigns", json=campaign_body(pdf)
        ),
        404,
    )
    assert row_counts(svc.engine) == before
    create(client, tenant, pdf)
    assert row_counts(svc.engine) != before


def test_another_accounts_campaign_is_not_found(client: httpx.Client, svc: Services) -> None:
    tenant, other = new_tenant(client), new_tenant(client, "Other")
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    campaign = create(client, tenant, pdf)
    before = row_counts(svc.engine)
    for base in (
        f"/telephony/{other.account}/fax/{other.line}/campaigns/{campaign['id']}",
        f"/telephony/{other.account}/fax/{tenant.line}/campaigns/{campaign['id']}",
        f"/telephony/{tenant.account}/fax/9999/campaigns/{campaign['id']}",
    ):
        problem(client.get(base), 404)
        problem(client.post(f"{base}/start"), 404)
        problem(client.post(f"{base}/stop"), 404)
        problem(client.delete(base), 404)
    assert client.get(f"/telephony/{other.account}/fax/{other.line}/campaigns").json()["count"] == 0
    assert client.get(f"{tenant.campaigns}/{campaign['id']}").json() == as_stored(campaign)
    assert row_counts(svc.engine) == before


def test_errors_are_problems(svc: Services, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(svc)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    transport = SyncAsgiTransport(app, raise_app_exceptions=False)
    with httpx.Client(transport=transport, base_url="http://faxcast.test") as client:
        as_tester(svc, client)
        caplog.set_level(logging.ERROR, logger="faxcast.api")
        failed = problem(client.get("/boom"), 500)
        assert set(failed) == {"type", "title", "status", "detail", "instance", "requestId"}
        assert "secret" not in failed["detail"]
        assert failed["requestId"] in caplog.text
        assert "secret internals" in caplog.text
        assert client.get("/boom", headers={"X-Request-Id": "abc-123"}).json()["requestId"] == (
            "abc-123"
        )

        unknown = problem(client.get("/nowhere"), 404)
        assert (unknown["title"], unknown["instance"]) == ("Not Found", "/nowhere")
        problem(client.patch("/telephony"), 405)
        assert fields(problem(client.get("/telephony/abc"), 422)) == ["account"]


def test_openapi(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    operations = {
        op["operationId"]: (method.upper(), path)
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    base = "/telephony/{account}/fax/{line}"
    assert operations == {
        "accounts-list": ("GET", "/telephony"),
        "accounts-create": ("POST", "/telephony"),
        "accounts-get": ("GET", "/telephony/{account}"),
        "accounts-update": ("PUT", "/telephony/{account}"),
        "lines-list": ("GET", "/telephony/{account}/fax"),
        "lines-create": ("POST", "/telephony/{account}/fax"),
        "lines-get": ("GET", base),
        "lines-get_settings": ("GET", f"{base}/settings"),
        "lines-update_settings": ("PUT", f"{base}/settings"),
        "lines-test": ("POST", f"{base}/test"),
        "documents-upload": ("POST", "/me/document"),
        "documents-list": ("GET", "/me/document"),
        "documents-get": ("GET", "/me/document/{document}"),
        "documents-content": ("GET", "/me/document/{document}/content"),
        "campaigns-list": ("GET", f"{base}/campaigns"),
        "campaigns-create": ("POST", f"{base}/campaigns"),
        "campaigns-check": ("POST", f"{base}/campaigns/check"),
        "campaigns-get": ("GET", f"{base}/campaigns/{{campaign}}"),
        "campaigns-delete": ("DELETE", f"{base}/campaigns/{{campaign}}"),
        "campaigns-start": ("POST", f"{base}/campaigns/{{campaign}}/start"),
        "campaigns-stop": ("POST", f"{base}/campaigns/{{campaign}}/stop"),
        "campaigns-remove-flagged": (
            "POST",
            f"{base}/campaigns/{{campaign}}/recipients/remove-flagged",
        ),
        "campaigns-detail": ("GET", f"{base}/campaigns/{{campaign}}/detail"),
        "campaigns-page": ("GET", f"{base}/campaigns/{{campaign}}/pages/{{page}}.png"),
        "received-fax": ("GET", f"{base}/attempts/{{attempt}}/received.tif"),
        "received-page": ("GET", f"{base}/attempts/{{attempt}}/received/{{page}}.png"),
        "users-list": ("GET", "/telephony/{account}/users"),
        "users-add": ("POST", "/telephony/{account}/users"),
        "users-set_role": ("PUT", "/telephony/{account}/users/{user}"),
        "users-remove": ("DELETE", "/telephony/{account}/users/{user}"),
        "users-setup_link": ("POST", "/telephony/{account}/users/{user}/setup-link"),
        "audit-list": ("GET", "/telephony/{account}/audit"),
        "audit-csv": ("GET", "/telephony/{account}/audit.csv"),
        "me-get": ("GET", "/me"),
        "me-list_tokens": ("GET", "/me/token"),
        "me-create_token": ("POST", "/me/token"),
        "me-revoke_token": ("DELETE", "/me/token/{token}"),
    }
    schemas = document["components"]["schemas"]
    assert {"nextCallAt", "triesLeft"} <= schemas["Recipient"]["properties"].keys()
    assert "retries" in schemas["CampaignDetail"]["properties"]
    assert set(schemas["RetriesWaiting"]["required"]) == {"count", "nextCallAt", "lastTryBy"}
    create = document["paths"][f"{base}/campaigns"]["post"]
    assert list(create["responses"]["422"]["content"]) == [PROBLEM]
    assert "Authorization: Bearer" in document["info"]["description"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert list(create["responses"]["401"]["content"]) == [PROBLEM]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    # No Swagger UI or ReDoc page: FastAPI's load their scripts from a CDN.
    assert [client.get(page).status_code for page in ("/docs", "/redoc")] == [404, 404]


def test_a_deleted_campaigns_id_is_never_given_again(client: httpx.Client) -> None:
    tenant = new_tenant(client)
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    first = create(client, tenant, pdf, name="First")["id"]
    newest = create(client, tenant, pdf, name="Newest")["id"]
    assert client.delete(f"{tenant.campaigns}/{newest}").status_code == 204
    # SQLite without AUTOINCREMENT gave the newest row's id again: a script acting on it would
    # act on the next campaign.
    again = create(client, tenant, pdf, name="Again")["id"]
    assert again not in {first, newest}
    problem(client.get(f"{tenant.campaigns}/{newest}"), 404)
    assert client.get(f"{tenant.campaigns}/{again}").json()["name"] == "Again"


def test_the_providers_request_bodies_are_understood(client: httpx.Client, svc: Services) -> None:
    tenant = new_tenant(client)  # in Europe/Paris, UTC+1 in January
    pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
    listing = upload_ok(client, tenant, "numbers.txt", b"0612345678\n0698765432\n")
    provider = {
        "name": "Spring prices",
        "documentId": pdf,
        "faxQuality": "normal",
        "sendType": "scheduled",
        "sendDate": "2030-01-15T10:50:00",
        "recipientsType": "list",
        "recipientsList": ["+33 1 23 45 67 89", "01 98 76 54 32", "06 12 34 56 78"],
    }
    by_array = client.post(tenant.campaigns, json=provider)
    assert by_array.status_code == 201, by_array.text
    assert by_array.json()["countTotal"] == 3
    # Without an offset, the account's time: 10:50 in Paris.
    assert by_array.json()["sendDate"] == "2030-01-15T09:50:00+00:00"

    # The provider's own page posts an empty list beside a document, and a blank for the T.
    by_document = client.post(
        tenant.campaigns,
        json={
            **provider,
            "sendDate": "2030-01-15 10:55:00",
            "recipientsType": "document",
            "recipientsList": [],
            "recipientsDocId": listing,
        },
    )
    assert by_document.status_code == 201, by_document.text
    assert by_document.json()["countTotal"] == 2
    assert by_document.json()["sendDate"] == "2030-01-15T09:55:00+00:00"

    before = row_counts(svc.engine)
    # An array's entry i is line i + 1 of the list.
    bad = problem(
        client.post(tenant.campaigns, json={**provider, "recipientsList": ["0612345678", "12"]}),
        422,
    )
    assert [(e["field"], e["line"], e["column"], e["text"]) for e in bad["errors"]] == [
        ("recipientsList", 2, 1, "12")
    ]
    not_text = problem(
        client.post(tenant.campaigns, json={**provider, "recipientsList": ["0612345678", 612]}),
        422,
    )
    assert not_text["errors"] == [
        {
            "field": "recipientsList",
            "line": 2,
            "code": "api.recipients_entry_not_text",
            "message": "entry 2 of the array is not text: give each number as a JSON string",
        }
    ]
    both = problem(
        client.post(
            tenant.campaigns,
            json={**provider, "recipientsType": "document", "recipientsDocId": listing},
            headers={"Accept-Language": "fr"},
        ),
        422,
    )
    assert both["errors"] == [
        {
            "code": "api.recipients_two_sources",
            "message": (
                "donnez les numéros soit dans recipientsList, soit dans un document "
                "(recipientsDocId), pas les deux"
            ),
        }
    ]

    # A date in the past is said in the account's time zone, as it was typed.
    past = problem(
        client.post(tenant.campaigns, json={**provider, "sendDate": "2030-01-15T09:30:00"}), 422
    )
    assert past["errors"][0]["message"] == (
        "the send date 2030-01-15 09:30 is in the past: it is now 2030-01-15 10:00 "
        "(Europe/Paris time)"
    )
    assert "UTC" not in past["detail"]
    assert row_counts(svc.engine) == before


def test_malformed_values_are_told_in_faxcasts_words(client: httpx.Client) -> None:
    tenant = new_tenant(client)
    body = {
        "name": {"a": 1},
        "documentId": "one",
        "faxQuality": "ultra",
        "sendType": "scheduled",
        "sendDate": "soon",
        "recipientsType": "list",
        "recipientsList": {"to": "0612345678"},
        "colour": "red",
    }
    found = problem(client.post(tenant.campaigns, json=body), 422)
    assert [(e["field"], e["code"], e["message"]) for e in found["errors"]] == [
        ("name", "string_type", "should be text (a JSON string)"),
        ("documentId", "int_parsing", "should be a whole number"),
        ("faxQuality", "enum", "should be normal, high or best"),
        ("sendDate", "datetime_from_date_parsing", found["errors"][3]["message"]),
        (
            "recipientsList",
            "api.recipients_not_text_or_array",
            "should be text or an array of texts (JSON strings)",
        ),
        ("colour", "extra_forbidden", "unknown field: check its spelling"),
    ]
    french = problem(
        client.post(tenant.campaigns, json={"documentId": 1}, headers={"Accept-Language": "fr"}),
        422,
    )
    assert [(e["field"], e["message"]) for e in french["errors"]] == [
        ("name", "obligatoire"),
        ("sendType", "obligatoire"),
    ]
    # No sentence of pydantic's reaches the caller.
    for answer in (found, french):
        assert "Input should" not in str(answer)
        assert "Field required" not in str(answer)
    # Limits and time zones elsewhere in the API read the same way.
    too_big = problem(client.get(tenant.campaigns, params={"pageSize": 501, "page": 0}), 422)
    assert [(e["field"], e["code"], e["message"]) for e in too_big["errors"]] == [
        ("page", "greater_than_equal", "should be at least 1"),
        ("pageSize", "less_than_equal", "should be at most 500"),
    ]
    naive = problem(
        client.post("/me/token", json={"name": "ci", "expiresAt": "2031-01-01T00:00:00"}), 422
    )
    assert [(e["field"], e["code"], e["message"]) for e in naive["errors"]] == [
        (
            "expiresAt",
            "timezone_aware",
            "needs its offset from UTC, such as 2026-12-01T09:30:00+01:00",
        )
    ]
