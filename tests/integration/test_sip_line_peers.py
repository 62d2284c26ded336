"""The `sip` line driver against peers nobody here wrote: Kamailio with digest, and SIPp.

Kamailio (Debian `kamailio`) demands digest authentication and forwards to the phone network,
which receives a real fax. Each SIPp scenario (tests/peers/sipp/) plays one way a call can
go; the driver's result must carry the right failure class, and no call may be left up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from faxcast.documents import read_tiff_f
from faxcast.domain.outcome import FailureClass
from faxcast.domain.sip_line import Password, T38Mode
from faxcast.lines.base import CallResult
from tests.faxpages import assert_identical
from tests.integration.sip_line_support import (
    FAST_TIMERS,
    HEALTHY,
    document,
    opened,
    phone_network,
    received_by,
    sip_line,
)
from tests.peers.kamailio import kamailio_proxy
from tests.peers.sipp import SippResult, sipp_peer

SIPP_USER, SIPP_PASSWORD = "faxcast", "sipp-secret"


def _call(tmp_path: Path, address: tuple[str, int], **settings: Any) -> CallResult:
    """One send from a line whose trunk is `address`, bounded in time."""
    doc = document(tmp_path)

    async def scenario() -> CallResult:
        async with asyncio.timeout(60), opened(sip_line(address, **settings), FAST_TIMERS) as line:
            return await line.send(doc.job(HEALTHY))

    return asyncio.run(scenario())


def _sipp_call(
    tmp_path: Path, scenario: str, **settings: Any
) -> tuple[CallResult, SippResult | None]:
    options: dict[str, Any] = {}
    if scenario == "auth_then_answer":
        options["keys"] = {"user": SIPP_USER, "password": SIPP_PASSWORD}
    if scenario == "bye_mid_call":
        options["pause_ms"] = 4000
    with sipp_peer(scenario, tmp_path / "sipp", **options) as peer:
        result = _call(tmp_path, peer.address, **settings)
        # The malformed peer waits for a CANCEL that a call without a provisional never sends.
        return result, None if scenario == "malformed" else peer.finish(timeout_s=10.0)


@pytest.mark.parametrize(
    ("scenario", "status", "failure"),
    [
        ("busy", 486, FailureClass.BUSY),
        ("not_found", 404, FailureClass.PERMANENT),
        ("unavailable", 503, FailureClass.CONGESTION),
    ],
)
def test_sipp_refusals_end_in_their_failure_class(
    tmp_path: Path, scenario: str, status: int, failure: FailureClass
) -> None:
    result, sipp = _sipp_call(tmp_path, scenario)

    assert (result.sip_status, result.failure) == (status, failure)
    assert result.answered_at is None
    assert sipp is not None
    assert sipp.succeeded, sipp.messages  # our ACK of the refusal came


def test_sipp_ringing_until_our_ring_timeout_is_cancelled_as_no_answer(tmp_path: Path) -> None:
    result, sipp = _sipp_call(tmp_path, "ring_then_cancel", ring_timeout_s=5)

    assert result.failure is FailureClass.NO_ANSWER
    assert result.answered_at is None
    assert sipp is not None
    assert sipp.succeeded, sipp.messages  # CANCEL, 487, ACK: nothing left ringing


def test_sipp_digest_then_answer_without_fax_tones_ends_as_no_fax(tmp_path: Path) -> None:
    result, sipp = _sipp_call(
        tmp_path, "auth_then_answer", username=SIPP_USER, password=Password(SIPP_PASSWORD)
    )

    assert result.sip_status == 200
    assert result.answered_at is not None
    # SIPp sends no audio: the fax session hears nothing and the call is hung up.
    assert result.failure is FailureClass.NO_FAX, result.reason
    assert sipp is not None
    assert sipp.succeeded, sipp.messages  # the authenticated INVITE, then our BYE


def test_sipp_bye_in_the_middle_ends_the_fax_as_the_engine_says(tmp_path: Path) -> None:
    result, sipp = _sipp_call(tmp_path, "bye_mid_call")

    assert result.answered_at is not None
    assert result.fax is not None
    assert not result.delivered
    assert result.failure is FailureClass.NO_FAX, result.reason
    assert "far end hung up" in result.reason
    assert "no media" in result.reason
    assert sipp is not None
    assert sipp.succeeded, sipp.messages  # its BYE was answered 200


def test_sipp_refusing_our_t38_offer_leaves_the_call_on_g711(tmp_path: Path) -> None:
    result, sipp = _sipp_call(tmp_path, "t38_refused", t38=T38Mode.OFFER, t38_offer_after_s=1)

    assert result.answered_at is not None
    assert result.fax is not None
    assert not result.fax.t38
    assert sipp is not None
    assert sipp.succeeded, sipp.messages  # the m=image re-INVITE, the 488's ACK, our BYE


def test_sipp_malformed_answer_is_not_taken_for_an_answer(tmp_path: Path) -> None:
    result, _ = _sipp_call(tmp_path, "malformed")

    # The broken 200 is dropped and nothing provisional came: timer B ends the INVITE.
    assert result.answered_at is None
    assert (result.sip_status, result.failure) == (None, FailureClass.CONGESTION)


@pytest.mark.slow
def test_a_line_registered_with_kamailio_faxes_through_it_with_digest(tmp_path: Path) -> None:
    doc = document(tmp_path)

    async def scenario() -> tuple[CallResult, Path | None]:
        async with phone_network(tmp_path / "net", offer_t38=True) as network:
            with kamailio_proxy(tmp_path / "kamailio", target=network.address) as proxy:
                line = sip_line(
                    proxy.address,
                    username=proxy.username,
                    password=Password(proxy.password),
                    register=True,
                )
                async with opened(line) as driver:
                    registration = driver.registration
                    assert registration is not None
                    assert registration.ok, registration  # digest accepted, binding kept
                    result = await driver.send(doc.job(HEALTHY))
                (received,) = await received_by(network, 1)
                return result, received.path

    result, path = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert result.delivered, result.reason
    assert result.fax is not None
    assert result.fax.t38  # the network's re-INVITE went through the proxy too
    assert path is not None
    assert_identical(doc.sent, read_tiff_f(path.read_bytes()))
