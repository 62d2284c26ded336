"""How a created campaign's recipients are stored: in list order, in one transaction."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.documents import line_bits, render_pdf
from faxcast.domain.campaign import CampaignOutcome, CampaignState, SendType
from faxcast.domain.quality import Quality
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.store import repository
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import campaigns as campaigns_table
from faxcast.store.tables import lines as lines_table
from faxcast.store.tables import recipients, renditions
from tests import pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
MANY = 3_000


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url, max_recipients=MANY)
    yield Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    engine.dispose()


def _new_campaign(document_id: int, numbers: str) -> NewCampaign:
    return NewCampaign("Stock", document_id, Quality.HIGH, SendType.MANUAL, None, numbers)


def test_recipients_are_stored_pending_in_list_order(svc: Services) -> None:
    account = accounts.create_account(svc, name="Store")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    # Descending numbers and a duplicate: order and ids must follow the list, not the values.
    entries = [f"01 23 {n // 100:02d} {n % 100:02d} 00" for n in reversed(range(MANY - 1))]
    entries.insert(1, entries[0])
    created = campaigns.create_campaign(
        svc, account.id, line.id, _new_campaign(pdf.id, "\n".join(entries))
    )

    expected = [f"+33123{n // 100:02d}{n % 100:02d}00" for n in reversed(range(MANY - 1))]
    assert created.count_total == MANY - 1
    with svc.transaction() as conn:
        rows = conn.execute(
            select(recipients)
            .where(recipients.c.campaign_id == created.id)
            .order_by(recipients.c.id)
        ).all()
    assert [r.number for r in rows] == expected
    assert [r.position for r in rows] == list(range(1, MANY))
    assert {(r.line_id, r.state, r.calls, r.dials, r.tries, r.due_at) for r in rows} == {
        (line.id, "pending", 0, 0, 0, None)
    }


def test_recipients_that_cannot_be_stored_leave_no_campaign(svc: Services) -> None:
    account = accounts.create_account(svc, name="Store")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    first = campaigns.create_campaign(svc, account.id, line.id, _new_campaign(pdf.id, "0123456789"))

    with svc.transaction() as conn:
        rendition = conn.execute(
            select(campaigns_table.c.rendition_id).where(campaigns_table.c.id == first.id)
        ).scalar_one()
    values = {
        "account_id": account.id,
        "line_id": line.id,
        "reference": "CTWICE00",
        "name": "Twice",
        "document_id": pdf.id,
        "rendition_id": rendition,
        "quality": Quality.HIGH.value,
        "send_type": SendType.MANUAL.value,
        "send_at": None,
        "state": CampaignState.WAITING.value,
        "outcome": CampaignOutcome.NA.value,
        "count_delivered": 0,
        "count_failed": 0,
        "created_at": NOW,
    }
    # The parser never gives a number twice; the database's unique key refuses it if it did.
    twice = ["+33123456789", "+33198765432", "+33123456789"]
    with pytest.raises(IntegrityError), svc.transaction() as conn:
        repository.insert_campaign(conn, values=values, numbers=twice, line_id=line.id)

    with svc.transaction() as conn:
        assert conn.execute(select(campaigns_table.c.id)).scalars().all() == [first.id]
        assert conn.execute(select(func.count()).select_from(recipients)).scalar_one() == 1


def test_details_read_one_page_of_recipients_at_a_time(svc: Services) -> None:
    account = accounts.create_account(svc, name="Pages")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    numbers = [f"01 23 45 {n // 100:02d} {n % 100:02d}" for n in range(250)]
    created = campaigns.create_campaign(
        svc, account.id, line.id, _new_campaign(pdf.id, "\n".join(numbers))
    )
    every = campaigns.campaign_detail(svc, account.id, line.id, created.id)

    second = campaigns.campaign_detail(svc, account.id, line.id, created.id, page=2, page_size=100)
    past = campaigns.campaign_detail(svc, account.id, line.id, created.id, page=9, page_size=100)

    assert len(every.recipients) == 250
    assert (second.first, [r.position for r in second.recipients]) == (101, list(range(101, 201)))
    assert second.recipients == every.recipients[100:200]
    # A page past the last shows the last one.
    assert (past.first, len(past.recipients)) == (201, 50)


def _stored(svc: Services, name: str) -> tuple[int, int]:
    """(line id, campaign id) of a new account's campaign of two recipients."""
    account = accounts.create_account(svc, name=name)
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    created = campaigns.create_campaign(
        svc, account.id, line.id, _new_campaign(pdf.id, "01 23 45 67 01\n01 23 45 67 02")
    )
    return line.id, created.id


def _recipient_count(svc: Services, campaign_id: int) -> int:
    with svc.transaction() as conn:
        count: int = conn.execute(
            select(func.count())
            .select_from(recipients)
            .where(recipients.c.campaign_id == campaign_id)
        ).scalar_one()
    return count


# The campaign's key: a foreign key on SQLite, statement triggers on PostgreSQL (migration 0010).


def test_a_recipient_of_no_campaign_is_refused(svc: Services) -> None:
    line_id, campaign_id = _stored(svc, "Orphan")
    orphan = {"line_id": line_id, "position": 1, "number": "+33123456789", "state": "pending"}

    with pytest.raises(IntegrityError), svc.transaction() as conn:
        conn.execute(recipients.insert(), [{**orphan, "campaign_id": campaign_id + 1}])
    # One statement, rows of a campaign that exists and of one that does not: all refused.
    with pytest.raises(IntegrityError), svc.transaction() as conn:
        conn.execute(
            recipients.insert(),
            [
                {**orphan, "campaign_id": campaign_id, "position": 3},
                {**orphan, "campaign_id": campaign_id + 1, "position": 4},
            ],
        )

    assert _recipient_count(svc, campaign_id) == 2
    assert _recipient_count(svc, campaign_id + 1) == 0


def test_deleting_a_line_deletes_its_campaigns_recipients(svc: Services) -> None:
    line_id, campaign_id = _stored(svc, "Cascade")
    _, other_id = _stored(svc, "Other")

    with svc.transaction() as conn:
        conn.execute(lines_table.delete().where(lines_table.c.id == line_id))

    assert _recipient_count(svc, campaign_id) == 0
    assert _recipient_count(svc, other_id) == 2


def test_a_recipient_moves_only_to_a_campaign_that_exists(svc: Services) -> None:
    _, campaign_id = _stored(svc, "Move")
    _, other_id = _stored(svc, "Target")
    first = recipients.c.campaign_id == campaign_id, recipients.c.position == 1
    moved = {"position": 9, "number": "+33999999999"}

    with pytest.raises(IntegrityError), svc.transaction() as conn:
        conn.execute(recipients.update().where(*first).values(campaign_id=other_id + 1, **moved))
    with svc.transaction() as conn:
        conn.execute(recipients.update().where(*first).values(campaign_id=other_id, **moved))

    assert (_recipient_count(svc, campaign_id), _recipient_count(svc, other_id)) == (1, 3)


def test_a_campaign_with_recipients_keeps_its_id(svc: Services) -> None:
    _, campaign_id = _stored(svc, "Keep")
    this = campaigns_table.c.id == campaign_id

    with pytest.raises(IntegrityError), svc.transaction() as conn:
        conn.execute(campaigns_table.update().where(this).values(id=campaign_id + 100))

    assert _recipient_count(svc, campaign_id) == 2


def test_a_campaigns_deletion_and_new_recipients_take_turns_on_postgresql(
    postgresql_database_url: str, tmp_path: Path
) -> None:
    # As with a foreign key: recipients being added keep their campaign until they commit, and
    # recipients added after its deletion (committed meanwhile) are refused.
    engine = create_engine_for(postgresql_database_url)
    settings = Settings(data_dir=tmp_path, database_url=postgresql_database_url)
    svc = Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    try:
        _, kept_id = _stored(svc, "Adding")
        _, gone_id = _stored(svc, "Deleting")
        row = {"line_id": 1, "position": 3, "number": "+33999999999", "state": "pending"}

        def delete(campaign_id: int) -> None:
            with svc.transaction() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                conn.execute(campaigns_table.delete().where(campaigns_table.c.id == campaign_id))

        with svc.transaction() as adding:
            adding.execute(recipients.insert(), [{**row, "campaign_id": kept_id}])
            deletion = threading.Thread(target=delete, args=(kept_id,))
            deletion.start()
            deletion.join(timeout=0.5)
            assert deletion.is_alive()  # it waits for the recipients being added
        deletion.join(timeout=10)
        assert not deletion.is_alive()
        assert _recipient_count(svc, kept_id) == 0  # deleted with their campaign, once added

        with svc.transaction() as deleting:
            deleting.execute(campaigns_table.delete().where(campaigns_table.c.id == gone_id))
            refused: list[Exception] = []

            def add() -> None:
                try:
                    with svc.transaction() as conn:
                        conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                        conn.execute(recipients.insert(), [{**row, "campaign_id": gone_id}])
                except IntegrityError as error:
                    refused.append(error)

            adding_late = threading.Thread(target=add)
            adding_late.start()
            adding_late.join(timeout=0.5)
            assert adding_late.is_alive()  # it waits for the deletion
        adding_late.join(timeout=10)
        assert not adding_late.is_alive()
        assert len(refused) == 1
        assert _recipient_count(svc, gone_id) == 0
    finally:
        engine.dispose()


def test_a_rendition_keeps_each_pages_bits_on_the_line(svc: Services) -> None:
    account = accounts.create_account(svc, name="Store")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.mixed_pdf())
    campaigns.create_campaign(svc, account.id, line.id, _new_campaign(pdf.id, "0123456789"))
    expected = line_bits(render_pdf(pdfs.mixed_pdf(), Quality.HIGH.profile.resolution))

    with svc.transaction() as conn:
        stored = conn.execute(select(renditions.c.page_bits)).scalar_one()
    assert tuple(json.loads(stored)) == expected
    assert len(expected) == 3
    assert min(expected) > 0


def test_renditions_stored_before_their_page_bits_get_them_from_their_tiff(svc: Services) -> None:
    account = accounts.create_account(svc, name="Store")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.photo_pdf())
    for quality in (Quality.HIGH, Quality.NORMAL):
        new = NewCampaign("Old", pdf.id, quality, SendType.MANUAL, None, "0123456789")
        campaigns.create_campaign(svc, account.id, line.id, new)
    with svc.transaction() as conn:
        kept = {r.id: r.page_bits for r in conn.execute(select(renditions))}
        # As revision 0013 leaves the renditions stored before it.
        conn.execute(update(renditions).values(page_bits=None))

    assert documents.measure_renditions(svc) == 2
    with svc.transaction() as conn:
        measured = {r.id: r.page_bits for r in conn.execute(select(renditions))}
    assert measured == kept
    assert documents.measure_renditions(svc) == 0
