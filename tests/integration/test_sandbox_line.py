"""The sandbox network: real T.30 calls to its simulated machines, one per documented number.

Calls go through a SandboxLine, the driver the worker opens for a sandbox line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from faxcast.clock import ManualClock, SystemClock
from faxcast.documents import FaxDocument, read_tiff_f, render_pdf, write_tiff_f
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.station import StationIdentity
from faxcast.errors import ConflictError
from faxcast.fax.engine import Outgoing
from faxcast.fax.result import T30Code
from faxcast.lines.base import CallResult, FaxJob
from faxcast.lines.sandbox import SandboxLine, SandboxNetwork
from faxcast.lines.sandbox.network import POST_DIAL_S
from faxcast.lines.testnumbers import (
    SANDBOX_NUMBERS,
    Behaviour,
    SandboxNumber,
    behaviour_of,
    sandbox_number,
)
from faxcast.sip.status import sip_failure
from tests import pdfs
from tests.faxpages import assert_identical

SENDER = StationIdentity("+33 1 23 45 67 89", "ACME Paris")
HEALTHY = "+33123456789"
START = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Sent:
    """A rendered document and the validated file the line sends."""

    outgoing: Outgoing
    document: FaxDocument


def _render(directory: Path, pdf: bytes, quality: Quality) -> Sent:
    document = render_pdf(pdf, quality.profile.resolution)
    path = directory / f"{quality.value}-{len(document.pages)}.tif"
    path.write_bytes(write_tiff_f(document))
    return Sent(Outgoing.from_file(path), document)


@pytest.fixture(scope="module")
def three_pages(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    return _render(tmp_path_factory.mktemp("sent"), pdfs.text_pdf(pages=3), Quality.HIGH)


@pytest.fixture(scope="module")
def one_page(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    return _render(tmp_path_factory.mktemp("sent"), pdfs.text_pdf(), Quality.NORMAL)


def _job(number: str, sent: Sent, quality: Quality = Quality.HIGH, *, t38: bool = False) -> FaxJob:
    return FaxJob(number, sent.outgoing, quality.profile, SENDER, t38_allowed=t38)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _call(network: SandboxNetwork, job: FaxJob) -> CallResult:
    async with SandboxLine(network) as line:
        return await line.send(job)


def _send(job: FaxJob, network: SandboxNetwork | None = None) -> CallResult:
    return _run(_call(network or SandboxNetwork(ManualClock(START)), job))


def _number(entry: SandboxNumber, country: str = "+33 1 23 45") -> str:
    return f"{country} {entry.suffix}".replace(" ", "")


def _entry(behaviour: Behaviour) -> SandboxNumber:
    return next(entry for entry in SANDBOX_NUMBERS if entry.behaviour is behaviour)


# --- the table ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", SANDBOX_NUMBERS, ids=[e.name for e in SANDBOX_NUMBERS])
def test_each_test_number_ends_as_documented(entry: SandboxNumber, three_pages: Sent) -> None:
    result = _send(_job(_number(entry), three_pages))

    assert result.sip_status == entry.sip_status
    assert result.failure is entry.failure, result.reason
    assert result.ended_at == START
    if entry.sip_status == 200:
        assert result.answered_at == START
        assert result.fax is not None
    else:
        assert result.answered_at is None
        assert result.fax is None
        assert result.received_tiff is None
        assert f"(SIP {entry.sip_status} " in result.reason


def test_suffixes_are_distinct_four_digits() -> None:
    suffixes = [entry.suffix for entry in SANDBOX_NUMBERS]
    assert len(set(suffixes)) == len(suffixes)
    assert all(len(suffix) == 4 and suffix.isdigit() for suffix in suffixes)


@given(
    country=st.sampled_from(["+1", "+33", "+44", "+49", "+81", "+352", "+61"]),
    middle=st.text("0123456789", min_size=2, max_size=9),
    entry=st.sampled_from(SANDBOX_NUMBERS),
)
def test_the_last_four_digits_choose_in_every_country(
    country: str, middle: str, entry: SandboxNumber
) -> None:
    assert behaviour_of(f"{country}{middle}{entry.suffix}") is entry.behaviour
    assert sandbox_number(f"{country}{middle}{entry.suffix}") == entry


@given(st.text("0123456789", min_size=6, max_size=15))
def test_other_numbers_reach_a_healthy_machine(digits: str) -> None:
    assume(digits[-4:] not in {entry.suffix for entry in SANDBOX_NUMBERS})

    assert behaviour_of(f"+{digits}") is Behaviour.HEALTHY


@pytest.mark.parametrize(
    ("status", "failure", "meaning"),
    [
        (486, FailureClass.BUSY, "busy"),
        (600, FailureClass.BUSY, "busy"),
        (480, FailureClass.NO_ANSWER, "no answer"),
        (408, FailureClass.NO_ANSWER, "no answer"),
        (503, FailureClass.CONGESTION, "congestion"),
        (404, FailureClass.PERMANENT, "number does not exist"),
        (484, FailureClass.PERMANENT, "number does not exist"),
        (403, FailureClass.PERMANENT, "rejected"),
        (603, FailureClass.PERMANENT, "rejected"),
        (401, FailureClass.CONGESTION, "credentials refused by the trunk"),
        (407, FailureClass.CONGESTION, "credentials refused by the trunk"),
    ],
)
def test_sip_statuses_map_to_the_retry_policy(
    status: int, failure: FailureClass, meaning: str
) -> None:
    assert sip_failure(status).failure is failure
    assert sip_failure(status).reason.startswith(f"{meaning} (SIP {status} ")


def test_busy_reason_names_the_sip_response(one_page: Sent) -> None:
    result = _send(_job("+12125550486", one_page))

    assert result.reason == "busy (SIP 486 Busy Here)"


# --- healthy machines -----------------------------------------------------------------------


@pytest.mark.parametrize("t38", [False, True], ids=["audio", "t38"])
def test_a_healthy_machine_receives_every_page_intact(three_pages: Sent, t38: bool) -> None:
    result = _send(_job(HEALTHY, three_pages, t38=t38))

    assert result.delivered, result.reason
    assert result.sip_status == 200
    assert result.failure is None
    assert result.reason == "delivered"
    assert result.fax is not None
    assert result.fax.t38 is t38
    assert result.fax.pages_confirmed == result.fax.pages_total == 3
    assert result.fax.bit_rate == 14400
    assert result.fax.remote_ident == HEALTHY
    assert 30 < result.fax.duration_s < 200  # real line time, though it took a moment
    assert result.received_tiff is not None
    received = read_tiff_f(result.received_tiff)
    assert_identical(three_pages.document, received)


def test_a_standard_resolution_fax_arrives_identical(one_page: Sent) -> None:
    result = _send(_job("+4930123456", one_page, Quality.NORMAL))

    assert result.delivered, result.reason
    assert result.received_tiff is not None
    received = read_tiff_f(result.received_tiff)
    assert_identical(one_page.document, received)


def test_the_machines_can_answer_with_a_set_station_ident(one_page: Sent) -> None:
    network = SandboxNetwork(ManualClock(START), station=StationIdentity("SANDBOX"))

    result = _send(_job(HEALTHY, one_page, t38=True), network)

    assert result.fax is not None
    assert result.fax.remote_ident == "SANDBOX"


# --- the failing machines -------------------------------------------------------------------


@pytest.mark.parametrize("t38", [False, True], ids=["audio", "t38-offered"])
def test_a_voice_answer_is_no_fax_after_t0(one_page: Sent, t38: bool) -> None:
    result = _send(_job(_number(_entry(Behaviour.VOICE)), one_page, t38=t38))

    assert result.failure is FailureClass.NO_FAX
    assert result.fax is not None
    assert result.fax.code is T30Code.T0_EXPIRED
    assert not result.fax.t38  # nobody switches a voice call to T.38
    assert 55 < result.fax.duration_s < 70
    assert result.received_tiff is None


@pytest.mark.parametrize("t38", [False, True], ids=["audio", "t38"])
def test_a_call_dropped_during_page_two_keeps_page_one(three_pages: Sent, t38: bool) -> None:
    result = _send(_job(_number(_entry(Behaviour.DROPPED)), three_pages, t38=t38))

    assert result.failure is FailureClass.TRANSFER_FAILED
    assert result.fax is not None
    assert result.fax.retryable
    assert result.fax.code is T30Code.CALLDROPPED
    assert result.fax.pages_confirmed == 1
    assert result.fax.pages_total == 3
    assert result.received_tiff is not None
    first = dataclasses.replace(three_pages.document, pages=three_pages.document.pages[:1])
    assert_identical(first, read_tiff_f(result.received_tiff))


def test_the_dropping_machine_lets_a_last_page_resend_through(three_pages: Sent) -> None:
    rest = Outgoing.from_file(three_pages.outgoing.path, start_page=2)
    job = dataclasses.replace(_job(_number(_entry(Behaviour.DROPPED)), three_pages), document=rest)

    result = _send(job)

    assert result.delivered, result.reason
    assert result.fax is not None
    assert result.fax.pages_confirmed == 3


@pytest.mark.parametrize("t38", [False, True], ids=["audio", "t38-offered"])
def test_a_noisy_line_fails_training_at_14400_and_delivers_slower(
    three_pages: Sent, t38: bool
) -> None:
    result = _send(_job(_number(_entry(Behaviour.NOISY_LINE)), three_pages, t38=t38))

    assert result.delivered, result.reason
    assert result.fax is not None
    assert not result.fax.t38  # its gateway declines T.38: the jitter is on real audio
    assert result.fax.bit_rate < 14400
    assert result.received_tiff is not None
    received = read_tiff_f(result.received_tiff)
    assert_identical(three_pages.document, received)


# --- many calls, and real time --------------------------------------------------------------


def test_calls_of_two_lines_run_concurrently_on_one_network(three_pages: Sent) -> None:
    network = SandboxNetwork(ManualClock(START))
    jobs = [
        _job(HEALTHY, three_pages),
        _job("+12125550100", three_pages, t38=True),
        _job(_number(_entry(Behaviour.DROPPED)), three_pages, t38=True),
        _job(_number(_entry(Behaviour.NOISY_LINE)), three_pages),
    ]

    async def all_calls() -> list[CallResult]:
        async with SandboxLine(network) as first, SandboxLine(network) as second:
            lines = [first, second, first, second]
            calls = (line.send(job) for line, job in zip(lines, jobs, strict=True))
            return list(await asyncio.gather(*calls))

    results = _run(all_calls())

    assert [result.failure for result in results] == [
        None,
        None,
        FailureClass.TRANSFER_FAILED,
        None,
    ]


def test_realtime_refusals_take_the_post_dial_delay(one_page: Sent) -> None:
    network = SandboxNetwork(SystemClock(), realtime=True)
    began = time.monotonic()

    result = _send(_job(_number(_entry(Behaviour.BUSY)), one_page), network)

    elapsed = time.monotonic() - began
    assert result.failure is FailureClass.BUSY
    assert POST_DIAL_S * 0.9 < elapsed < POST_DIAL_S + 1.0
    assert timedelta(seconds=POST_DIAL_S * 0.9) < result.ended_at - result.started_at


def test_realtime_calls_are_paced_and_cancel_cleanly(
    one_page: Sent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    job = _job(HEALTHY, one_page, t38=True)
    began = time.monotonic()
    fast = _send(job)
    fast_s = time.monotonic() - began
    assert fast.delivered
    assert fast_s < 1.5  # the same call, unpaced

    network = SandboxNetwork(SystemClock(), realtime=True)
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        _run(asyncio.wait_for(_call(network, job), timeout=2.0))

    assert time.monotonic() - began < 3.0
    assert list(tmp_path.iterdir()) == []  # the worker stopped and the files are gone


def test_a_fast_call_cancelled_mid_exchange_cleans_up(
    three_pages: Sent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    job = _job(_number(_entry(Behaviour.NOISY_LINE)), three_pages)

    with pytest.raises(TimeoutError):
        _run(asyncio.wait_for(_call(SandboxNetwork(ManualClock(START)), job), timeout=0.1))

    assert list(tmp_path.iterdir()) == []


# --- a line's driver: opened once, calls only while open -----------------------------------


def test_a_sandbox_line_places_calls_only_while_it_is_open(one_page: Sent) -> None:
    line = SandboxLine(SandboxNetwork(ManualClock(START)))
    job = _job(HEALTHY, one_page, t38=True)

    async def before_during_after() -> CallResult:
        with pytest.raises(ConflictError, match="not opened yet"):
            await line.send(job)
        async with line:
            result = await line.send(job)
        with pytest.raises(ConflictError, match="closed"):
            await line.send(job)
        return result

    assert _run(before_during_after()).delivered


def test_a_closed_sandbox_line_cannot_be_opened_again() -> None:
    line = SandboxLine(SandboxNetwork(ManualClock(START)))

    async def twice() -> None:
        async with line:
            pass
        await line.aclose()  # closing again changes nothing
        with pytest.raises(ConflictError, match="open a new one"):
            await line.__aenter__()

    _run(twice())
