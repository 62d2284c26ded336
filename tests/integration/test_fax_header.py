"""The header line of a fax a sandbox machine received, read back from the page it printed.

A campaign goes through the API, the worker and the sandbox network (real T.30 calls on the
real engine); the received page's top rows must be, pixel for pixel, the header line drawn with
the expected text: the account's local time in its language, the line's text with its accents,
its number and the page total. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from faxcast.bootstrap import line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.documents import FaxDocument, read_tiff_f, render_pdf, write_tiff_f
from faxcast.documents.header import HeaderLine, band, band_rows
from faxcast.documents.model import ROW_BYTES
from faxcast.domain.quality import Quality, Resolution
from faxcast.domain.station import StationIdentity
from faxcast.fax.engine import Outgoing
from faxcast.lines.base import FaxJob, sent_document
from faxcast.services.context import Services
from faxcast.store.blobs import FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import campaigns, renditions
from tests import pdfs
from tests.asgi import api_client

SENT_AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HEADER = "Société Générale — Pôle Santé"
IDENT = "+33 1 23 45 67 89"
STATION = StationIdentity(IDENT, HEADER)


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    engine = create_engine_for(database_url)
    yield Services(engine, FileBlobStore(tmp_path / "blobs"), ManualClock(SENT_AT), settings)
    engine.dispose()


def _fax_two_pages(
    svc: Services,
    tmp_path: Path,
    *,
    timezone: str,
    language: str,
    quality: Quality,
    station: StationIdentity = STATION,
) -> tuple[FaxDocument, FaxDocument]:
    """What the account's sandbox line rendered, and what the far machine received."""
    http = api_client(svc)
    created = http.post(
        "/telephony", json={"name": "ACME", "timezone": timezone, "language": language}
    )
    assert created.status_code == 201, created.text
    assert created.json()["language"] == language
    account = created.json()["id"]
    line = http.get(f"/telephony/{account}/fax").json()[0]
    settings = http.get(f"/telephony/{account}/fax/{line['id']}/settings").json()
    settings.update(ident=station.ident, header=station.header)
    put = http.put(f"/telephony/{account}/fax/{line['id']}/settings", json=settings)
    assert put.status_code == 200, put.text
    base = f"/telephony/{account}/fax/{line['id']}"
    upload = http.post(
        "/me/document",
        params={"account": account},
        files={"file": ("lettre.pdf", pdfs.text_pdf(pages=2), "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    campaign = http.post(
        f"{base}/campaigns",
        json={
            "name": "Relance",
            "documentId": upload.json()["id"],
            "faxQuality": quality.value,
            "sendType": "manual",
            "recipientsType": "list",
            "recipientsList": "+33 1 23 45 67 89",
        },
    ).json()
    assert http.post(f"{base}/campaigns/{campaign['id']}/start").status_code == 200
    worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)

    async def once() -> int:
        started = await worker.tick()
        await worker.idle()
        await worker.lines.aclose()
        return started

    assert asyncio.run(once()) == 1
    attempt = http.get(f"{base}/campaigns/{campaign['id']}/detail").json()["recipients"][0][
        "attempts"
    ][0]
    assert attempt["delivered"], attempt["reason"]
    received = http.get(f"{base}/attempts/{attempt['id']}/received.tif")
    assert received.status_code == 200
    with svc.transaction() as conn:
        sha = conn.execute(
            select(renditions.c.tiff_sha256)
            .join(campaigns, campaigns.c.rendition_id == renditions.c.id)
            .where(campaigns.c.id == campaign["id"])
        ).scalar_one()
        rendered = read_tiff_f(svc.blobs.get(conn, sha))
    http.close()
    return rendered, read_tiff_f(received.content)


@pytest.mark.parametrize(
    ("timezone", "language", "quality", "when", "utc_when"),
    [
        # 08:00 UTC is 13:30 in Kolkata (UTC+5:30), 3:00 AM in New York (UTC-5 in December).
        ("Asia/Kolkata", "fr", Quality.NORMAL, "1 déc. 2026 13:30", "1 déc. 2026 08:00"),
        (
            "America/New_York",
            "en",
            Quality.HIGH,
            "Dec 1, 2026 3:00\N{NARROW NO-BREAK SPACE}AM",
            "Dec 1, 2026 8:00\N{NARROW NO-BREAK SPACE}AM",
        ),
    ],
    ids=["fr-kolkata-normal", "en-new-york-high"],
)
def test_the_received_header_shows_local_time_accents_and_page_total(
    svc: Services,
    tmp_path: Path,
    timezone: str,
    language: str,
    quality: Quality,
    when: str,
    utc_when: str,
) -> None:
    rendered, received = _fax_two_pages(
        svc, tmp_path, timezone=timezone, language=language, quality=quality
    )

    resolution = quality.profile.resolution
    assert received.resolution is resolution
    rows = band_rows(resolution)
    left = f"{when}   {HEADER}   {IDENT}"
    assert len(received.pages) == 2
    for number, (ours, theirs) in enumerate(zip(rendered.pages, received.pages, strict=True), 1):
        # Exactly as many rows as the rendered page: the header is inside it.
        assert theirs.rows == ours.rows
        assert theirs.ink[rows * ROW_BYTES :] == ours.ink[rows * ROW_BYTES :], number
        top = theirs.ink[: rows * ROW_BYTES]
        assert top == band(left, f"page {number}/2", resolution), number
        # The same line at UTC, or with the other page's number, is not what was printed.
        assert top != band(f"{utc_when}   {HEADER}   {IDENT}", f"page {number}/2", resolution)
        assert top != band(left, f"page {3 - number}/2", resolution)


def test_a_line_with_neither_header_text_nor_number_sends_its_pages_as_they_are(
    svc: Services, tmp_path: Path
) -> None:
    rendered, received = _fax_two_pages(
        svc,
        tmp_path,
        timezone="Europe/Paris",
        language="fr",
        quality=Quality.NORMAL,
        station=StationIdentity(),
    )

    assert received == rendered


def test_a_call_sends_its_own_headed_copy_and_removes_it_after(tmp_path: Path) -> None:
    rendered = render_pdf(pdfs.text_pdf(pages=2), Resolution.STANDARD)
    path = tmp_path / "sent.tif"
    path.write_bytes(write_tiff_f(rendered))
    plain = FaxJob(IDENT, Outgoing.from_file(path, start_page=1), Quality.NORMAL.profile, STATION)
    headed = dataclasses.replace(plain, header=HeaderLine(STATION, "Europe/Paris", "fr"))

    async def both() -> tuple[Outgoing, Outgoing, FaxDocument]:
        async with sent_document(plain, SENT_AT) as as_is:
            pass
        async with sent_document(headed, SENT_AT) as copy:
            drawn = read_tiff_f(copy.path.read_bytes())
        return as_is, copy, drawn

    as_is, copy, drawn = asyncio.run(both())

    assert as_is is plain.document
    assert not copy.path.exists()  # removed once the call is over
    assert (copy.pages, copy.start_page, copy.resolution) == (2, 1, Resolution.STANDARD)
    assert [p.rows for p in drawn.pages] == [p.rows for p in rendered.pages]
    assert read_tiff_f(path.read_bytes()) == rendered  # the stored document is untouched
    assert drawn != rendered
