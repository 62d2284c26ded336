"""An incoming INVITE waiting for the handler's decision: ring, answer or reject."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from faxcast.sip.dialog import Call, Ending, OfferHandler
from faxcast.sip.message import SipRequest, SipResponse
from faxcast.sip.sdp import SessionDescription
from faxcast.sip.transaction import ServerKey, ServerTransaction, make_response, new_tag
from faxcast.sip.uri import NameAddr

if TYPE_CHECKING:
    from faxcast.sip.ua import UserAgent

InviteHandler = Callable[["IncomingCall"], Awaitable[None]]
"""Runs for each new incoming INVITE; it should ring, answer or reject (480 if it does not)."""


class IncomingCall:
    """An INVITE waiting for our decision: `ring()`, then `answer()` or `reject()`."""

    def __init__(
        self,
        ua: UserAgent,
        request: SipRequest,
        transaction: ServerTransaction,
        offer: SessionDescription,
    ) -> None:
        self.ua = ua
        self.request = request
        self.offer = offer
        self.caller = request.from_
        self.callee = request.to
        self.target = request.uri
        self.cancelled = asyncio.Event()
        self._transaction = transaction
        self._tag = new_tag()
        self._final = False

    def ring(self, status: int = 180) -> None:
        """Send a provisional response (180 Ringing)."""
        if not self._final:
            self._transaction.respond(make_response(self.request, status, to_tag=self._tag))

    def reject(self, status: int, phrase: str | None = None) -> None:
        """Refuse the call with a final status >= 300 (nothing if already answered or refused)."""
        if not self._final:
            self._finish()
            self._transaction.respond(make_response(self.request, status, phrase, to_tag=self._tag))

    def answer(self, sdp: SessionDescription, *, on_offer: OfferHandler | None = None) -> Call:
        """Answer with our SDP; the 200 is retransmitted until ACKed (else BYE, call ends)."""
        if self._final:
            raise RuntimeError("this INVITE already has its final response")
        self._finish()
        request = self.request
        contacts = request.contacts
        call = Call(
            self.ua,
            call_id=request.call_id,
            local=request.to.with_tag(self._tag),
            remote=request.from_,
            remote_target=contacts[0].uri if contacts else request.from_.uri,
            route=tuple(NameAddr.parse(v) for v in request.headers.values("Record-Route")),
            local_cseq=0,
            outgoing=False,
            local_sdp=sdp,
            remote_sdp=self.offer,
            on_offer=on_offer,
        )
        call.remote_cseq = request.cseq.seq
        self.ua.add_call(call)
        response = self.ua.ok(request, self._tag, bytes(sdp))
        self._transaction.respond(response)
        acked = call.awaiting(request)
        self.ua.spawn(self._confirm(call, response, acked))
        return call

    async def _confirm(self, call: Call, response: SipResponse, acked: asyncio.Event) -> None:
        if not await self.ua.await_ack(self._transaction, response, acked):
            await call.hangup("our 200 was never acknowledged", by=Ending.NO_ACK)

    def cancel(self) -> None:
        """The caller CANCELled: answer 487 and tell the handler."""
        if not self._final:
            self.reject(487)
        self.cancelled.set()

    @property
    def key(self) -> ServerKey:
        """The INVITE's server transaction key (a CANCEL finds the call by it)."""
        return self._transaction.key

    def _finish(self) -> None:
        self._final = True
        self.ua.answered(self)
