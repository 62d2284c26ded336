"""A channel freed by a call's end is claimed again at once, not on the worker's next poll.

Real worker and database (SQLite and PostgreSQL), a poll far longer than the test, and a line
whose calls last until the test ends them one by one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.domain.campaign import SendType
from faxcast.domain.quality import Quality
from faxcast.lines.base import CallResult, FaxJob, FaxLine
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.store import sql
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests import calls, pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
POLL_S = 30.0  # the fallback poll: the test ends long before it comes round
CHANNELS = 2
RECLAIM_S = 2.0  # a freed channel is claimed again within this
WAIT_S = 15.0


class SignalledLine(FaxLine):
    """Each call lasts until the test sets its number's event, then delivers."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.started: list[str] = []
        self.ends: dict[str, asyncio.Event] = {}

    async def send(self, job: FaxJob) -> CallResult:
        self.started.append(job.number)
        await self.ends.setdefault(job.number, asyncio.Event()).wait()
        return calls.delivered(1, self.clock.now(), line_s=1.0)

    def end(self, number: str) -> None:
        self.ends.setdefault(number, asyncio.Event()).set()

    async def aclose(self) -> None:
        """Nothing to give back."""


class CountingWorker(Worker):
    """The real Worker, its claim passes counted."""

    ticks = 0

    async def tick(self, *, maintain: bool = True) -> int:
        self.ticks += 1
        return await super().tick(maintain=maintain)


@contextmanager
def counting(engine: Engine, *names: str) -> Iterator[Counter[str]]:
    """How often each of the named queue statements runs while the block does."""
    prefixes = {name: sql.queries(engine.dialect.name)[name].split(":")[0] for name in names}
    runs: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        for name, prefix in prefixes.items():
            if statement.startswith(prefix):
                runs[name] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield runs
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(database_url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        channel_limit=CHANNELS,
        worker_poll_s=POLL_S,
        heartbeat_s=0.1,
    )
    yield Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    engine.dispose()


async def started(line: SignalledLine, count: int) -> float:
    """Wait (bounded) until `count` calls have started; how long that took, in seconds."""
    start = time.monotonic()
    while len(line.started) < count:
        if time.monotonic() - start > WAIT_S:
            raise AssertionError(f"{len(line.started)} calls started, not {count}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def test_a_freed_channel_is_claimed_when_the_call_ends_not_on_the_next_poll(
    services: Services, tmp_path: Path
) -> None:
    with counting(services.engine, "due_campaigns", "abandoned_claims") as runs:
        asyncio.run(_reclaims(services, tmp_path))

    # A pass woken by a call's end only claims: the scheduler and recovery wait for the poll,
    # which the test ends before (the first pass is one).
    assert runs == {"due_campaigns": 1, "abandoned_claims": 1}


async def _reclaims(services: Services, tmp_path: Path) -> None:
    clock = services.clock
    assert isinstance(clock, ManualClock)
    account = accounts.create_account(services, name="ACME Paris")
    line = accounts.list_lines(services, account.id)[0]
    pdf = documents.upload_document(services, account.id, name="a.pdf", data=pdfs.text_pdf())
    numbers = ",".join(f"01 23 45 67 {n:02d}" for n in range(CHANNELS + 2))
    new = NewCampaign("Relance", pdf.id, Quality.HIGH, SendType.MANUAL, None, numbers)
    created = campaigns.create_campaign(services, account.id, line.id, new)
    campaigns.launch_campaign(services, account.id, line.id, created.id)
    fax_line = SignalledLine(clock)
    worker = CountingWorker(services, lambda _: fax_line, cache_dir=tmp_path / "cache")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await started(fax_line, CHANNELS)
        assert len(fax_line.started) == CHANNELS  # the line's channels bound the claims
        for busy in range(CHANNELS, CHANNELS + 2):
            clock.advance(timedelta(seconds=1))
            fax_line.end(fax_line.started[busy - CHANNELS])
            assert await started(fax_line, busy + 1) < RECLAIM_S
        # Nothing is due any more: the last calls' ends wake a pass each at most, then it rests.
        for number in fax_line.started[CHANNELS:]:
            fax_line.end(number)
        await asyncio.sleep(0.5)
        assert worker.ticks <= 1 + len(fax_line.started)
    finally:
        stop.set()
        for number in list(fax_line.started):
            fax_line.end(number)
        await asyncio.wait_for(task, WAIT_S)


class QuickLine(FaxLine):
    """Every call delivers after a few milliseconds: calls end, and wake the worker, all along."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.calls = 0

    async def send(self, job: FaxJob) -> CallResult:
        self.calls += 1
        await asyncio.sleep(0.005)
        return calls.delivered(1, self.clock.now(), line_s=0.005)

    async def aclose(self) -> None:
        """Nothing to give back."""


def test_a_due_campaign_starts_within_a_poll_while_calls_keep_ending(
    database_url: str, tmp_path: Path
) -> None:
    poll_s = 0.2
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        channel_limit=CHANNELS,
        worker_poll_s=poll_s,
        heartbeat_s=0.1,
    )
    engine = create_engine_for(database_url)
    services = Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    try:
        asyncio.run(_starts_on_time(services, tmp_path, poll_s))
    finally:
        engine.dispose()


async def _starts_on_time(services: Services, tmp_path: Path, poll_s: float) -> None:
    clock = services.clock
    assert isinstance(clock, ManualClock)
    account = accounts.create_account(services, name="ACME Paris")
    line = accounts.list_lines(services, account.id)[0]
    pdf = documents.upload_document(services, account.id, name="a.pdf", data=pdfs.text_pdf())
    busy = ",".join(
        f"01 23 {n // 10000:02d} {n // 100 % 100:02d} {n % 100:02d}" for n in range(2000)
    )
    new = NewCampaign("Busy", pdf.id, Quality.HIGH, SendType.MANUAL, None, busy)
    created = campaigns.create_campaign(services, account.id, line.id, new)
    campaigns.launch_campaign(services, account.id, line.id, created.id)
    send_at = NOW + timedelta(minutes=1)
    later = NewCampaign(
        "Later", pdf.id, Quality.HIGH, SendType.SCHEDULED, send_at, "01 99 45 67 89"
    )
    scheduled = campaigns.create_campaign(services, account.id, line.id, later)
    fax_line = QuickLine(clock)
    worker = CountingWorker(services, lambda _: fax_line, cache_dir=tmp_path / "cache")

    def state() -> str:
        campaign = campaigns.get_campaign(services, account.id, line.id, scheduled.id)
        return campaign.state.value

    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        start = time.monotonic()
        while fax_line.calls < 20:  # the worker is woken by call ends, again and again
            assert time.monotonic() - start < WAIT_S, "the busy campaign's calls did not start"
            await asyncio.sleep(0.01)
        clock.set(send_at)
        due, passes, calls_before = time.monotonic(), worker.ticks, fax_line.calls
        while await asyncio.to_thread(state) != "running":
            assert time.monotonic() - due < WAIT_S, "the due campaign never started"
            await asyncio.sleep(0.01)
        waited_s = time.monotonic() - due
        # Calls kept ending and waking passes meanwhile; the scheduler still ran on the poll.
        assert fax_line.calls > calls_before
        assert worker.ticks > passes
        assert waited_s < poll_s + 1.0
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)
