"""Our user agent against SIP code nobody here wrote: Kamailio (digest proxy) and SIPp, on loopback.

Kamailio challenges with 407 and Record-Routes, so calls, re-INVITEs and BYEs go through its loose
routing. SIPp calls us, and answers us after checking our digest (tests/peers harnesses).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faxcast.sip.dialog import Call, Ending
from faxcast.sip.digest import Credentials
from faxcast.sip.incoming import IncomingCall
from faxcast.sip.register import AuthCheck, probe
from faxcast.sip.sdp import Origin, SessionDescription, answer_audio, answer_t38, t38_stream
from faxcast.sip.ua import CallFailure, UserAgent
from faxcast.sip.uri import SipUri
from tests.integration.test_sip_calls import (
    FAST,
    PCMA_PCMU,
    Callee,
    answering,
    audio_offer,
    run,
    t38_offer,
)
from tests.peers.kamailio import kamailio_proxy
from tests.peers.sipp import sipp_peer

PASSWORD = "s3cret"
USER = "line1"


def test_a_call_through_kamailio_answers_its_407_follows_its_record_route_and_reinvites(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        callee = Callee()

        async def accept_t38(sdp: SessionDescription) -> SessionDescription | int:
            answered = answer_t38(sdp, Origin("127.0.0.1"), 6002)
            return answered[0] if answered else 488

        caller = await UserAgent.start()
        far = await UserAgent.start(on_invite=answering(callee, on_offer=accept_t38))
        try:
            with kamailio_proxy(
                tmp_path, target=far.address, username=USER, password=PASSWORD
            ) as kamailio:
                target = SipUri(far.address[0], "fax", far.address[1])
                result = await caller.call(
                    target,
                    audio_offer(),
                    proxy=kamailio.address,
                    credentials=Credentials(USER, PASSWORD),
                )
                assert isinstance(result, Call)
                assert [hop.uri.port for hop in result.route] == [kamailio.port]
                assert callee.invites[0].request.cseq.seq == 2  # after the 407, a new CSeq
                outcome = await result.reinvite(t38_offer())
                assert outcome.accepted
                stream = t38_stream(result.remote_sdp)
                assert stream is not None
                assert stream.port == 6002
                await result.hangup()
                end = await asyncio.wait_for(callee.calls[0].wait_ended(), 3)
                assert end.by is Ending.REMOTE
                refused = await caller.call(
                    target,
                    audio_offer(),
                    proxy=kamailio.address,
                    credentials=Credentials(USER, "wrong"),
                )
                assert isinstance(refused, CallFailure)
                assert refused.status == 407
        finally:
            await caller.close()
            await far.close()

    run(scenario(), timeout_s=30)


def test_the_probe_reports_kamailios_verdict_on_the_credentials(tmp_path: Path) -> None:
    async def scenario() -> None:
        ua = await UserAgent.start()
        try:
            with kamailio_proxy(
                tmp_path, target=("127.0.0.1", 9), username=USER, password=PASSWORD
            ) as kamailio:
                aor = SipUri(kamailio.host, USER, kamailio.port)
                # Registrars challenge REGISTER with 401, proxies the rest with 407.
                for register, challenge in ((False, 407), (True, 401)):
                    good = await probe(
                        ua,
                        aor,
                        proxy=kamailio.address,
                        credentials=Credentials(USER, PASSWORD),
                        register=register,
                    )
                    assert (good.reachable, good.auth, good.status) == (
                        True,
                        AuthCheck.ACCEPTED,
                        200,
                    )
                    bad = await probe(
                        ua,
                        aor,
                        proxy=kamailio.address,
                        credentials=Credentials(USER, "no"),
                        register=register,
                    )
                    assert (bad.reachable, bad.auth, bad.status) == (
                        True,
                        AuthCheck.REFUSED,
                        challenge,
                    )
        finally:
            await ua.close()

    run(scenario(), timeout_s=30)


def test_sipp_calls_us_and_hangs_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        ended: list[Call] = []

        async def answer(incoming: IncomingCall) -> None:
            incoming.ring()
            sdp = answer_audio(incoming.offer, Origin("127.0.0.1"), 6000, PCMA_PCMU)
            assert sdp is not None
            ended.append(incoming.answer(sdp))

        ua = await UserAgent.start(on_invite=answer)
        try:
            with sipp_peer(
                "uac_call", tmp_path, remote=ua.address, keys={"number": "fax"}, pause_ms=200
            ) as sipp:
                result = await asyncio.to_thread(sipp.finish)
            assert result.succeeded, result.messages
            end = await asyncio.wait_for(ended[0].wait_ended(), 2)
            assert end.by is Ending.REMOTE
        finally:
            await ua.close()

    run(scenario(), timeout_s=30)


def test_we_call_sipp_with_its_digest_and_hang_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        ua = await UserAgent.start(timers=FAST)  # an INVITE sent before SIPp listens times out fast
        try:
            with sipp_peer(
                "auth_then_answer", tmp_path, keys={"user": USER, "password": PASSWORD}
            ) as sipp:
                result = await ua.call(
                    SipUri(sipp.host, "fax", sipp.port),
                    audio_offer(),
                    credentials=Credentials(USER, PASSWORD),
                )
                assert isinstance(result, Call)
                await result.hangup()
                outcome = await asyncio.to_thread(sipp.finish)
            assert outcome.succeeded, outcome.messages
        finally:
            await ua.close()

    run(scenario(), timeout_s=30)
