"""What a file is, judged from its content the same way by /me/document and the web form (the CLI
in tests/e2e/test_cli_campaigns.py): refused files store nothing, sizes are told precisely."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from faxcast.bootstrap import create_app
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.services.context import Services
from faxcast.store.blobs import DatabaseBlobStore, FileBlobStore
from faxcast.store.database import create_engine_for
from tests import pdfs
from tests.asgi import SyncAsgiTransport, api_client
from tests.identity import as_tester
from tests.integration.test_api import row_counts
from tests.unit.test_documents_corpus import CASES, CORPUS

MB = 1024 * 1024
LIMIT_MB = 1
# A valid PDF padded to exactly 1.25 MB: over the limit, by a figure that reads exactly.
OVERSIZED = pdfs.text_pdf() + b"%" * (MB + MB // 4 - len(pdfs.text_pdf()))
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Refused:
    """A file that must be refused at upload, whatever it is sent through."""

    name: str
    data: bytes
    code: str  # the API's error code
    en: str  # the API's message, in English
    fr: str  # the web page's message, in French


REFUSED_PDFS = (
    Refused(
        "not-pdf-png.pdf",
        (CORPUS / "not-pdf-png.pdf").read_bytes(),
        "not_pdf",
        "the file is a PNG image, not a PDF",
        "Le fichier est une image PNG, pas un PDF.",
    ),
    Refused(
        "not-pdf-text.pdf",
        (CORPUS / "not-pdf-text.pdf").read_bytes(),
        "not_pdf",
        "the file is text, not a PDF",
        "Le fichier est du texte, pas un PDF.",
    ),
    Refused(
        "empty.pdf",
        b"",
        "empty",
        "the document is empty (0 bytes)",
        "Le document est vide (0 octet).",
    ),
    Refused(
        "big.pdf",
        OVERSIZED,
        "too_large",
        "the document is 1.25 MB, more than the 1 MB limit",
        "Le document fait 1,25 Mo, plus que la limite de 1 Mo.",
    ),
)
REFUSED_LISTS = (
    Refused(
        "empty.txt",
        b"",
        "empty",
        "the document is empty (0 bytes)",
        "Le document est vide (0 octet).",
    ),
    Refused(
        "blank.txt",
        b" \r\n\t\r\n",
        "numbers.file_blank",
        "the file holds no numbers (only blank space)",
        "Le fichier ne contient aucun numéro (que des blancs).",
    ),
    Refused(
        "big.txt",
        b"0123456789\n" * (MB // 8),
        "too_large",
        f"the document is {11 * (MB // 8) / MB:.2f} MB, more than the 1 MB limit",
        f"Le document fait {11 * (MB // 8) / MB:.2f} Mo".replace(".", ",")
        + ", plus que la limite de 1 Mo.",
    ),
)


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services with a 1 MB document limit; blobs in the database on PostgreSQL, else in files."""
    engine = create_engine_for(database_url)
    postgresql = engine.dialect.name == "postgresql"
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore() if postgresql else FileBlobStore(tmp_path / "blobs"),
        clock=ManualClock(datetime(2030, 1, 15, 9, 0, tzinfo=UTC)),
        settings=Settings(
            data_dir=tmp_path, default_country="FR", max_document_bytes=LIMIT_MB * MB
        ),
    )
    engine.dispose()


def _account(client: httpx.Client) -> tuple[int, int]:
    created = client.post("/telephony", json={"name": "Acme"})
    assert created.status_code == 201, created.text
    account = created.json()["id"]
    return account, client.get(f"/telephony/{account}/fax").json()[0]["id"]


def test_the_api_refuses_at_upload_what_is_not_what_its_name_says(svc: Services) -> None:
    with api_client(svc) as client:
        account, _ = _account(client)
        before = row_counts(svc.engine)
        for case in (*REFUSED_PDFS, *REFUSED_LISTS):
            answer = client.post(
                "/me/document",
                params={"account": str(account)},
                files={"file": (case.name, case.data)},
            )
            assert answer.status_code == 422, (case.name, answer.text)
            [error] = answer.json()["errors"]
            assert (error["field"], error["code"], error["message"]) == (
                "file",
                case.code,
                case.en,
            ), case.name
            assert row_counts(svc.engine) == before, case.name
        french = client.post(
            "/me/document",
            params={"account": str(account)},
            files={"file": ("big.pdf", OVERSIZED)},
            headers={"Accept-Language": "fr"},
        )
        assert french.json()["errors"][0]["message"] == (
            "le document fait 1,25 Mo, plus que la limite de 1 Mo"
        )
        assert row_counts(svc.engine) == before
        assert client.get("/me/document").json() == []


def test_the_api_stores_what_the_content_is(svc: Services) -> None:
    # A PDF named .txt is a PDF: the name is a hint of intent, the content decides.
    with api_client(svc) as client:
        account, _ = _account(client)
        stored = client.post(
            "/me/document",
            params={"account": str(account)},
            files={"file": ("numbers.txt", pdfs.text_pdf(pages=2))},
        )
        listing = client.post(
            "/me/document",
            params={"account": str(account)},
            files={"file": ("numbers", b"01 23 45 67 89\n")},
        )

    assert stored.status_code == 201, stored.text
    assert (stored.json()["mediaType"], stored.json()["pages"]) == ("application/pdf", 2)
    assert listing.status_code == 201, listing.text
    assert listing.json()["mediaType"] == "text/plain"


def test_the_api_judges_real_world_pdfs_as_the_corpus_says(svc: Services) -> None:
    cases = json.loads(CASES.read_text())
    assert {c["expect"] for c in cases} == {"accept", "refuse"}
    with api_client(svc) as client:
        account, _ = _account(client)
        for case in cases:
            data = (CORPUS / case["file"]).read_bytes()
            before = row_counts(svc.engine)
            answer = client.post(
                "/me/document",
                params={"account": str(account)},
                files={"file": (case["file"], data)},
            )
            if case["expect"] == "refuse" or len(data) > LIMIT_MB * MB:
                assert answer.status_code == 422, (case["file"], answer.text)
                assert row_counts(svc.engine) == before, case["file"]
                if len(data) > LIMIT_MB * MB:
                    assert answer.json()["errors"][0]["code"] == "too_large", case["file"]
                continue
            assert answer.status_code == 201, (case["file"], answer.text)
            assert answer.json()["pages"] == case["pages"], case["file"]


def _web(svc: Services) -> httpx.Client:
    client = httpx.Client(
        transport=SyncAsgiTransport(create_app(svc)), base_url="http://faxcast.test"
    )
    as_tester(svc, client)
    return client


def _form_path(account: int, line: int) -> str:
    return f"/accounts/{account}/lines/{line}/fax/campaigns/new"


def test_the_web_form_states_the_limits_before_a_file_is_chosen(svc: Services) -> None:
    with _web(svc) as client:
        account, line = _account(client)
        english = client.get(_form_path(account, line))
        french = client.get(_form_path(account, line), headers={"Accept-Language": "fr"})

    assert "A PDF of at most 50 pages and 1 MB." in english.text
    assert "A .txt file of at most 1 MB." in english.text
    assert "Un PDF de 50 pages et 1 Mo au plus." in french.text


@pytest.mark.parametrize("field", ["pdf", "recipients_file"])
def test_the_web_form_refuses_the_same_files_and_stores_nothing(svc: Services, field: str) -> None:
    cases = REFUSED_PDFS if field == "pdf" else REFUSED_LISTS
    with _web(svc) as client:
        account, line = _account(client)
        page = client.get(_form_path(account, line))
        match = _CSRF.search(page.text)
        assert match
        before = row_counts(svc.engine)
        for case in cases:
            files = {field: (case.name, case.data)}
            if field == "recipients_file":
                files["pdf"] = ("letter.pdf", pdfs.text_pdf())
            refused = client.post(
                _form_path(account, line),
                headers={"Accept-Language": "fr"},
                data={
                    "csrf_token": match.group(1),
                    "name": "Relance",
                    "quality": "high",
                    "send_type": "manual",
                    "recipients_type": "list" if field == "pdf" else "file",
                    "recipients_list": "01 23 45 67 89",
                },
                files=files,
            )
            assert refused.status_code == 422, (case.name, refused.text)
            error = re.search(rf'id="{field}-error"[^>]*>(.*?)</', refused.text, re.S)
            assert error, (case.name, refused.text)
            assert case.fr in error.group(1), (case.name, error.group(1))
            assert row_counts(svc.engine) == before, case.name
