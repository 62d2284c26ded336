"""Retransmission and loss paths, against a bare UDP socket playing the far end by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from faxcast.domain.codec import Codec
from faxcast.sip.dialog import Call, Ending
from faxcast.sip.incoming import IncomingCall
from faxcast.sip.message import SipMessage, SipRequest, SipResponse, parse_message
from faxcast.sip.sdp import Origin, SessionDescription, answer_audio, audio_media, offer
from faxcast.sip.transaction import make_response
from faxcast.sip.ua import UserAgent
from faxcast.sip.uri import NameAddr, SipUri
from tests.integration.test_sip_calls import (
    FAST,
    Callee,
    agents,
    answering,
    audio_offer,
    placed,
    run,
    t38_offer,
    target,
)


class Peer(asyncio.DatagramProtocol):
    """A UDP socket that queues every SIP message it receives."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[SipMessage, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.messages.put_nowait((parse_message(data), (str(addr[0]), int(addr[1]))))

    def send(self, message: SipMessage, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(bytes(message), to)

    async def next(self, kind: str, timeout_s: float = 2.0) -> tuple[SipMessage, tuple[str, int]]:
        """The next message whose method (or CSeq method for responses) is `kind`."""
        while True:
            message, source = await asyncio.wait_for(self.messages.get(), timeout_s)
            name = message.method if isinstance(message, SipRequest) else message.cseq.method
            if name == kind:
                return message, source

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)


@asynccontextmanager
async def peer() -> AsyncIterator[Peer]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    try:
        yield protocol
    finally:
        transport.close()


def sdp_body(port: int) -> bytes:
    return bytes(offer(Origin("127.0.0.1"), audio_media(port, (Codec.PCMA,))))


def test_the_callee_retransmits_its_200_until_acked_and_hangs_up_if_never_acked() -> None:
    async def scenario() -> None:
        answered: list[Call] = []

        async def answer(incoming: IncomingCall) -> None:
            sdp = answer_audio(incoming.offer, Origin("127.0.0.1"), 5000, (Codec.PCMA,))
            assert sdp is not None
            answered.append(incoming.answer(sdp))

        callee = await UserAgent.start(timers=FAST, on_invite=answer)
        async with peer() as far:
            host, port = far.address
            invite = SipRequest(method="INVITE", uri=target(callee))
            invite.headers.add("Via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bKnoack;rport")
            invite.headers.add("From", f"<sip:caller@{host}:{port}>;tag=c1")
            invite.headers.add("To", f"<{target(callee)}>")
            invite.headers.add("Call-ID", "noack@test")
            invite.headers.add("CSeq", "1 INVITE")
            invite.headers.add("Contact", f"<sip:caller@{host}:{port}>")
            invite.headers.add("Content-Type", "application/sdp")
            invite.body = sdp_body(4000)
            far.send(invite, callee.address)
            oks = 0
            while True:  # ends with the BYE, 64*T1 after the 200 (bounded by the queue timeout)
                message, source = await asyncio.wait_for(far.messages.get(), 3)
                if isinstance(message, SipResponse) and message.status == 200:
                    oks += 1
                elif isinstance(message, SipRequest) and message.method == "BYE":
                    break
            assert oks >= 5  # sent at 0, T1, 3*T1, 7*T1, ... until 64*T1
            assert answered[0].ended is not None
            assert answered[0].ended.by is Ending.NO_ACK
            far.send(make_response(message, 200), source)
        await callee.close()

    run(scenario())


def test_the_caller_acks_every_retransmission_of_the_200_with_the_same_ack() -> None:
    async def scenario() -> None:
        caller = await UserAgent.start(timers=FAST)
        async with peer() as far:
            host, port = far.address
            placing = asyncio.ensure_future(
                caller.call(SipUri(host, "fax", port), audio_offer(), ring_timeout_s=5)
            )
            invite, source = await far.next("INVITE")
            assert isinstance(invite, SipRequest)
            ok = make_response(invite, 200, to_tag="t1", body=sdp_body(4000))
            ok.headers.add("Contact", f"<sip:fax@{host}:{port}>")
            ok.headers.add("Content-Type", "application/sdp")
            far.send(ok, source)
            call = await asyncio.wait_for(placing, 2)
            assert isinstance(call, Call)
            first, _ = await far.next("ACK")
            far.send(ok, source)  # as if our first ACK were lost
            second, _ = await far.next("ACK")
            assert bytes(first) == bytes(second)
            assert isinstance(first, SipRequest)
            assert first.cseq.seq == invite.cseq.seq
            assert first.to.tag == "t1"
        await caller.close()

    run(scenario())


def test_a_reinvite_left_unanswered_is_cancelled_and_the_call_goes_on() -> None:
    async def scenario() -> None:
        callee = Callee()
        stopped = asyncio.Event()

        async def never(sdp: SessionDescription) -> SessionDescription | int:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                stopped.set()
                raise
            return 488

        async with agents(answering(callee, on_offer=never)) as (a, b):
            call = await placed(a, b)
            outcome = await call.reinvite(t38_offer(), timeout_s=0.2)
            assert not outcome.accepted
            assert outcome.status == 487
            await asyncio.wait_for(stopped.wait(), 1)
            assert call.ended is None
            assert callee.calls[0].ended is None
            await call.hangup()

    run(scenario())


def test_a_reinvite_to_a_vanished_peer_ends_the_call() -> None:
    async def scenario() -> None:
        callee = Callee()
        caller = await UserAgent.start(timers=FAST)
        far = await UserAgent.start(timers=FAST, on_invite=answering(callee))
        try:
            call = await placed(caller, far)
            await far.close()  # gone without a BYE
            outcome = await call.reinvite(t38_offer(), timeout_s=0.2)
            assert outcome.status is None
            assert not outcome.accepted
            assert call.ended is not None
            assert call.ended.by is Ending.LOST
        finally:
            await caller.close()

    run(scenario())


def test_a_far_end_bye_with_a_reason_is_reported() -> None:
    async def scenario() -> None:
        caller = await UserAgent.start(timers=FAST)
        async with peer() as far:
            host, port = far.address
            placing = asyncio.ensure_future(caller.call(SipUri(host, "fax", port), audio_offer()))
            invite, source = await far.next("INVITE")
            assert isinstance(invite, SipRequest)
            ok = make_response(invite, 200, to_tag="t9", body=sdp_body(4000))
            ok.headers.add("Contact", f"<sip:fax@{host}:{port}>")
            far.send(ok, source)
            call = await asyncio.wait_for(placing, 2)
            assert isinstance(call, Call)
            await far.next("ACK")
            bye = SipRequest(method="BYE", uri=caller.contact())
            bye.headers.add("Via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bKbye1")
            bye.headers.add("From", str(NameAddr(SipUri(host, "fax", port)).with_tag("t9")))
            bye.headers.add("To", str(call.local))
            bye.headers.add("Call-ID", call.call_id)
            bye.headers.add("CSeq", "7 BYE")
            bye.headers.add("Reason", 'Q.850;cause=16;text="Normal call clearing"')
            far.send(bye, caller.address)
            answer, _ = await far.next("BYE")
            assert isinstance(answer, SipResponse)
            assert answer.status == 200
            end = await asyncio.wait_for(call.wait_ended(), 1)
            assert end.by is Ending.REMOTE
            assert "cause=16" in end.reason
        await caller.close()

    run(scenario())


def test_session_timer_updates_are_answered_without_touching_the_session() -> None:
    async def scenario() -> None:
        offers: list[SessionDescription] = []

        async def record(sdp: SessionDescription) -> SessionDescription | int:
            offers.append(sdp)
            return 488

        caller = await UserAgent.start(timers=FAST)
        async with peer() as far:
            host, port = far.address
            placing = asyncio.ensure_future(
                caller.call(SipUri(host, "fax", port), audio_offer(), on_offer=record)
            )
            invite, source = await far.next("INVITE")
            assert isinstance(invite, SipRequest)
            body = sdp_body(4000)
            ok = make_response(invite, 200, to_tag="t5", body=body)
            ok.headers.add("Contact", f"<sip:fax@{host}:{port}>")
            far.send(ok, source)
            call = await asyncio.wait_for(placing, 2)
            assert isinstance(call, Call)
            ours = call.local_sdp
            for seq, payload in ((2, b""), (3, body)):  # RFC 4028 refreshes, with and without SDP
                update = SipRequest(method="UPDATE", uri=caller.contact())
                update.headers.add("Via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bKup{seq}")
                update.headers.add("From", str(NameAddr(SipUri(host, "fax", port)).with_tag("t5")))
                update.headers.add("To", str(call.local))
                update.headers.add("Call-ID", call.call_id)
                update.headers.add("CSeq", f"{seq} UPDATE")
                if payload:
                    update.headers.add("Content-Type", "application/sdp")
                update.body = payload
                far.send(update, caller.address)
                answer, _ = await far.next("UPDATE")
                assert isinstance(answer, SipResponse)
                assert answer.status == 200
                assert answer.body == (bytes(ours) if payload else b"")
            assert offers == []
            assert call.local_sdp is ours
            assert call.ended is None
        await caller.close()

    run(scenario())


def test_a_second_answer_from_a_forked_invite_is_acked_and_hung_up() -> None:
    async def scenario() -> None:
        caller = await UserAgent.start(timers=FAST)
        async with peer() as far:
            host, port = far.address
            placing = asyncio.ensure_future(caller.call(SipUri(host, "fax", port), audio_offer()))
            invite, source = await far.next("INVITE")
            assert isinstance(invite, SipRequest)
            for tag in ("first", "second"):
                ok = make_response(invite, 200, to_tag=tag, body=sdp_body(4000))
                ok.headers.add("Contact", f"<sip:{tag}@{host}:{port}>")
                far.send(ok, source)
            call = await asyncio.wait_for(placing, 2)
            assert isinstance(call, Call)
            assert call.remote.tag == "first"
            acks = [(await far.next("ACK"))[0] for _ in range(2)]
            assert sorted(a.to.tag or "" for a in acks) == ["first", "second"]
            bye, bye_source = await far.next("BYE")
            assert isinstance(bye, SipRequest)
            assert bye.to.tag == "second"
            assert bye.uri.user == "second"
            far.send(make_response(bye, 200), bye_source)
            assert call.ended is None
        await caller.close()

    run(scenario())
