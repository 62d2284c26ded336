"""The queue's invariants under concurrency: racing workers on one database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch import queue
from faxcast.dispatch.queue import Claim
from faxcast.domain.campaign import SendType
from faxcast.domain.quality import Quality
from faxcast.services import accounts, campaigns, documents
from faxcast.services.campaigns import NewCampaign
from faxcast.services.context import Services
from faxcast.services.models import LineKind, LineSettings
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import recipients
from tests import pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WORKERS = 6
CHANNELS = 3


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    yield Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    engine.dispose()


def test_racing_workers_never_claim_twice_nor_exceed_a_lines_channels(svc: Services) -> None:
    account = accounts.create_account(svc, name="Race")
    first = accounts.list_lines(svc, account.id)[0]
    second = accounts.create_line(
        svc, account.id, LineSettings("Second", LineKind.SANDBOX, "FR", "", "", CHANNELS)
    )
    accounts.update_line(
        svc, account.id, first.id, LineSettings("First", LineKind.SANDBOX, "FR", "", "", CHANNELS)
    )
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    shared = "01 23 45 67 00"  # in both campaigns: one call at a time to it, system-wide
    for line_id in (first.id, second.id):
        numbers = [f"01 23 45 {line_id:02d} {n:02d}" for n in range(20)] + [shared]
        created = campaigns.create_campaign(
            svc,
            account.id,
            line_id,
            NewCampaign("race", pdf.id, Quality.HIGH, SendType.MANUAL, None, ",".join(numbers)),
        )
        campaigns.launch_campaign(svc, account.id, line_id, created.id)

    claimed: list[Claim] = []
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def work(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for _ in range(3):
                for line_id in (first.id, second.id):
                    with svc.transaction() as conn:
                        claimed.extend(
                            queue.claim(
                                conn,
                                account_id=account.id,
                                line_id=line_id,
                                worker_id=f"worker-{worker}",
                                now=NOW,
                                lease_s=300,
                                most=2,
                            )
                        )
        except BaseException as error:  # reported below, with the thread's name
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    ids = [c.recipient_id for c in claimed]
    assert len(ids) == len(set(ids)), "a recipient was claimed twice"
    per_line = {
        line_id: sum(c.line.id == line_id for c in claimed) for line_id in (first.id, second.id)
    }
    assert per_line == {first.id: CHANNELS, second.id: CHANNELS}
    assert sum(c.number == "+33123456700" for c in claimed) <= 1
    with svc.transaction() as conn:
        in_call = conn.execute(
            select(recipients.c.line_id, func.count())
            .where(recipients.c.state == "in_call")
            .group_by(recipients.c.line_id)
        ).all()
    assert dict(in_call) == per_line


def test_the_database_refuses_a_second_call_to_a_number_in_call(svc: Services) -> None:
    account = accounts.create_account(svc, name="Index")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    for name in ("one", "two"):
        campaigns.create_campaign(
            svc,
            account.id,
            line.id,
            NewCampaign(name, pdf.id, Quality.HIGH, SendType.MANUAL, None, "01 23 45 67 89"),
        )

    with pytest.raises(IntegrityError), svc.transaction() as conn:
        conn.execute(update(recipients).values(state="in_call"))
