"""RFC 3261 transaction state machines and timers, driven with T1 = 10 ms on a real event loop.

The transport is replaced by a recorder: what is under test is when and what the transactions
send, and what they pass up.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any

from faxcast.sip.message import SipMessage, SipRequest, SipResponse, parse_message
from faxcast.sip.transaction import (
    ServerTransaction,
    Timers,
    TransactionLayer,
    make_response,
)
from faxcast.sip.transport import Address

T = Timers(t1=0.01, t2=0.04, t4=0.05, trying_after=0.02)
# Wider intervals where the test measures them, so a busy machine's scheduling slack (about
# 10 ms) cannot blur one interval into the next.
TIMED = Timers(t1=0.02, t2=0.08, t4=0.05)
SLACK = 0.012
PEER = ("127.0.0.1", 5999)


class Recorder:
    """Records what the layer sends and what it passes up to the transaction user."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, SipMessage]] = []
        self.requests: list[tuple[SipRequest, ServerTransaction]] = []
        self.acks: list[SipRequest] = []
        self.strays: list[SipResponse] = []

    def send(self, message: SipMessage, address: Address) -> None:
        self.sent.append((asyncio.get_running_loop().time(), message))

    def on_request(self, request: SipRequest, transaction: ServerTransaction) -> None:
        self.requests.append((request, transaction))

    def on_ack(self, request: SipRequest, source: Address) -> None:
        self.acks.append(request)

    def on_stray_response(self, response: SipResponse, source: Address) -> None:
        self.strays.append(response)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 5))


def request(method: str, branch: str = "z9hG4bKt1", cseq: int = 1) -> SipRequest:
    text = (
        f"{method} sip:fax@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch={branch}\r\n"
        "From: <sip:a@127.0.0.1>;tag=f1\r\nTo: <sip:fax@127.0.0.1>\r\n"
        f"Call-ID: c1@test\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


class About:
    """Equal to a timer interval within the event loop's scheduling slack."""

    def __init__(self, expected: float) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and abs(other - self.expected) <= SLACK

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"~{self.expected}"


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 3) for a, b in itertools.pairwise(times)]


def test_a_non_invite_is_resent_on_timer_e_capped_at_t2_and_times_out_on_timer_f() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        layer = TransactionLayer(recorder.send, recorder, TIMED)
        outcome: list[SipResponse | None] = []
        started = asyncio.get_running_loop().time()
        layer.request(request("OPTIONS"), PEER, outcome.append)
        while not outcome:
            await asyncio.sleep(0.01)
        elapsed = asyncio.get_running_loop().time() - started
        assert outcome == [None]
        assert abs(elapsed - TIMED.timeout) < 0.1
        intervals = gaps([when for when, _ in recorder.sent])
        assert intervals[:3] == [
            About(0.02),
            About(0.04),
            About(0.08),
        ]
        assert max(intervals) < TIMED.t2 + SLACK
        assert 15 <= len(recorder.sent) <= 18  # 1.28 s: 3 growing gaps, then every 80 ms

    run(scenario())


def test_an_invite_doubles_timer_a_until_a_provisional_then_waits_without_timer_b() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        layer = TransactionLayer(recorder.send, recorder, TIMED)
        outcome: list[SipResponse | None] = []
        invite = request("INVITE")
        layer.request(invite, PEER, outcome.append)
        await asyncio.sleep(0.15)  # sends at 0, 20, 60, 140 ms
        layer.receive(make_response(invite, 180, to_tag="x"), PEER)
        sent = len(recorder.sent)
        await asyncio.sleep(TIMED.timeout + 0.1)  # past timer B
        assert gaps([when for when, _ in recorder.sent]) == [
            About(0.02),
            About(0.04),
            About(0.08),
        ]
        assert len(recorder.sent) == sent == 4
        assert [r.status if r else None for r in outcome] == [180]  # no timeout

    run(scenario())


def test_a_failed_invite_is_acked_inside_the_transaction_and_its_retransmission_absorbed() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        layer = TransactionLayer(recorder.send, recorder, T)
        outcome: list[SipResponse | None] = []
        invite = request("INVITE")
        layer.request(invite, PEER, outcome.append)
        busy = make_response(invite, 486, to_tag="callee")
        layer.receive(busy, PEER)
        layer.receive(busy, PEER)
        await asyncio.sleep(0.05)
        acks = [m for _, m in recorder.sent if isinstance(m, SipRequest) and m.method == "ACK"]
        assert len(acks) == 2
        assert bytes(acks[0]) == bytes(acks[1])
        assert acks[0].via.branch == invite.via.branch
        assert acks[0].to.tag == "callee"
        assert acks[0].cseq.seq == invite.cseq.seq
        assert [r.status if r else None for r in outcome] == [486]
        assert sum(1 for _, m in recorder.sent if getattr(m, "method", "") == "INVITE") == 1

    run(scenario())


def test_2xx_retransmissions_are_passed_up_for_the_core_to_ack_again() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        layer = TransactionLayer(recorder.send, recorder, T)
        outcome: list[SipResponse | None] = []
        invite = request("INVITE")
        layer.request(invite, PEER, outcome.append)
        ok = make_response(invite, 200, to_tag="callee")
        layer.receive(ok, PEER)
        layer.receive(ok, PEER)
        assert [r.status if r else None for r in outcome] == [200, 200]
        await asyncio.sleep(T.timeout + 0.05)  # timer M: the transaction is gone
        layer.receive(ok, PEER)
        assert recorder.strays == [ok]

    run(scenario())


def test_a_non_invite_server_resends_its_last_response_to_a_retransmission() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        layer = TransactionLayer(recorder.send, recorder, T)
        bye = request("BYE")
        layer.receive(bye, PEER)
        layer.receive(bye, PEER)  # before any response: nothing to resend
        assert len(recorder.requests) == 1
        assert recorder.sent == []
        _, transaction = recorder.requests[0]
        transaction.respond(make_response(bye, 200))
        layer.receive(bye, PEER)
        assert [m.status for _, m in recorder.sent if isinstance(m, SipResponse)] == [200, 200]
        assert len(recorder.requests) == 1

    run(scenario())


def test_an_invite_server_sends_100_then_retransmits_its_failure_until_the_ack() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        layer = TransactionLayer(recorder.send, recorder, T)
        invite = request("INVITE")
        layer.receive(invite, PEER)
        await asyncio.sleep(0.03)  # the TU is slow: 100 Trying after 20 ms
        _, transaction = recorder.requests[0]
        transaction.respond(make_response(invite, 486, to_tag="me"))
        await asyncio.sleep(0.035)  # timer G: again at 10 and 30 ms
        ack = request("ACK")
        layer.receive(ack, PEER)
        before = len(recorder.sent)
        await asyncio.sleep(0.1)
        statuses = [m.status for _, m in recorder.sent if isinstance(m, SipResponse)]
        assert statuses[0] == 100
        assert statuses[1:] == [486, 486, 486]
        assert len(recorder.sent) == before  # the ACK stopped timer G
        assert recorder.acks == []  # and was absorbed, not passed up

    run(scenario())


def test_cancel_and_invite_with_one_branch_are_separate_transactions() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        layer = TransactionLayer(recorder.send, recorder, T)
        layer.receive(request("INVITE"), PEER)
        layer.receive(request("CANCEL"), PEER)
        assert [r.method for r, _ in recorder.requests] == ["INVITE", "CANCEL"]
        layer.receive(make_response(request("OPTIONS", "z9hG4bKnobody"), 200), PEER)
        assert len(recorder.strays) == 1

    run(scenario())
