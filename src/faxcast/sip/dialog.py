"""An established call (RFC 3261 section 12-15): in-dialog requests, re-INVITE both ways, BYE.

A `Call` is made by `UserAgent.call()` (we called) or `IncomingCall.answer()` (we answered).
The far end's re-INVITE or UPDATE goes to the call's `on_offer` callback, except a session
refresh (same SDP version), which is answered with the current SDP without disturbing media.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faxcast.sip.digest import Credentials, DigestClient, choose_challenge
from faxcast.sip.errors import SipSyntaxError
from faxcast.sip.message import SipRequest, SipResponse
from faxcast.sip.sdp import SessionDescription
from faxcast.sip.transaction import ServerKey, ServerTransaction, State, make_response
from faxcast.sip.transport import Address
from faxcast.sip.uri import NameAddr, SipUri

if TYPE_CHECKING:
    from faxcast.sip.ua import UserAgent

log = logging.getLogger(__name__)

OfferHandler = Callable[[SessionDescription], Awaitable["SessionDescription | int"]]
"""Answers the far end's new offer: our answer SDP, or a status (488) to refuse it."""

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE"
GLARE_RETRIES = 3


class Ending(enum.Enum):
    """Who or what ended a call."""

    LOCAL = "local"  # we sent BYE
    REMOTE = "remote"  # the far end sent BYE
    NO_ACK = "no_ack"  # our 2xx to an INVITE was never acknowledged
    LOST = "lost"  # an in-dialog request timed out, or was answered 408/481


@dataclass(frozen=True)
class CallEnd:
    """How a call ended; `reason` is for people (a Reason header, or what went wrong)."""

    by: Ending
    reason: str


@dataclass(frozen=True)
class OfferOutcome:
    """The result of our re-INVITE: the peer's answer, or the status (None: no answer in time)."""

    answer: SessionDescription | None
    status: int | None
    phrase: str

    @property
    def accepted(self) -> bool:
        """Whether the peer accepted the new offer."""
        return self.answer is not None


class Call:
    """One confirmed dialog carrying a session; `local_sdp`/`remote_sdp` are the agreed ones."""

    def __init__(
        self,
        ua: UserAgent,
        *,
        call_id: str,
        local: NameAddr,
        remote: NameAddr,
        remote_target: SipUri,
        route: tuple[NameAddr, ...],
        local_cseq: int,
        outgoing: bool,
        local_sdp: SessionDescription,
        remote_sdp: SessionDescription,
        on_offer: OfferHandler | None,
        credentials: Credentials | None = None,
    ) -> None:
        self.ua = ua
        self.call_id = call_id
        self.local = local
        self.remote = remote
        self.remote_target = remote_target
        self.route = route
        self.local_cseq = local_cseq
        self.remote_cseq: int | None = None
        self.outgoing = outgoing
        self.local_sdp = local_sdp
        self.remote_sdp = remote_sdp
        self.on_offer = on_offer
        # Told the far end's answer in the ACK of our 200 to an offerless re-INVITE when it
        # changes its streams (where its media now is).
        self.on_answer: Callable[[SessionDescription], None] | None = None
        self.ended: CallEnd | None = None
        self._digest = DigestClient(credentials) if credentials else None
        self._ended = asyncio.Event()
        self._idle = asyncio.Event()  # no offer/answer exchange in progress either way
        self._idle.set()
        self._offering = False
        self._acks: dict[int, tuple[SipRequest, Address]] = {}
        self._awaiting_ack: dict[int, asyncio.Event] = {}
        self._offer_in: tuple[ServerTransaction, asyncio.Task[None]] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """(Call-ID, local tag, remote tag): how the user agent finds this call."""
        return self.call_id, self.local.tag or "", self.remote.tag or ""

    async def wait_ended(self) -> CallEnd:
        """Wait until the call ends, by either side."""
        await self._ended.wait()
        assert self.ended is not None
        return self.ended

    async def hangup(self, reason: str = "hung up", *, by: Ending = Ending.LOCAL) -> None:
        """Send BYE and wait for its answer (bounded by timer F); nothing if already ended."""
        if self.ended is not None:
            return
        self._end(by, reason)
        await self._send("BYE")

    async def reinvite(self, sdp: SessionDescription, *, timeout_s: float = 10.0) -> OfferOutcome:
        """Offer a new session (T.38); the call goes on unchanged if refused (488) or unanswered.

        A 491 (glare) is retried after RFC 3261 section 14.1's random wait. A timeout CANCELs
        the re-INVITE; a 408/481 means the dialog is gone and ends the call.
        """
        authorization: tuple[str, str] | None = None
        attempt = 0
        while True:
            try:
                await asyncio.wait_for(self._idle.wait(), timeout_s)
            except TimeoutError:
                return OfferOutcome(None, None, "another offer is still in progress")
            self._idle.clear()
            self._offering = True
            try:
                outcome, authorization = await self._offer(sdp, timeout_s, authorization)
            finally:
                self._offering = False
                self._idle.set()  # while we wait out a glare, the far end's offer may go first
            if outcome.status != 491 or attempt == GLARE_RETRIES:
                return outcome
            attempt += 1
            timers = self.ua.timers
            low, high = timers.glare_owner if self.outgoing else timers.glare_other
            await asyncio.sleep(random.uniform(low, high))

    async def _offer(
        self, sdp: SessionDescription, timeout_s: float, authorization: tuple[str, str] | None
    ) -> tuple[OfferOutcome, tuple[str, str] | None]:
        while True:  # at most twice: the second time with credentials
            if self.ended is not None:
                return OfferOutcome(None, None, "the call ended"), authorization
            request = self._request("INVITE", bytes(sdp))
            if authorization is not None:
                request.headers.add(*authorization)
            destination = await self.destination()
            exchange = self.ua.exchange(request, destination)
            response = await exchange.final_within(timeout_s)
            if response is None:
                return await self._offer_unanswered(exchange, request, destination), authorization
            if 200 <= response.status < 300:
                return self._offer_accepted(request, response, destination, sdp), authorization
            if response.status in (401, 407) and authorization is None:
                authorization = self._authorize(request, response)
                if authorization is not None:
                    continue
            if response.status in (408, 481):
                self._end(Ending.LOST, f"re-INVITE answered {response.status} {response.reason}")
            return OfferOutcome(None, response.status, response.reason), authorization

    async def _offer_unanswered(
        self, exchange: Exchange, request: SipRequest, destination: Address
    ) -> OfferOutcome:
        if exchange.provisional:
            # The far end is there but slow: CANCEL, and the call goes on as it was.
            self.ua.send_cancel(request, destination)
            response = await exchange.final_within(self.ua.timers.timeout)
            if response is not None and 200 <= response.status < 300:
                sdp = SessionDescription.parse(request.body)
                return self._offer_accepted(request, response, destination, sdp)
            status = response.status if response is not None else None
            return OfferOutcome(None, status, "re-INVITE cancelled: no answer in time")
        exchange.abandon()
        await self.hangup("no response to a re-INVITE", by=Ending.LOST)
        return OfferOutcome(None, None, "no response to the re-INVITE")

    def _offer_accepted(
        self,
        request: SipRequest,
        response: SipResponse,
        destination: Address,
        sdp: SessionDescription,
    ) -> OfferOutcome:
        self.ack(request, response, destination)
        try:
            answer = SessionDescription.parse(response.body)
        except SipSyntaxError as error:
            log.info("unusable answer to our re-INVITE: %s", error.reason)
            self.ua.spawn(self.hangup("unusable SDP answer"))
            return OfferOutcome(None, response.status, "unusable SDP answer")
        self.local_sdp, self.remote_sdp = sdp, answer
        self._update_target(response)
        return OfferOutcome(answer, response.status, response.reason)

    def ack(self, request: SipRequest, response: SipResponse, destination: Address) -> None:
        """Send (and remember, for retransmitted 2xx) the ACK of a 2xx to our INVITE."""
        seq = request.cseq.seq
        ack = self._request("ACK", cseq=seq)
        for value in request.headers.values("Proxy-Authorization"):
            ack.headers.add("Proxy-Authorization", value)
        self._acks[seq] = (ack, destination)
        self.ua.transport.send(ack, destination)

    def resend_ack(self, response: SipResponse) -> bool:
        """Answer a retransmitted 2xx with the same ACK; False if we never sent one for it."""
        sent = self._acks.get(response.cseq.seq)
        if sent is None:
            return False
        self.ua.transport.send(*sent)
        return True

    async def _send(self, method: str, body: bytes = b"") -> SipResponse | None:
        request = self._request(method, body)
        destination = await self.destination()
        response = await self.ua.exchange(request, destination).final()
        if response is not None and response.status in (401, 407):
            authorization = self._authorize(request, response)
            if authorization is not None:
                request = self._request(method, body)
                request.headers.add(*authorization)
                response = await self.ua.exchange(request, destination).final()
        return response

    def _authorize(self, request: SipRequest, response: SipResponse) -> tuple[str, str] | None:
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        challenge = choose_challenge(response.headers.values(header))
        if self._digest is None or challenge is None:
            return None
        name = "Authorization" if response.status == 401 else "Proxy-Authorization"
        return name, self._digest.authorization(challenge, request.method, str(request.uri))

    def _request(self, method: str, body: bytes = b"", *, cseq: int | None = None) -> SipRequest:
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        request = self.ua.new_request(
            method,
            self.remote_target,
            from_=self.local,
            to=self.remote,
            call_id=self.call_id,
            cseq=cseq,
            body=body,
        )
        for hop in self.route:
            request.headers.add("Route", str(hop))
        return request

    async def destination(self) -> Address:
        """Where in-dialog requests go."""
        # Loose routing (RFC 3261 section 12.2.1.1): the first Route hop, else the remote target.
        return await self.ua.transport.resolve(
            self.route[0].uri if self.route else self.remote_target
        )

    def _update_target(self, message: SipRequest | SipResponse) -> None:
        contacts = message.contacts
        if contacts:
            self.remote_target = contacts[0].uri

    def _end(self, by: Ending, reason: str) -> None:
        if self.ended is None:
            self.ended = CallEnd(by, reason)
            self._ended.set()
            self.ua.forget(self)

    # --- requests from the far end, routed here by the user agent

    def receive(self, request: SipRequest, transaction: ServerTransaction) -> None:
        """An in-dialog request from the far end."""
        seq = request.cseq.seq
        if self.remote_cseq is not None and seq <= self.remote_cseq and request.method != "CANCEL":
            transaction.respond(make_response(request, 500, "CSeq Out Of Order"))
            return
        self.remote_cseq = seq
        if request.method == "BYE":
            transaction.respond(make_response(request, 200))
            reason = request.headers.get("Reason")
            self._end(Ending.REMOTE, f"BYE from the far end ({reason})" if reason else "BYE")
        elif request.method in ("INVITE", "UPDATE"):
            self._receive_offer(request, transaction)
        elif request.method == "OPTIONS":
            response = make_response(request, 200)
            response.headers.add("Allow", ALLOW)
            transaction.respond(response)
        else:
            response = make_response(request, 405)
            response.headers.add("Allow", ALLOW)
            transaction.respond(response)

    def _receive_offer(self, request: SipRequest, transaction: ServerTransaction) -> None:
        if self._offering:
            transaction.respond(make_response(request, 491))
            return
        if not self._idle.is_set():
            response = make_response(request, 500, "Offer In Progress")
            response.headers.add("Retry-After", str(random.randint(0, 10)))
            transaction.respond(response)
            return
        self._idle.clear()
        self._update_target(request)
        task = self.ua.spawn(self._answer_offer(request, transaction))
        self._offer_in = (transaction, task)

    def cancel_offer(self, key: ServerKey) -> bool:
        """A CANCEL of the far end's pending re-INVITE: 487, and the offer handler is stopped."""
        if self._offer_in is None or self._offer_in[0].key != key:
            return False
        transaction, task = self._offer_in
        if transaction.state in (State.TRYING, State.PROCEEDING):
            transaction.respond(make_response(transaction.request, 487))
            task.cancel()
        return True

    async def _answer_offer(self, request: SipRequest, transaction: ServerTransaction) -> None:
        try:
            try:
                answer = await self._answer(request)
            except Exception:
                log.exception("the offer handler failed")
                answer = 500
            if isinstance(answer, int):
                transaction.respond(make_response(request, answer))
                return
            body = bytes(answer) if answer is not None else b""
            response = self.ua.ok(request, self.local.tag or "", body)
            transaction.respond(response)
            if request.method == "INVITE":
                acked = await self.ua.await_ack(transaction, response, self.awaiting(request))
                if not acked:
                    reason = "our 200 to a re-INVITE was never acknowledged"
                    await self.hangup(reason, by=Ending.NO_ACK)
        finally:
            self._offer_in = None
            self._awaiting_ack.pop(request.cseq.seq, None)
            self._idle.set()

    async def _answer(self, request: SipRequest) -> SessionDescription | int | None:
        if not request.body:
            if request.method == "UPDATE":
                return None  # a session-timer refresh without SDP (RFC 4028): 200, no body
            return self.local_sdp  # an offerless re-INVITE: our current SDP is the offer
        try:
            offer = SessionDescription.parse(request.body)
        except SipSyntaxError as error:
            log.info("unusable SDP in a %s: %s", request.method, error.reason)
            return 400
        previous = self.remote_sdp
        same_version = (offer.origin.session_id, offer.origin.version) == (
            previous.origin.session_id,
            previous.origin.version,
        )
        same_streams = (offer.connection, offer.media) == (previous.connection, previous.media)
        if same_version or same_streams:
            # A session refresh (RFC 3264 section 8; RFC 4028), also from peers that bump the
            # version of an unchanged SDP: answered as it stands, the media is not touched.
            self.remote_sdp = offer
            return self.local_sdp
        if self.on_offer is None:
            return 488
        answer = await self.on_offer(offer)
        if isinstance(answer, SessionDescription):
            self.remote_sdp, self.local_sdp = offer, answer
        return answer

    def awaiting(self, request: SipRequest) -> asyncio.Event:
        """An event set when the ACK of our 2xx to this INVITE arrives."""
        event = asyncio.Event()
        self._awaiting_ack[request.cseq.seq] = event
        return event

    def acked(self, request: SipRequest) -> None:
        """The ACK of our 2xx arrived."""
        event = self._awaiting_ack.get(request.cseq.seq)
        if event is None:
            return
        event.set()
        if not request.body:
            return
        # The answer to the offer our 200 made to an offerless re-INVITE.
        try:
            answer = SessionDescription.parse(request.body)
        except SipSyntaxError as error:
            log.info("unusable SDP in an ACK: %s", error.reason)
            return
        previous, self.remote_sdp = self.remote_sdp, answer
        moved = (answer.connection, answer.media) != (previous.connection, previous.media)
        if moved and self.on_answer is not None:
            self.on_answer(answer)


class Exchange:
    """One client transaction seen as a stream of responses (`None` when it times out)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[SipResponse | None] = asyncio.Queue()
        self.provisional = False
        self.abandoned = False

    def deliver(self, response: SipResponse | None) -> None:
        """Called by the transaction."""
        if response is not None and response.status < 200:
            self.provisional = True
        if not self.abandoned:
            self.queue.put_nowait(response)

    async def final(self) -> SipResponse | None:
        """The final response, or None if the transaction timed out."""
        while True:
            response = await self.queue.get()
            if response is None or response.status >= 200:
                return response

    async def final_within(self, timeout_s: float) -> SipResponse | None:
        """The final response, or None if none came within `timeout_s`."""
        try:
            return await asyncio.wait_for(self.final(), timeout_s)
        except TimeoutError:
            return None

    def abandon(self) -> None:
        """Stop listening (the transaction runs on alone until its timers end it)."""
        self.abandoned = True
