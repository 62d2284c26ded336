"""LinePool: one open driver per line and settings, closed once, after the calls it carries."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import pytest

from faxcast.domain.models import Line, LineKind
from faxcast.domain.quality import Quality, Resolution
from faxcast.domain.station import StationIdentity
from faxcast.errors import FaxcastError
from faxcast.fax.engine import Outgoing
from faxcast.i18n import codes
from faxcast.lines.base import CallResult, FaxJob, FaxLine
from faxcast.lines.pool import LinePool

NOW = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
LINE = Line(1, 1, "Paris", LineKind.SANDBOX, "FR", "+33 1 00 00 00 01", "ACME", 4, NOW)
OTHER = dataclasses.replace(LINE, id=2, name="Lyon")
LETTER = Outgoing(Path("letter.tif"), 1, Resolution.FINE, page_bits=(200_000,))


class Recording(FaxLine):
    """Writes down when it is opened, called and closed; a call lasts until it is hung up."""

    def __init__(self, line: Line, drivers: Drivers) -> None:
        self.line = line
        self.drivers = drivers

    async def __aenter__(self) -> Self:
        await asyncio.sleep(0)  # opening takes time: calls arriving meanwhile must wait for it
        self.drivers.log.append(("open", self.line.name))
        return self

    async def send(self, job: FaxJob) -> CallResult:
        self.drivers.log.append(("call", self.line.name))
        await self.drivers.hung_up[job.number].wait()
        return CallResult(NOW, NOW, NOW, 200, None, "delivered", None)

    async def aclose(self) -> None:
        self.drivers.log.append(("close", self.line.name))


class Drivers:
    """Makes Recording drivers that share one log; the first `fail_opens` makings fail."""

    def __init__(self, *, fail_opens: int = 0) -> None:
        self.log: list[tuple[str, str]] = []
        self.hung_up: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.fail_opens = fail_opens

    def __call__(self, line: Line) -> FaxLine:
        if self.fail_opens:
            self.fail_opens -= 1
            raise FaxcastError(codes.LINE_OPEN_FAILED(line=line.id))
        return Recording(line, self)

    def entries(self, what: str) -> list[str]:
        return [name for kind, name in self.log if kind == what]


async def _call(pool: LinePool, line: Line, number: str = "+33123456789") -> FaxLine:
    async with pool.driver(line) as driver:
        await driver.send(FaxJob(number, LETTER, Quality.HIGH.profile, StationIdentity()))
        return driver


def _hang_up_at_once(drivers: Drivers) -> None:
    drivers.hung_up = defaultdict(_hung_up)


def _hung_up() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


async def _settle() -> None:
    """Let every task run until it waits for a hang-up."""
    for _ in range(10):
        await asyncio.sleep(0)


def test_one_driver_is_opened_per_line_for_many_calls_at_once() -> None:
    async def scenario() -> None:
        drivers = Drivers()
        pool = LinePool(drivers)
        numbers = [f"+3312345670{n}" for n in range(8)]
        lines = [LINE] * 5 + [OTHER] * 3
        calls = [
            asyncio.create_task(_call(pool, *args)) for args in zip(lines, numbers, strict=True)
        ]
        await _settle()
        assert sorted(drivers.entries("open")) == ["Lyon", "Paris"]
        assert len(drivers.entries("call")) == 8  # all in progress at once
        for number in numbers:
            drivers.hung_up[number].set()
        used = await asyncio.gather(*calls)
        assert len({id(d) for d in used[:5]}) == len({id(d) for d in used[5:]}) == 1
        _hang_up_at_once(drivers)
        assert await _call(pool, LINE) is used[0]  # later calls find it open too
        assert drivers.entries("close") == []

        await pool.aclose()

        assert sorted(drivers.entries("close")) == ["Lyon", "Paris"]
        assert len(drivers.entries("open")) == 2

    asyncio.run(scenario())


def test_new_settings_get_a_new_driver_and_the_old_closes_after_its_last_call() -> None:
    renamed = dataclasses.replace(LINE, name="Paris 2", ident="+33 1 00 00 00 02")

    async def scenario() -> None:
        drivers = Drivers()
        pool = LinePool(drivers)
        first = asyncio.create_task(_call(pool, LINE, "+33100000001"))
        second = asyncio.create_task(_call(pool, LINE, "+33100000002"))
        await _settle()
        third = asyncio.create_task(_call(pool, renamed, "+33100000003"))
        await _settle()
        assert drivers.entries("open") == ["Paris", "Paris 2"]

        drivers.hung_up["+33100000001"].set()
        await first
        assert drivers.entries("close") == []  # the second call still uses it
        drivers.hung_up["+33100000002"].set()
        old = await second
        assert drivers.entries("close") == ["Paris"]
        drivers.hung_up["+33100000003"].set()
        assert await third is not old

        await pool.aclose()

        assert drivers.entries("close") == ["Paris", "Paris 2"]

    asyncio.run(scenario())


def test_an_idle_driver_closes_as_soon_as_its_line_is_set_again() -> None:
    renamed = dataclasses.replace(LINE, header="ACME Lyon")

    async def scenario() -> None:
        drivers = Drivers()
        _hang_up_at_once(drivers)
        pool = LinePool(drivers)
        await _call(pool, LINE)

        await _call(pool, renamed)

        assert drivers.entries("open") == ["Paris", "Paris"]
        assert drivers.entries("close") == ["Paris"]
        await pool.aclose()
        assert drivers.entries("close") == ["Paris", "Paris"]

    asyncio.run(scenario())


def test_a_driver_that_could_not_open_is_opened_again_at_the_next_call() -> None:
    async def scenario() -> None:
        drivers = Drivers(fail_opens=1)
        _hang_up_at_once(drivers)
        pool = LinePool(drivers)
        with pytest.raises(FaxcastError, match="could not be opened"):
            await _call(pool, LINE)

        await _call(pool, LINE)
        await pool.aclose()

        assert drivers.log == [("open", "Paris"), ("call", "Paris"), ("close", "Paris")]

    asyncio.run(scenario())


def test_a_driver_failing_to_close_is_logged_and_the_others_still_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Recording):
        async def aclose(self) -> None:
            raise FaxcastError(codes.LINE_CLOSE_FAILED(line=self.line.id))

    async def scenario() -> None:
        drivers = Drivers()
        _hang_up_at_once(drivers)
        kinds = {LINE.id: Broken, OTHER.id: Recording}
        pool = LinePool(lambda line: kinds[line.id](line, drivers))
        await _call(pool, LINE)
        await _call(pool, OTHER)

        await pool.aclose()

        assert drivers.entries("close") == ["Lyon"]

    asyncio.run(scenario())
    assert "closing the driver of line 1 failed" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
