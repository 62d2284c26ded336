"""The `sip` line driver against the phone network, on loopback, in real time.

Every call is real SIP signalling and a real T.30 exchange over RTP or UDPTL between the
driver (the calling side) and a phone network fax machine (the answering side of the same
layer); received pages are compared with the sent ones pixel by pixel. The deliveries go
through Kamailio, which demands digest and stays in the route of every in-dialog request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from faxcast.clock import SystemClock
from faxcast.documents import read_tiff_f
from faxcast.documents.header import HeaderLine, band, band_rows
from faxcast.documents.model import ROW_BYTES
from faxcast.domain.codec import Codec
from faxcast.domain.outcome import FailureClass
from faxcast.domain.sip_line import Password, T38Mode
from faxcast.domain.station import StationIdentity
from faxcast.lines.base import CallResult
from faxcast.lines.phonenet import PhoneNetwork, ReceivedCall
from faxcast.lines.pool import LinePool
from faxcast.lines.sip.line import SipLine
from faxcast.sip.digest import DigestVerifier
from faxcast.sip.pacing import MediaClock
from tests import pdfs
from tests.faxpages import assert_identical
from tests.integration.sip_line_support import (
    CALL_TIMEOUT_S,
    Document,
    document,
    opened,
    phone_network,
    received_by,
    sip_line,
)
from tests.peers.kamailio import kamailio_proxy


def run(coroutine: Any, timeout_s: float = CALL_TIMEOUT_S) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout_s):
            return await coroutine

    return asyncio.run(bounded())


def _received(network: PhoneNetwork, number: str) -> ReceivedCall:
    return next(call for call in network.received if call.number == number)


def _assert_delivered(result: CallResult, doc: Document, received: ReceivedCall) -> None:
    assert result.delivered, result.reason
    assert result.sip_status == 200
    assert result.fax is not None
    assert result.fax.pages_confirmed == 1
    assert received.path is not None
    assert_identical(doc.sent, read_tiff_f(received.path.read_bytes()))


@pytest.mark.slow
def test_a_page_arrives_identical_through_kamailio_over_pcma_pcmu_t38_and_our_own_offer(
    tmp_path: Path,
) -> None:
    doc = document(tmp_path)
    numbers = {
        "pcma": "+33100000001",
        "pcmu": "+33100000002",
        "their_t38": "+33100000003",
        "our_t38": "+33100000004",
        "t38_stepped_down": "+33100000005",
    }

    async def scenario() -> None:
        async with (
            phone_network(tmp_path / "audio") as audio_net,
            phone_network(tmp_path / "t38", offer_t38=True) as t38_net,
        ):
            # Each network behind its own Kamailio, which demands digest and Record-Routes:
            # re-INVITEs, BYEs and their answers all go through code nobody here wrote.
            with (
                kamailio_proxy(tmp_path / "kamailio-audio", target=audio_net.address) as audio,
                kamailio_proxy(tmp_path / "kamailio-t38", target=t38_net.address) as t38,
            ):
                signed: dict[str, Any] = {
                    "username": audio.username,
                    "password": Password(audio.password),
                }
                async with (
                    opened(
                        sip_line(audio.address, codecs=(Codec.PCMA,), t38=T38Mode.OFF, **signed)
                    ) as pcma,
                    opened(
                        sip_line(audio.address, codecs=(Codec.PCMU, Codec.PCMA), **signed)
                    ) as pcmu,
                    opened(sip_line(t38.address, t38=T38Mode.ACCEPT, **signed)) as accepting,
                    opened(
                        sip_line(audio.address, t38=T38Mode.OFFER, t38_offer_after_s=1, **signed)
                    ) as offering,
                ):
                    results = await asyncio.gather(
                        pcma.send(doc.job(numbers["pcma"])),
                        pcmu.send(doc.job(numbers["pcmu"])),
                        accepting.send(doc.job(numbers["their_t38"])),
                        offering.send(doc.job(numbers["our_t38"])),
                        # After a T.38 transfer failure the step-down forbids it: the
                        # re-INVITE is refused.
                        accepting.send(doc.job(numbers["t38_stepped_down"], t38_allowed=False)),
                    )
                    await received_by(audio_net, 3)
                    await received_by(t38_net, 2)
        by_name = dict(zip(numbers, results, strict=True))
        for name, result in by_name.items():
            network = t38_net if name in ("their_t38", "t38_stepped_down") else audio_net
            received = _received(network, numbers[name])
            _assert_delivered(result, doc, received)
            assert result.fax is not None
            assert result.fax.t38 is received.t38 is (name in ("their_t38", "our_t38")), name
        assert _received(audio_net, numbers["pcma"]).codec is Codec.PCMA
        assert _received(audio_net, numbers["pcmu"]).codec is Codec.PCMU

    run(scenario())


def test_each_refusing_test_number_ends_in_its_failure_class(tmp_path: Path) -> None:
    expected = {
        "+33123450486": (486, FailureClass.BUSY),
        "+33123450503": (503, FailureClass.CONGESTION),
        "+33123450404": (404, FailureClass.PERMANENT),
        "+33123450603": (603, FailureClass.PERMANENT),
        # Rings until our ring timeout (5 s): CANCEL, 487, no answer.
        "+33123450408": (487, FailureClass.NO_ANSWER),
    }
    doc = document(tmp_path)

    async def scenario() -> None:
        async with (
            phone_network(tmp_path / "net") as network,
            opened(sip_line(network.address, ring_timeout_s=5)) as line,
        ):
            results = await asyncio.gather(*(line.send(doc.job(n)) for n in expected))
            assert network.ringing == 0  # the CANCEL reached the ringing number
            assert network.received == []
        for (number, (status, failure)), result in zip(expected.items(), results, strict=True):
            assert (result.sip_status, result.failure) == (status, failure), number
            assert result.answered_at is None
            assert result.fax is None
            assert not result.delivered

    run(scenario(), timeout_s=30)


@pytest.mark.slow
def test_voice_dropped_and_noisy_numbers_end_as_the_table_says(tmp_path: Path) -> None:
    one_page = document(tmp_path)
    (tmp_path / "two").mkdir()
    two_pages = document(tmp_path / "two", pdfs.text_pdf(pages=2))

    async def scenario() -> tuple[CallResult, ...]:
        async with (
            phone_network(tmp_path / "net", offer_t38=True) as network,
            opened(sip_line(network.address)) as line,
            # The drop is the network's BYE during page 2, on audio: see the report's T.38 note.
            opened(sip_line(network.address, t38=T38Mode.OFF)) as audio_line,
        ):
            results = await asyncio.gather(
                line.send(one_page.job("+33123450900")),
                audio_line.send(two_pages.job("+33123450222")),
                line.send(one_page.job("+33123450144")),
            )
            await received_by(network, 2)
            noisy = _received(network, "+33123450144")
            assert not noisy.t38  # audio only, though this network offers T.38
            _assert_delivered(results[2], one_page, noisy)
            return tuple(results)

    voice, dropped, noisy = run(scenario(), timeout_s=150)
    assert voice.sip_status == 200
    assert voice.failure is FailureClass.NO_FAX, voice.reason
    assert dropped.failure is FailureClass.TRANSFER_FAILED, dropped.reason
    assert "the far end hung up" in dropped.reason
    assert dropped.fax is not None
    assert dropped.fax.pages_confirmed == 1
    assert noisy.fax is not None
    assert noisy.fax.bit_rate < 14400


def test_a_stopped_send_leaves_nothing_ringing_and_hangs_up_an_answered_call(
    tmp_path: Path,
) -> None:
    doc = document(tmp_path)

    async def scenario() -> None:
        async with (
            phone_network(tmp_path / "net") as network,
            opened(sip_line(network.address, ring_timeout_s=60)) as line,
        ):
            MediaClock.of()  # the loop's clock (and its epoll) exists before the count
            descriptors = len(os.listdir("/proc/self/fd"))
            ringing = asyncio.create_task(line.send(doc.job("+33123450408")))
            faxing = asyncio.create_task(line.send(doc.job("+33123456789")))
            async with asyncio.timeout(5):
                while network.ringing == 0:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(3.0)  # the fax call is answered and in its training
            for task in (ringing, faxing):
                task.cancel()
            results = await asyncio.gather(ringing, faxing, return_exceptions=True)
            assert all(isinstance(r, asyncio.CancelledError) for r in results)
            async with asyncio.timeout(5):
                while network.ringing:  # our CANCEL ends the ringing
                    await asyncio.sleep(0.05)
            (answered,) = await received_by(network, 1, timeout_s=5)  # our BYE ended it
            assert answered.fax is not None
            assert not answered.fax.success
            assert len(os.listdir("/proc/self/fd")) == descriptors  # every media port closed

    run(scenario(), timeout_s=30)


@pytest.mark.slow
def test_eight_calls_at_once_through_kamailio_on_a_line_limited_to_eight(tmp_path: Path) -> None:
    doc = document(tmp_path)
    numbers = [f"+3312345600{n}" for n in range(1, 9)]

    async def scenario() -> None:
        async with phone_network(tmp_path / "net") as network:
            with kamailio_proxy(tmp_path / "kamailio", target=network.address) as proxy:
                line = sip_line(
                    proxy.address,
                    channels=8,
                    username=proxy.username,
                    password=Password(proxy.password),
                )
                pool = LinePool(lambda line: SipLine(line, SystemClock()))

                async def call(number: str) -> CallResult:
                    async with pool.driver(line) as driver:
                        return await driver.send(doc.job(number))

                try:
                    results = await asyncio.gather(*(call(n) for n in numbers))
                finally:
                    await pool.aclose()
                await received_by(network, 8)
            # All eight were up together: each was answered before any ended.
            first_end = min(r.ended_at for r in results)
            assert all(r.answered_at is not None and r.answered_at < first_end for r in results)
            for number, result in zip(numbers, results, strict=True):
                _assert_delivered(result, doc, _received(network, number))

    run(scenario())


@pytest.mark.slow
def test_a_sip_call_draws_the_header_line_into_the_page_before_dialling(tmp_path: Path) -> None:
    doc = document(tmp_path)
    identity = StationIdentity("+33 1 23 45 67 89", "Société Générale — Pôle Santé")
    header = HeaderLine(identity, "Asia/Kolkata", "fr")
    job = dataclasses.replace(doc.job(), identity=identity, header=header)

    async def scenario() -> tuple[CallResult, ReceivedCall]:
        async with phone_network(tmp_path / "net") as network:
            async with opened(sip_line(network.address)) as driver:
                result = await driver.send(job)
            (received,) = await received_by(network, 1)
        return result, received

    result, received = run(scenario())

    assert result.delivered, result.reason
    assert received.path is not None
    (page,) = read_tiff_f(received.path.read_bytes()).pages
    (sent,) = doc.sent.pages
    rows = band_rows(sent.resolution)
    assert page.rows == sent.rows
    assert page.ink[rows * ROW_BYTES :] == sent.ink[rows * ROW_BYTES :]
    # The time the call was placed, in Kolkata, in French.
    expected = band(*header.texts(result.started_at, 1, 1), sent.resolution)
    assert page.ink[: rows * ROW_BYTES] == expected


def test_the_network_asks_callers_to_sign_in_and_the_line_does(tmp_path: Path) -> None:
    doc = document(tmp_path)
    auth = DigestVerifier("phonenet", {"acme": "s3cret"})

    async def scenario() -> None:
        async with phone_network(tmp_path / "net", auth=auth) as network:
            line = sip_line(network.address, username="acme", password=Password("s3cret"))
            async with opened(line) as driver:
                signed_in = await driver.send(doc.job("+33123450486"))
            wrong = sip_line(network.address, username="acme", password=Password("nope"))
            async with opened(wrong) as driver:
                refused = await driver.send(doc.job("+33123450486"))
        assert (signed_in.sip_status, signed_in.failure) == (486, FailureClass.BUSY)
        assert refused.sip_status == 401
        assert refused.failure is FailureClass.CONGESTION  # the line's fault, not the number's

    run(scenario(), timeout_s=20)


def test_a_line_whose_password_cannot_be_opened_calls_nobody_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doc = document(tmp_path)
    auth = DigestVerifier("phonenet", {"acme": "s3cret"})
    unreadable = Password.unreadable("sealed:v1:under-another-key")

    async def scenario() -> None:
        async with phone_network(tmp_path / "net", auth=auth) as network:
            line = sip_line(network.address, username="acme", password=unreadable, register=True)
            async with opened(line) as driver:
                assert driver.registration is None  # not even tried
                result = await driver.send(doc.job("+33123450486"))
            good = sip_line(network.address, username="acme", password=Password("s3cret"))
            async with opened(good) as driver:
                other = await driver.send(doc.job("+33123450486"))
        # The number would have answered busy (486): the call was never placed.
        assert (result.sip_status, result.answered_at) == (None, None)
        assert result.failure is FailureClass.CONGESTION  # retried once it is entered again
        assert "enter the password again" in result.reason
        assert (other.sip_status, other.failure) == (486, FailureClass.BUSY)

    run(scenario(), timeout_s=20)
    assert "does not register" in caplog.text
    assert "Traceback" not in caplog.text
