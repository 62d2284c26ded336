"""The dispatcher calls a number no more times than its line allows (the provider's « nombre
de tentatives »), and a change of that setting applies to the calls not yet started.

Real worker, real database, the real sandbox network, whose numbers ending 0486 are busy;
busy numbers are redialled after a second of the manual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faxcast.bootstrap import line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.domain.campaign import CampaignState, SendType
from faxcast.domain.models import Line, LineSettings
from faxcast.domain.recipient import RecipientState
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests import pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BUSY = "01 23 45 04 86"
ROUNDS = 40  # the policy's 12 dials would take 12 rounds; every scenario ends well before


@dataclass
class Site:
    svc: Services
    clock: ManualClock
    account_id: int
    pdf_id: int
    worker: Worker

    def line(self, max_calls: int | None = None) -> Line:
        """The account's sandbox line, its tries per number set to `max_calls`."""
        line = accounts.list_lines(self.svc, self.account_id)[0]
        settings = LineSettings(
            line.name, line.kind, line.country, line.ident, line.header, line.channel_limit
        )
        return accounts.update_line(
            self.svc, self.account_id, line.id, replace(settings, max_calls=max_calls)
        )

    def launch(self, line: Line) -> int:
        new = NewCampaign("Relance", self.pdf_id, None, SendType.MANUAL, None, BUSY)
        created = campaigns.create_campaign(self.svc, self.account_id, line.id, new)
        return campaigns.launch_campaign(self.svc, self.account_id, line.id, created.id).id

    async def round(self) -> int:
        """One pass of the worker, its calls waited for; then a second later (retries due)."""
        started = await self.worker.tick()
        await self.worker.idle()
        self.clock.advance(timedelta(seconds=2))
        return started


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    engine = create_engine_for(database_url)
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, retry_busy_s=1, worker_poll_s=0.02
    )
    clock = ManualClock(NOW)
    svc = Services(engine, DatabaseBlobStore(), clock, settings)
    account = accounts.create_account(svc, name="ACME Paris")
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    yield Site(svc, clock, account.id, pdf.id, worker)
    engine.dispose()


def _finish(site: Site, line: Line, campaign_id: int, *, after_call: int = 0, then: int = 0) -> int:
    """Run the worker until the campaign ends; its line's tries set to `then` once
    `after_call` calls were made (0: never). How many calls it made."""

    async def scenario() -> int:
        calls = 0
        for _ in range(ROUNDS):
            calls += await site.round()
            if calls == after_call:
                site.line(max_calls=then)
            state = campaigns.get_campaign(site.svc, site.account_id, line.id, campaign_id).state
            if state is CampaignState.FINISHED:
                return calls
        raise AssertionError(f"campaign {campaign_id} still running after {ROUNDS} rounds")

    return asyncio.run(scenario())


def test_a_busy_number_is_called_as_many_times_as_its_line_allows(site: Site) -> None:
    line = site.line(max_calls=3)
    campaign_id = site.launch(line)

    assert _finish(site, line, campaign_id) == 3
    detail = campaigns.campaign_detail(site.svc, site.account_id, line.id, campaign_id)
    [recipient] = detail.recipients
    assert recipient.state is RecipientState.FAILED
    assert len(recipient.attempts) == 3
    assert all(a.sip_status == 486 for a in recipient.attempts)
    assert recipient.reason is not None
    assert recipient.reason.startswith("not delivered after 3 calls (the line's limit)")


def test_a_change_while_the_campaign_runs_applies_to_the_calls_not_yet_made(site: Site) -> None:
    line = site.line(max_calls=9)
    campaign_id = site.launch(line)

    # Two calls made under a limit of 9; the limit of 4 then ends it after two more.
    assert _finish(site, line, campaign_id, after_call=2, then=4) == 4
    detail = campaigns.campaign_detail(site.svc, site.account_id, line.id, campaign_id)
    assert detail.recipients[0].state is RecipientState.FAILED


def test_without_a_limit_of_its_own_a_line_follows_the_servers_policy(site: Site) -> None:
    line = site.line()
    assert line.max_calls is None
    campaign_id = site.launch(line)

    assert _finish(site, line, campaign_id) == site.svc.settings.retry_policy.max_dials
