"""The worker opens each line's driver once for all its calls and closes it when it stops.

Real worker, real database, real sandbox drivers (bootstrap.line_drivers); each driver is only
wrapped to write down when it is opened, called and closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import pytest

from faxcast.bootstrap import line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.domain.campaign import CampaignState, SendType
from faxcast.domain.models import Line, LineKind, LineSettings
from faxcast.domain.quality import Quality
from faxcast.lines.base import CallResult, FaxJob, FaxLine
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests import pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
Log = list[tuple[str, Line]]


class Counted(FaxLine):
    """A real driver, its opening, calls and closing written down in `log`."""

    def __init__(self, real: FaxLine, line: Line, log: Log) -> None:
        self.real = real
        self.line = line
        self.log = log

    async def __aenter__(self) -> Self:
        await self.real.__aenter__()
        self.log.append(("open", self.line))
        return self

    async def send(self, job: FaxJob) -> CallResult:
        result = await self.real.send(job)
        self.log.append(("call", self.line))
        return result

    async def aclose(self) -> None:
        await self.real.aclose()
        self.log.append(("close", self.line))


@dataclasses.dataclass
class Site:
    """An account whose line has a 2-channel limit, a one-page letter and a worker to run."""

    svc: Services
    account_id: int
    pdf_id: int
    log: Log
    worker: Worker

    def launch(self, line: Line, numbers: list[str]) -> int:
        """A manual campaign to `numbers` from `line`, launched; its id."""
        new = NewCampaign(
            "Relance", self.pdf_id, Quality.HIGH, SendType.MANUAL, None, ",".join(numbers)
        )
        created = campaigns.create_campaign(self.svc, self.account_id, line.id, new)
        return campaigns.launch_campaign(self.svc, self.account_id, line.id, created.id).id

    async def delivered(self, line: Line, campaign_id: int) -> int:
        """Once the running worker has finished the campaign: how many faxes it delivered."""
        for _ in range(1200):
            current = campaigns.get_campaign(self.svc, self.account_id, line.id, campaign_id)
            if current.state is CampaignState.FINISHED:
                return current.count_delivered
            await asyncio.sleep(0.05)
        raise AssertionError(f"campaign {campaign_id} still {current.state.value}")

    def entries(self, what: str) -> list[Line]:
        return [line for kind, line in self.log if kind == what]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    engine = create_engine_for(database_url)
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, channel_limit=2, worker_poll_s=0.02
    )
    svc = Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    account = accounts.create_account(svc, name="ACME Paris")
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    real = line_drivers(svc)
    log: Log = []

    def counted(line: Line) -> FaxLine:
        return Counted(real(line), line, log)

    worker = Worker(svc, counted, cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    yield Site(svc, account.id, pdf.id, log, worker)
    engine.dispose()


def _numbers(first: int, count: int) -> list[str]:
    return [f"01 23 45 67 {n:02d}" for n in range(first, first + count)]


def test_each_line_is_opened_once_for_all_its_calls_and_closed_when_the_worker_stops(
    site: Site,
) -> None:
    paris = accounts.list_lines(site.svc, site.account_id)[0]
    lyon = accounts.create_line(
        site.svc, site.account_id, LineSettings("Lyon", LineKind.SANDBOX, "FR", "", "", 2)
    )

    async def scenario() -> list[int]:
        stop = asyncio.Event()
        running = asyncio.create_task(site.worker.run(stop))
        try:
            launched = [
                (paris, site.launch(paris, _numbers(10, 5))),
                (lyon, site.launch(lyon, _numbers(20, 3))),
            ]
            return [await site.delivered(line, campaign_id) for line, campaign_id in launched]
        finally:
            stop.set()
            await running

    # A sandbox driver places calls only while it is open.
    assert asyncio.run(scenario()) == [5, 3]
    assert sorted(site.entries("open"), key=lambda line: line.id) == [paris, lyon]
    assert site.entries("call").count(paris) == 5
    assert site.entries("call").count(lyon) == 3
    assert sorted(site.entries("close"), key=lambda line: line.id) == [paris, lyon]
    for line in (paris, lyon):  # closed after its last call
        assert site.log.index(("close", line)) > max(
            i for i, entry in enumerate(site.log) if entry == ("call", line)
        )


def test_a_line_set_again_gets_a_new_driver_and_the_old_one_is_closed(site: Site) -> None:
    before = accounts.list_lines(site.svc, site.account_id)[0]

    async def scenario() -> Line:
        stop = asyncio.Event()
        running = asyncio.create_task(site.worker.run(stop))
        try:
            assert await site.delivered(before, site.launch(before, _numbers(10, 3))) == 3
            after = accounts.update_line(
                site.svc,
                site.account_id,
                before.id,
                LineSettings("Sandbox", LineKind.SANDBOX, "FR", "+33 1 23 45 67 89", "ACME", 2),
            )
            assert await site.delivered(after, site.launch(after, _numbers(20, 3))) == 3
            return after
        finally:
            stop.set()
            await running

    after = asyncio.run(scenario())

    assert before != after
    assert site.entries("open") == [before, after]
    assert site.entries("close") == [before, after]
    assert site.entries("call") == [before] * 3 + [after] * 3
    # The old driver closed between its last call and the new driver's first one.
    calls = [i for i, entry in enumerate(site.log) if entry[0] == "call"]
    assert calls[2] < site.log.index(("close", before)) < calls[3]
    assert site.log[-1] == ("close", after)
