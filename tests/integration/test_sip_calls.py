"""Two real user agents on loopback UDP: calls set up, refused, cancelled, re-INVITEd, hung up.

Timers are shrunk (T1 = 20 ms) so retransmission and timeout paths run in well under a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

import pytest

from faxcast.domain.codec import Codec
from faxcast.sip.dialog import Call, Ending
from faxcast.sip.digest import Credentials, DigestVerifier
from faxcast.sip.errors import SipTransportError
from faxcast.sip.incoming import IncomingCall
from faxcast.sip.message import parse_message
from faxcast.sip.sdp import (
    Origin,
    SessionDescription,
    answer_audio,
    answer_t38,
    audio_media,
    audio_stream,
    offer,
    t38_media,
    t38_stream,
)
from faxcast.sip.status import SIP_FAILURES
from faxcast.sip.t38 import T38Params
from faxcast.sip.transaction import Timers
from faxcast.sip.ua import CallFailReason, CallFailure, UserAgent
from faxcast.sip.uri import SipUri

FAST = Timers(
    t1=0.02, t2=0.16, t4=0.2, trying_after=0.01, glare_owner=(0.06, 0.1), glare_other=(0.0, 0.04)
)
PCMA_PCMU = (Codec.PCMA, Codec.PCMU)


T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout_s)

    return asyncio.run(bounded())


def audio_offer(host: str = "127.0.0.1", port: int = 4000) -> SessionDescription:
    return offer(Origin(host), audio_media(port, PCMA_PCMU))


@dataclass
class Callee:
    """The answering side's record of what reached it."""

    invites: list[IncomingCall] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)


def answering(
    callee: Callee,
    *,
    on_offer: Callable[[SessionDescription], Awaitable[SessionDescription | int]] | None = None,
) -> Callable[[IncomingCall], Awaitable[None]]:
    async def handler(incoming: IncomingCall) -> None:
        callee.invites.append(incoming)
        incoming.ring()
        answer = answer_audio(incoming.offer, Origin("127.0.0.1"), 5000, (Codec.PCMU,))
        assert answer is not None
        callee.calls.append(incoming.answer(answer, on_offer=on_offer))
        callee.answered.set()

    return handler


@asynccontextmanager
async def agents(
    handler: Callable[[IncomingCall], Awaitable[None]] | None,
    *,
    host: str = "127.0.0.1",
    **callee_options: Any,
) -> AsyncIterator[tuple[UserAgent, UserAgent]]:
    caller = await UserAgent.start(host, timers=FAST)
    callee = await UserAgent.start(host, timers=FAST, on_invite=handler, **callee_options)
    try:
        yield caller, callee
    finally:
        await caller.close()
        await callee.close()


def target(ua: UserAgent, user: str = "+33123456789") -> SipUri:
    return SipUri(host=ua.address[0], user=user, port=ua.address[1])


async def placed(caller: UserAgent, callee: UserAgent, **options: Any) -> Call:
    result = await caller.call(target(callee), audio_offer(), **options)
    assert isinstance(result, Call), result
    return result


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_call_is_set_up_acknowledged_and_the_callers_bye_ends_it_on_both_sides(
    host: str,
) -> None:
    async def scenario() -> None:
        callee = Callee()
        async with agents(answering(callee), host=host) as (caller_ua, callee_ua):
            result = await caller_ua.call(target(callee_ua), audio_offer(host))
            assert isinstance(result, Call)
            stream = audio_stream(result.remote_sdp)
            assert stream is not None
            assert stream.codecs == (Codec.PCMU,)
            assert stream.port == 5000
            (incoming,) = callee.invites
            assert incoming.target.user == "+33123456789"
            assert caller_ua.calls == (result,)
            await result.hangup()
            assert len(caller_ua.calls) == 0
            end = await asyncio.wait_for(callee.calls[0].wait_ended(), 2)
            assert end.by is Ending.REMOTE
            assert result.ended is not None
            assert result.ended.by is Ending.LOCAL

    run(scenario())


def test_the_callees_bye_reaches_the_caller_at_any_time() -> None:
    async def scenario() -> None:
        callee = Callee()
        async with agents(answering(callee)) as (caller_ua, callee_ua):
            call = await placed(caller_ua, callee_ua)
            await asyncio.wait_for(callee.answered.wait(), 2)
            await callee.calls[0].hangup()
            end = await asyncio.wait_for(call.wait_ended(), 2)
            assert end.by is Ending.REMOTE
            # The dialog is gone: a BYE now gets 481 and changes nothing.
            assert call.ended is end

    run(scenario())


def test_a_407_is_answered_with_digest_and_a_new_cseq_then_the_call_goes_through() -> None:
    async def scenario() -> None:
        callee = Callee()
        verifier = DigestVerifier("faxcast.test", {"alice": "s3cret"}, algorithm="SHA-256")
        async with agents(answering(callee), auth=verifier, auth_as_proxy=True) as (a, b):
            identity = ("P-Asserted-Identity", "<sip:+33100000000@faxcast.test>")
            call = await placed(
                a, b, credentials=Credentials("alice", "s3cret"), headers=(identity,)
            )
            (incoming,) = callee.invites
            assert incoming.request.cseq.seq == 2
            assert incoming.request.headers.get(identity[0]) == identity[1]
            assert "SHA-256" in (incoming.request.headers.get("Proxy-Authorization") or "")
            await call.hangup()

    run(scenario())


def test_a_wrong_password_ends_as_the_407_refusal() -> None:
    async def scenario() -> None:
        callee = Callee()
        verifier = DigestVerifier("faxcast.test", {"alice": "s3cret"})
        async with agents(answering(callee), auth=verifier) as (a, b):
            result = await a.call(
                target(b), audio_offer(), credentials=Credentials("alice", "wrong")
            )
            assert isinstance(result, CallFailure)
            assert (result.reason, result.status) == (CallFailReason.REFUSED, 401)
            assert not callee.invites

    run(scenario())


def test_the_ring_timeout_cancels_the_invite_and_the_callee_learns_it() -> None:
    async def scenario() -> None:
        seen: list[IncomingCall] = []

        async def ring_forever(incoming: IncomingCall) -> None:
            seen.append(incoming)
            incoming.ring()
            await asyncio.wait_for(incoming.cancelled.wait(), 5)

        async with agents(ring_forever) as (a, b):
            progress: list[int] = []
            result = await a.call(
                target(b),
                audio_offer(),
                ring_timeout_s=0.2,
                on_progress=lambda response: progress.append(response.status),
            )
            assert isinstance(result, CallFailure)
            assert (result.reason, result.status) == (CallFailReason.RING_TIMEOUT, 487)
            assert result.failure.failure.value == "no_answer"
            assert 180 in progress
            assert seen[0].cancelled.is_set()

    run(scenario())


@pytest.mark.parametrize("entry", SIP_FAILURES, ids=lambda entry: str(entry.status))
def test_each_final_failure_reaches_the_caller_with_its_failure_class(entry: Any) -> None:
    async def scenario() -> None:
        async def refuse(incoming: IncomingCall) -> None:
            incoming.reject(entry.status)

        async with agents(refuse) as (a, b):
            result = await a.call(target(b), audio_offer())
            assert isinstance(result, CallFailure)
            assert result.reason is CallFailReason.REFUSED
            assert result.status == entry.status
            assert result.failure.failure is entry.failure

    run(scenario())


def test_an_invite_nobody_answers_ends_at_timer_b_as_no_response() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        silent, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        port = silent.get_extra_info("sockname")[1]
        ua = await UserAgent.start(timers=FAST)
        try:
            started = loop.time()
            result = await ua.call(SipUri("127.0.0.1", "1", port), audio_offer())
            assert isinstance(result, CallFailure)
            assert result.reason is CallFailReason.NO_RESPONSE
            assert loop.time() - started == pytest.approx(FAST.timeout, abs=0.5)
        finally:
            await ua.close()
            silent.close()

    run(scenario())


class Relay(asyncio.DatagramProtocol):
    """Forwards requests to `to` (dropping the first `drop`, delaying those starting with
    `hold` by `hold_s`) and responses back to the sender."""

    def __init__(
        self, to: tuple[str, int], *, drop: int = 0, hold: bytes = b"-", hold_s: float = 0
    ):
        self.to = to
        self.drop = drop
        self.hold = hold
        self.hold_s = hold_s
        self.seen: list[bytes] = []
        self.client: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        assert self.transport is not None
        source = (str(addr[0]), int(addr[1]))
        if source == self.to:  # a response, sent back here because of rport
            if self.client is not None:
                self.transport.sendto(data, self.client)
            return
        self.client = source
        self.seen.append(data)
        if len(self.seen) <= self.drop:
            return
        if data.startswith(self.hold):
            asyncio.get_running_loop().call_later(self.hold_s, self.transport.sendto, data, self.to)
        else:
            self.transport.sendto(data, self.to)


@asynccontextmanager
async def relay(
    to: tuple[str, int], **options: Any
) -> AsyncIterator[tuple[Relay, tuple[str, int]]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Relay(to, **options), local_addr=("127.0.0.1", 0)
    )
    try:
        yield protocol, transport.get_extra_info("sockname")[:2]
    finally:
        transport.close()


def test_a_dropped_invite_is_retransmitted_on_timer_a_and_the_call_goes_through() -> None:
    async def scenario() -> None:
        callee = Callee()
        async with agents(answering(callee)) as (a, b), relay(b.address, drop=1) as (seen, via):
            result = await a.call(target(b), audio_offer(), proxy=via)
            assert isinstance(result, Call)
            invites = [parse_message(d) for d in seen.seen if d.startswith(b"INVITE")]
            assert len(invites) >= 2
            assert {m.via.branch for m in invites} == {invites[0].via.branch}
            assert len(callee.invites) == 1  # the retransmission was absorbed
            await result.hangup()

    run(scenario())


def test_a_200_that_crosses_the_cancel_is_acknowledged_then_hung_up() -> None:
    async def scenario() -> None:
        answered: list[Call] = []

        async def answer_late(incoming: IncomingCall) -> None:
            incoming.ring()
            await asyncio.sleep(0.25)  # after the caller's ring timeout, before its CANCEL lands
            sdp = answer_audio(incoming.offer, Origin("127.0.0.1"), 5000, PCMA_PCMU)
            assert sdp is not None
            answered.append(incoming.answer(sdp))

        async with (
            agents(answer_late) as (a, b),
            relay(b.address, hold=b"CANCEL", hold_s=0.4) as (_, via),
        ):
            result = await a.call(target(b), audio_offer(), proxy=via, ring_timeout_s=0.15)
            assert isinstance(result, CallFailure)
            assert (result.reason, result.status) == (CallFailReason.RING_TIMEOUT, 200)
            end = await asyncio.wait_for(answered[0].wait_ended(), 2)
            assert end.by is Ending.REMOTE  # ACKed, then our BYE

    run(scenario())


def t38_offer() -> SessionDescription:
    return offer(Origin("127.0.0.1"), t38_media(4002, T38Params()))


def test_our_reinvite_to_t38_is_accepted_and_both_sides_switch_streams() -> None:
    async def scenario() -> None:
        callee = Callee()
        offers: list[SessionDescription] = []

        async def accept_t38(sdp: SessionDescription) -> SessionDescription | int:
            offers.append(sdp)
            answered = answer_t38(sdp, Origin("127.0.0.1"), 5002)
            return answered[0] if answered else 488

        async with agents(answering(callee, on_offer=accept_t38)) as (a, b):
            call = await placed(a, b)
            outcome = await call.reinvite(t38_offer())
            assert outcome.accepted
            assert outcome.status == 200
            stream = t38_stream(call.remote_sdp)
            assert stream is not None
            assert stream.port == 5002
            assert t38_stream(callee.calls[0].local_sdp) == stream
            assert len(offers) == 1
            await call.hangup()

    run(scenario())


def test_a_reinvite_refused_with_488_leaves_the_call_on_audio() -> None:
    async def scenario() -> None:
        callee = Callee()

        async def refuse(sdp: SessionDescription) -> SessionDescription | int:
            return 488

        async with agents(answering(callee, on_offer=refuse)) as (a, b):
            call = await placed(a, b)
            before = call.remote_sdp
            outcome = await call.reinvite(t38_offer())
            assert not outcome.accepted
            assert outcome.status == 488
            assert call.ended is None
            assert call.remote_sdp is before
            assert audio_stream(call.local_sdp) is not None
            await call.hangup()  # the dialog still works
            end = await asyncio.wait_for(callee.calls[0].wait_ended(), 2)
            assert end.by is Ending.REMOTE

    run(scenario())


def test_simultaneous_reinvites_get_491_and_both_succeed_after_the_random_wait() -> None:
    async def scenario() -> None:
        callee = Callee()
        answered: list[str] = []

        def accepting(side: str) -> Callable[[SessionDescription], Awaitable[SessionDescription]]:
            async def accept(sdp: SessionDescription) -> SessionDescription:
                answered.append(side)
                result = answer_t38(sdp, Origin("127.0.0.1"), 5002)
                assert result is not None
                return result[0]

            return accept

        async with agents(answering(callee, on_offer=accepting("callee"))) as (a, b):
            call = await placed(a, b, on_offer=accepting("caller"))
            far = callee.calls[0]
            ours, theirs = await asyncio.gather(
                call.reinvite(t38_offer(), timeout_s=3), far.reinvite(t38_offer(), timeout_s=3)
            )
            assert ours.accepted
            assert theirs.accepted
            assert sorted(answered) == ["callee", "caller"]
            assert call.ended is None
            assert far.ended is None
            await call.hangup()

    run(scenario())


def test_a_session_refresh_reinvite_is_answered_without_calling_the_offer_handler() -> None:
    async def scenario() -> None:
        callee = Callee()
        offers: list[SessionDescription] = []

        async def record(sdp: SessionDescription) -> SessionDescription | int:
            offers.append(sdp)
            return 488

        async with agents(answering(callee)) as (a, b):
            call = await placed(a, b, on_offer=record)
            far = callee.calls[0]
            ours_before = call.local_sdp
            outcome = await far.reinvite(far.local_sdp)  # same o= version: a refresh
            assert outcome.accepted
            assert outcome.answer == ours_before
            assert offers == []
            assert call.local_sdp is ours_before
            await call.hangup()

    run(scenario())


def test_options_is_answered_200_with_the_methods_allowed() -> None:
    async def scenario() -> None:
        async with agents(None) as (a, b):
            result = await a.request("OPTIONS", target(b))
            assert result.response is not None
            assert result.response.status == 200
            assert "INVITE" in (result.response.headers.get("Allow") or "")
            assert result.round_trip_ms is not None
            assert result.round_trip_ms < 1000

    run(scenario())


def test_a_malformed_datagram_is_dropped_and_the_endpoint_keeps_working() -> None:
    async def scenario() -> None:
        callee = Callee()
        async with agents(answering(callee)) as (a, b):
            loop = asyncio.get_running_loop()
            junk, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=b.address
            )
            junk.sendto(b"INVITE sip:x@y SIP/2.0\r\nVia: nonsense\r\n\r\n")
            junk.sendto(b"\x00\xff" * 40)
            junk.close()
            call = await placed(a, b)
            assert b.transport.dropped == 2
            await call.hangup()

    run(scenario())


def test_a_request_in_an_unknown_dialog_gets_481() -> None:
    async def scenario() -> None:
        async with agents(None) as (a, b):
            result = await a.request("BYE", target(b))  # no To tag: in no dialog
            assert result.response is not None
            assert result.response.status == 481

    run(scenario())


def test_the_receiving_side_offers_t38_and_the_callers_handler_answers_it() -> None:
    async def scenario() -> None:
        callee = Callee()
        offers: list[SessionDescription] = []

        async def accept_t38(sdp: SessionDescription) -> SessionDescription | int:
            offers.append(sdp)
            answered = answer_t38(sdp, Origin("127.0.0.1"), 4002)
            return answered[0] if answered else 488

        async with agents(answering(callee)) as (a, b):
            call = await placed(a, b, on_offer=accept_t38)
            gateway = callee.calls[0]
            outcome = await gateway.reinvite(t38_offer())  # as a receiving gateway does
            assert outcome.accepted
            ours = t38_stream(call.local_sdp)
            assert ours is not None
            assert ours.port == 4002
            assert t38_stream(gateway.remote_sdp) == ours
            assert len(offers) == 1
            await gateway.hangup()
            end = await asyncio.wait_for(call.wait_ended(), 2)
            assert end.by is Ending.REMOTE

    run(scenario())


def test_a_refresh_that_bumps_the_version_of_unchanged_sdp_is_still_a_refresh() -> None:
    async def scenario() -> None:
        callee = Callee()
        offers: list[SessionDescription] = []

        async def record(sdp: SessionDescription) -> SessionDescription | int:
            offers.append(sdp)
            return 488

        async with agents(answering(callee)) as (a, b):
            call = await placed(a, b, on_offer=record)
            far = callee.calls[0]
            bumped = replace(far.local_sdp, origin=far.local_sdp.origin.next())
            outcome = await far.reinvite(bumped)
            assert outcome.accepted
            assert offers == []
            assert call.remote_sdp.origin.version == bumped.origin.version
            await call.hangup()

    run(scenario())


def test_a_caller_that_gives_up_cancels_the_ringing_invite() -> None:
    async def scenario() -> None:
        seen: list[IncomingCall] = []

        async def ring_forever(incoming: IncomingCall) -> None:
            seen.append(incoming)
            incoming.ring()
            await asyncio.wait_for(incoming.cancelled.wait(), 5)

        async with agents(ring_forever) as (a, b):
            placing = asyncio.ensure_future(a.call(target(b), audio_offer()))
            while not seen:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # the 180 is back at the caller
            placing.cancel()
            await asyncio.wait_for(seen[0].cancelled.wait(), 2)
            assert placing.cancelled()

    run(scenario())


def test_an_offer_handler_that_fails_answers_500_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        callee = Callee()

        async def broken(sdp: SessionDescription) -> SessionDescription | int:
            raise RuntimeError("bug in the line driver")

        async with agents(answering(callee, on_offer=broken)) as (a, b):
            call = await placed(a, b)
            outcome = await call.reinvite(t38_offer())
            assert outcome.status == 500
            assert call.ended is None
            await call.hangup()

    run(scenario())
    assert "the offer handler failed" in caplog.text


def test_a_port_in_use_or_an_unknown_host_is_a_transport_error() -> None:
    async def scenario() -> None:
        first = await UserAgent.start()
        try:
            with pytest.raises(SipTransportError) as caught:
                await UserAgent.start(*first.address)
            assert caught.value.message.code == "sip.bind_failed"
            with pytest.raises(SipTransportError):
                await first.call(SipUri("no-such-host.invalid", "fax"), audio_offer())
        finally:
            await first.close()

    run(scenario())


def test_the_answer_in_the_ack_to_an_offerless_reinvite_reaches_the_call() -> None:
    async def scenario() -> None:
        callee = Callee()
        async with agents(answering(callee)) as (a, b):
            call = await placed(a, b)
            told: list[SessionDescription] = []
            call.on_answer = told.append
            far = callee.calls[0]
            # The far end's re-INVITE without SDP: our 200 carries the offer, its ACK the answer.
            request = far._request("INVITE")
            destination = await far.destination()
            response = await far.ua.exchange(request, destination).final_within(2)
            assert response is not None
            assert response.status == 200
            assert SessionDescription.parse(response.body) == call.local_sdp
            moved = answer_audio(call.local_sdp, Origin("127.0.0.1"), 5002, (Codec.PCMU,))
            assert moved is not None
            far.ua.transport.send(
                far._request("ACK", bytes(moved), cseq=request.cseq.seq), destination
            )
            for _ in range(100):  # 1 s at most
                if told:
                    break
                await asyncio.sleep(0.01)
            assert told == [moved]
            assert call.remote_sdp == moved
            await call.hangup()

    run(scenario())
