"""The seed's whole flow on the sandbox network: create, launch, dial, retry, stop, finish.

Real calls through the real fax engine; time is a ManualClock the tests move, so retries and
schedules happen without sleeping. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from faxcast.bootstrap import line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.domain.campaign import CampaignOutcome, CampaignState, SendType
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.errors import ConflictError, NotFoundError
from faxcast.services import accounts, campaigns, documents
from faxcast.services.campaigns import NewCampaign
from faxcast.services.context import Services
from faxcast.services.models import Campaign, CampaignDetail, Line, LineSettings
from faxcast.store.blobs import FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts
from tests import pdfs

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class World:
    """A server's worth of services on a fresh database, with one account and its line."""

    svc: Services
    clock: ManualClock
    worker: Worker
    account_id: int
    line_id: int
    pdf_id: int

    def create(self, numbers: str, **changes: object) -> Campaign:
        fields: dict[str, object] = {
            "name": "Relance clients",
            "document_id": self.pdf_id,
            "quality": Quality.HIGH,
            "send_type": SendType.MANUAL,
            "send_at": None,
            "recipients_list": numbers,
        }
        fields.update(changes)
        return campaigns.create_campaign(
            self.svc,
            self.account_id,
            self.line_id,
            NewCampaign(**fields),  # type: ignore[arg-type]
        )

    def get(self, campaign: Campaign) -> Campaign:
        return campaigns.get_campaign(self.svc, self.account_id, self.line_id, campaign.id)

    def detail(self, campaign: Campaign) -> CampaignDetail:
        return campaigns.campaign_detail(self.svc, self.account_id, self.line_id, campaign.id)

    def launch(self, campaign: Campaign) -> Campaign:
        return campaigns.launch_campaign(self.svc, self.account_id, self.line_id, campaign.id)

    def run(self, campaign: Campaign, *, max_ticks: int = 400) -> Campaign:
        """Dial until the campaign ends, moving the clock to each next due retry."""

        async def drive() -> Campaign:
            for _ in range(max_ticks):
                await self.worker.tick()
                await self.worker.idle()
                current = self.get(campaign)
                if current.state in (CampaignState.FINISHED, CampaignState.ERROR):
                    return current
                pending = [
                    r for r in self.detail(campaign).recipients if r.state is RecipientState.PENDING
                ]
                if all(r.due_at is not None and r.due_at > self.clock.now() for r in pending):
                    later = [r.due_at for r in pending if r.due_at is not None]
                    self.clock.set(min(later) if later else self.clock.now() + timedelta(seconds=1))
            raise AssertionError(
                f"campaign still {self.get(campaign).state} after {max_ticks} ticks"
            )

        return asyncio.run(drive())


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    clock = ManualClock(START)
    settings = Settings(data_dir=tmp_path, database_url=database_url, channel_limit=4)
    engine = create_engine_for(database_url)
    svc = Services(engine, FileBlobStore(tmp_path / "blobs"), clock, settings)
    account = accounts.create_account(svc, name="ACME Paris", timezone="Europe/Paris")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="lettre.pdf", data=pdfs.text_pdf(pages=3))
    worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    yield World(svc, clock, worker, account.id, line.id, pdf.id)
    engine.dispose()


# The sandbox's documented numbers (README), in the line's country (FR).
HEALTHY = "01 23 45 67 89"
BUSY = "01 23 45 04 86"
NO_ANSWER = "01 23 45 04 08"
CONGESTION = "01 23 45 05 03"
UNALLOCATED = "01 23 45 04 04"
REJECTED = "01 23 45 06 03"
VOICE = "01 23 45 09 00"
DROPPED = "01 23 45 02 22"
NOISY = "01 23 45 01 44"


def e164(national: str) -> str:
    return "+33" + national.replace(" ", "")[1:]


def test_every_test_number_gets_its_outcome_and_the_campaign_is_partial(world: World) -> None:
    numbers = [HEALTHY, BUSY, NO_ANSWER, CONGESTION, UNALLOCATED, REJECTED, VOICE, DROPPED, NOISY]
    campaign = world.launch(world.create(",\n".join(numbers)))

    final = world.run(campaign)

    assert final.state is CampaignState.FINISHED
    assert final.outcome is CampaignOutcome.PARTIAL
    assert (final.count_total, final.count_delivered, final.count_failed) == (9, 3, 6)
    assert final.count_todo == 0
    by_number = {r.number: r for r in world.detail(campaign).recipients}
    expected = {
        HEALTHY: (RecipientState.DELIVERED, 1, {None}),
        NOISY: (RecipientState.DELIVERED, 1, {None}),
        # Dropped during page 2 of 3 each time it has 2 pages or more to send: page 1 on the
        # first call, page 2 on the second, page 3 goes through on the third.
        DROPPED: (RecipientState.DELIVERED, 3, {FailureClass.TRANSFER_FAILED, None}),
        BUSY: (RecipientState.FAILED, 12, {FailureClass.BUSY}),
        NO_ANSWER: (RecipientState.FAILED, 12, {FailureClass.NO_ANSWER}),
        UNALLOCATED: (RecipientState.FAILED, 1, {FailureClass.PERMANENT}),
        REJECTED: (RecipientState.FAILED, 1, {FailureClass.PERMANENT}),
        VOICE: (RecipientState.FAILED, 2, {FailureClass.NO_FAX}),
        # Congestion counts no dial: it is retried every minute until the 3 h kill time.
        CONGESTION: (RecipientState.FAILED, 180, {FailureClass.CONGESTION}),
    }
    for national, (state, calls, failures) in expected.items():
        recipient = by_number[e164(national)]
        assert recipient.state is state, (national, recipient.reason)
        assert recipient.calls == len(recipient.attempts) == calls, national
        assert {a.failure for a in recipient.attempts} == failures, national
    noisy = by_number[e164(NOISY)].attempts[0]
    assert noisy.bit_rate is not None
    assert noisy.bit_rate < 14400
    dropped = by_number[e164(DROPPED)].attempts
    assert [a.pages_confirmed for a in dropped] == [1, 2, 3]
    assert "kill time" in (by_number[e164(CONGESTION)].reason or "")
    assert "not a fax machine" in (by_number[e164(VOICE)].reason or "")
    healthy = by_number[e164(HEALTHY)].attempts[0]
    assert healthy.delivered
    assert healthy.pages_confirmed == healthy.pages_total == 3
    assert healthy.received_sha256 is not None
    assert healthy.remote_ident == e164(HEALTHY)


def test_received_pages_are_what_was_sent(world: World) -> None:
    campaign = world.launch(world.create(HEALTHY))
    world.run(campaign)
    attempt = world.detail(campaign).recipients[0].attempts[0]

    received = campaigns.received_fax(world.svc, world.account_id, world.line_id, attempt.id)
    first_page = campaigns.received_page_png(
        world.svc, world.account_id, world.line_id, attempt.id, 1
    )

    assert received.startswith((b"II*\x00", b"MM\x00*"))
    assert first_page.startswith(b"\x89PNG")
    with pytest.raises(NotFoundError):
        campaigns.received_fax(world.svc, world.account_id + 1, world.line_id, attempt.id)


def test_all_good_is_success_and_all_bad_is_error(world: World) -> None:
    good = world.launch(world.create(f"{HEALTHY}; 01 98 76 54 32"))
    bad = world.launch(world.create(f"{UNALLOCATED}, {REJECTED}", name="Mauvais numéros"))

    assert world.run(good).outcome is CampaignOutcome.SUCCESS
    assert world.run(bad).outcome is CampaignOutcome.ERROR


def test_a_scheduled_campaign_starts_at_its_time_and_not_before(world: World) -> None:
    at = START + timedelta(hours=2)
    campaign = world.create(HEALTHY, send_type=SendType.SCHEDULED, send_at=at)
    assert campaign.state is CampaignState.SCHEDULED

    world.clock.set(at - timedelta(seconds=1))
    asyncio.run(world.worker.tick())
    assert world.get(campaign).state is CampaignState.SCHEDULED

    world.clock.set(at)
    final = world.run(campaign)
    assert final.outcome is CampaignOutcome.SUCCESS
    assert final.started_at == at


def test_stop_starts_no_new_call_and_launch_resumes(world: World) -> None:
    accounts_line = accounts.get_line(world.svc, world.account_id, world.line_id)
    accounts.update_line(
        world.svc,
        world.account_id,
        world.line_id,
        settings_with(accounts_line, channel_limit=1),
    )
    campaign = world.launch(world.create("01 11 11 11 11, 01 22 22 22 22, 01 33 33 33 33"))

    async def first_call_then_stop() -> Campaign:
        assert await world.worker.tick() == 1  # the line has one channel
        stopped = campaigns.stop_campaign(world.svc, world.account_id, world.line_id, campaign.id)
        assert stopped.state is CampaignState.STOPPING  # a call is in progress
        await world.worker.idle()
        assert await world.worker.tick() == 0  # stopped: no new call
        return world.get(campaign)

    after_stop = asyncio.run(first_call_then_stop())
    assert after_stop.state is CampaignState.WAITING
    assert (after_stop.count_delivered, after_stop.count_todo) == (1, 2)
    assert attempt_count(world) == 1

    final = world.run(world.launch(after_stop))
    assert final.outcome is CampaignOutcome.SUCCESS
    assert attempt_count(world) == 3


def test_stop_a_scheduled_campaign_then_launch_it_by_hand(world: World) -> None:
    campaign = world.create(
        HEALTHY, send_type=SendType.SCHEDULED, send_at=START + timedelta(days=1)
    )

    stopped = campaigns.stop_campaign(world.svc, world.account_id, world.line_id, campaign.id)

    assert stopped.state is CampaignState.WAITING
    world.clock.advance(timedelta(days=2))
    asyncio.run(world.worker.tick())
    assert world.get(campaign).state is CampaignState.WAITING  # no longer starts by itself
    assert world.run(world.launch(campaign)).outcome is CampaignOutcome.SUCCESS


def test_delete_is_refused_while_running_and_removes_a_finished_campaign(world: World) -> None:
    campaign = world.launch(world.create(HEALTHY))

    with pytest.raises(ConflictError, match="running"):
        campaigns.delete_campaign(world.svc, world.account_id, world.line_id, campaign.id)
    with pytest.raises(ConflictError, match="launch"):
        world.launch(campaign)
    world.run(campaign)
    with pytest.raises(ConflictError, match="stop"):
        campaigns.stop_campaign(world.svc, world.account_id, world.line_id, campaign.id)

    campaigns.delete_campaign(world.svc, world.account_id, world.line_id, campaign.id)

    with pytest.raises(NotFoundError):
        world.get(campaign)
    assert attempt_count(world) == 0


def test_another_accounts_campaign_is_not_found(world: World) -> None:
    campaign = world.create(HEALTHY)
    other = accounts.create_account(world.svc, name="Other")
    other_line = accounts.list_lines(world.svc, other.id)[0]

    with pytest.raises(NotFoundError):
        campaigns.get_campaign(world.svc, other.id, other_line.id, campaign.id)
    with pytest.raises(NotFoundError):
        campaigns.launch_campaign(world.svc, other.id, world.line_id, campaign.id)
    assert world.get(campaign).state is CampaignState.WAITING


def attempt_count(world: World) -> int:
    with world.svc.transaction() as conn:
        count: int = conn.execute(select(func.count()).select_from(attempts)).scalar_one()
    return count


def settings_with(line: Line, **changes: object) -> LineSettings:
    base = LineSettings(
        line.name, line.kind, line.country, line.ident, line.header, line.channel_limit
    )
    return replace(base, **changes)  # type: ignore[arg-type]
