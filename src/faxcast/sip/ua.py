"""The SIP user agent: places calls (UAC), answers them (UAS), routes in-dialog requests.

`UserAgent.start()` binds a UDP endpoint. `call()` INVITEs with an SDP offer (digest on 401/407,
CANCEL at the ring timeout) and returns a `Call` or a `CallFailure`. Incoming INVITEs go to the
`on_invite` handler as `IncomingCall`s, which it rings, answers or rejects.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from faxcast.domain.outcome import FailureClass
from faxcast.sip.dialog import ALLOW, Call, Exchange, OfferHandler
from faxcast.sip.digest import Credentials, DigestClient, DigestVerifier, Verdict, choose_challenge
from faxcast.sip.errors import SipSyntaxError
from faxcast.sip.incoming import IncomingCall, InviteHandler
from faxcast.sip.message import SipMessage, SipRequest, SipResponse, Via
from faxcast.sip.sdp import SessionDescription
from faxcast.sip.status import SipFailure, sip_failure
from faxcast.sip.transaction import (
    ServerTransaction,
    Timers,
    TransactionLayer,
    make_response,
    new_branch,
    new_tag,
    server_key,
)
from faxcast.sip.transport import Address, SipTransport
from faxcast.sip.uri import NameAddr, SipUri

log = logging.getLogger(__name__)

RequestHandler = Callable[[SipRequest, ServerTransaction], None]
"""Takes out-of-dialog requests other than INVITE/OPTIONS/CANCEL/ACK (a registrar's REGISTER)."""


class CallFailReason(enum.Enum):
    """Why an outgoing call was not answered."""

    REFUSED = "refused"  # a final response >= 300
    RING_TIMEOUT = "ring_timeout"  # we CANCELled at the ring timeout
    NO_RESPONSE = "no_response"  # nothing answered the INVITE (timer B)
    BAD_ANSWER = "bad_answer"  # a 2xx whose SDP we cannot use (ACKed, then BYE)


@dataclass(frozen=True)
class CallFailure:
    """An outgoing call that was not answered, with the failure class the retry policy needs."""

    reason: CallFailReason
    status: int | None
    phrase: str
    failure: SipFailure


RING_TIMEOUT = SipFailure(487, "Request Terminated", FailureClass.NO_ANSWER, "no answer")
# Nothing answered at all: the trunk, not the number, is at fault, so it is not "no answer".
NO_RESPONSE = SipFailure(408, "Request Timeout", FailureClass.CONGESTION, "no response")
RINGING = "still ringing at the ring timeout"
SILENT = "no response to the INVITE"


class UserAgent:
    """A SIP endpoint on one UDP socket: the transaction user of RFC 3261's layers."""

    def __init__(
        self,
        timers: Timers,
        *,
        on_invite: InviteHandler | None,
        on_request: RequestHandler | None,
        auth: DigestVerifier | None,
        auth_as_proxy: bool,
        user_agent: str,
    ) -> None:
        self.timers = timers
        self.on_invite = on_invite
        self.on_request_handler = on_request
        self.auth = auth
        self.auth_as_proxy = auth_as_proxy
        self.user_agent = user_agent
        self.transport = SipTransport(self._receive)
        self.layer = TransactionLayer(self._send, self, timers)
        self._calls: dict[tuple[str, str, str], Call] = {}
        self._incoming: dict[tuple[str, str, int, str], IncomingCall] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    async def start(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timers: Timers | None = None,
        on_invite: InviteHandler | None = None,
        on_request: RequestHandler | None = None,
        auth: DigestVerifier | None = None,
        auth_as_proxy: bool = False,
        user_agent: str = "faxcast",
    ) -> UserAgent:
        """Bind `host:port` (0: any free port); `auth` makes incoming INVITEs prove who they are."""
        ua = cls(
            timers or Timers(),
            on_invite=on_invite,
            on_request=on_request,
            auth=auth,
            auth_as_proxy=auth_as_proxy,
            user_agent=user_agent,
        )
        ua.transport = await SipTransport.open(host, port, ua._receive)
        return ua

    @property
    def address(self) -> Address:
        """The bound (host, port)."""
        return self.transport.local

    def contact(self, user: str | None = "faxcast") -> SipUri:
        """Our URI at the bound address."""
        return SipUri(host=self.address[0], user=user, port=self.address[1])

    async def close(self) -> None:
        """Stop timers and tasks and close the socket (calls are dropped without BYE)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.layer.close()
        self.transport.close()

    # --- placing calls

    async def call(
        self,
        target: SipUri,
        offer: SessionDescription,
        *,
        caller: NameAddr | None = None,
        proxy: Address | None = None,
        credentials: Credentials | None = None,
        ring_timeout_s: float = 60.0,
        on_offer: OfferHandler | None = None,
        on_progress: Callable[[SipResponse], None] | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Call | CallFailure:
        """INVITE `target` (through `proxy` if given) and wait for the answer or the failure.

        `headers` are added to the INVITE (P-Asserted-Identity, ...); `on_progress` sees 1xx.
        """
        loop = asyncio.get_running_loop()
        call_id = f"{secrets.token_hex(10)}@{self.address[0]}"
        local = (caller or NameAddr(self.contact())).with_tag(new_tag())
        remote = NameAddr(target)
        destination = proxy or await self.transport.resolve(target)
        digest = DigestClient(credentials) if credentials else None
        deadline = loop.time() + ring_timeout_s
        authorization: tuple[str, str] | None = None
        cseq = 1
        while True:
            request = self.new_request(
                "INVITE", target, from_=local, to=remote, call_id=call_id, cseq=cseq
            )
            request.body = bytes(offer)
            request.headers.add("Content-Type", "application/sdp")
            for name, value in headers:
                request.headers.add(name, value)
            if authorization is not None:
                request.headers.add(*authorization)
            exchange = self.exchange(request, destination)
            try:
                response, cancelled = await self._invite_final(
                    exchange, request, destination, deadline, on_progress
                )
            except asyncio.CancelledError:
                # Our caller gave up (a campaign stopped): leave no phone ringing.
                if exchange.provisional:
                    self.send_cancel(request, destination)
                exchange.abandon()
                raise
            if response is None:
                if cancelled:
                    return CallFailure(CallFailReason.RING_TIMEOUT, None, RINGING, RING_TIMEOUT)
                return CallFailure(CallFailReason.NO_RESPONSE, None, SILENT, NO_RESPONSE)
            if 200 <= response.status < 300:
                return await self._answered(
                    request, response, offer, cancelled, on_offer, credentials
                )
            if response.status in (401, 407) and authorization is None and digest is not None:
                authorization = _authorization(digest, request, response)
                if authorization is not None:
                    cseq += 1  # RFC 3261 section 22.2: a new request, the next CSeq
                    continue
            if cancelled and response.status == 487:
                return CallFailure(CallFailReason.RING_TIMEOUT, 487, RINGING, RING_TIMEOUT)
            failure = sip_failure(response.status)
            return CallFailure(CallFailReason.REFUSED, response.status, response.reason, failure)

    async def _invite_final(
        self,
        exchange: Exchange,
        request: SipRequest,
        destination: Address,
        deadline: float,
        on_progress: Callable[[SipResponse], None] | None,
    ) -> tuple[SipResponse | None, bool]:
        # CANCEL only after a provisional (RFC 3261 section 9.1); without one, timer B ends it.
        loop = asyncio.get_running_loop()
        cancelled = False
        give_up = 0.0
        while True:
            now = loop.time()
            if not cancelled and exchange.provisional and now >= deadline:
                self.send_cancel(request, destination)
                cancelled, give_up = True, now + self.timers.timeout
            if cancelled:
                timeout: float | None = max(give_up - now, 0.0)
            else:
                timeout = deadline - now if now < deadline else None
            try:
                response = await asyncio.wait_for(exchange.queue.get(), timeout)
            except TimeoutError:
                if cancelled:
                    exchange.abandon()
                    return None, True
                continue
            if response is None or response.status >= 200:
                return response, cancelled
            if on_progress is not None:
                on_progress(response)  # early media is ignored: only the event is passed on

    async def _answered(
        self,
        request: SipRequest,
        response: SipResponse,
        offer: SessionDescription,
        cancelled: bool,
        on_offer: OfferHandler | None,
        credentials: Credentials | None,
    ) -> Call | CallFailure:
        contacts = response.contacts
        record_route = [NameAddr.parse(v) for v in response.headers.values("Record-Route")]
        try:
            answer = SessionDescription.parse(response.body)
            bad_answer = None
        except SipSyntaxError as error:
            answer, bad_answer = offer, error.reason
        call = Call(
            self,
            call_id=request.call_id,
            local=request.from_,
            remote=response.to,
            remote_target=contacts[0].uri if contacts else request.uri,
            route=tuple(reversed(record_route)),
            local_cseq=request.cseq.seq,
            outgoing=True,
            local_sdp=offer,
            remote_sdp=answer,
            on_offer=on_offer,
            credentials=credentials,
        )
        self.add_call(call)
        call.ack(request, response, await call.destination())
        if cancelled:
            # The 200 crossed our CANCEL: the call exists, so it is ACKed and hung up.
            await call.hangup("answered after the ring timeout")
            return CallFailure(CallFailReason.RING_TIMEOUT, response.status, RINGING, RING_TIMEOUT)
        if bad_answer is not None:
            await call.hangup("unusable SDP answer")
            failure = sip_failure(488)
            return CallFailure(CallFailReason.BAD_ANSWER, response.status, bad_answer, failure)
        return call

    # --- out-of-dialog requests (OPTIONS, REGISTER)

    async def request(
        self,
        method: str,
        target: SipUri,
        *,
        proxy: Address | None = None,
        credentials: Credentials | None = None,
        from_: NameAddr | None = None,
        to: NameAddr | None = None,
        call_id: str | None = None,
        cseq: int = 1,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> RequestResult:
        """Send one non-INVITE request, answering one 401/407 if credentials are given."""
        loop = asyncio.get_running_loop()
        destination = proxy or await self.transport.resolve(target)
        local = (from_ or NameAddr(self.contact())).with_tag(new_tag())
        call_id = call_id or f"{secrets.token_hex(10)}@{self.address[0]}"
        digest = DigestClient(credentials) if credentials else None
        request = self.new_request(
            method, target, from_=local, to=to or NameAddr(target), call_id=call_id, cseq=cseq
        )
        for name, value in headers:
            request.headers.add(name, value)
        started = loop.time()
        response = await self.exchange(request, destination).final()
        round_trip_ms = (loop.time() - started) * 1000 if response is not None else None
        challenged = response is not None and response.status in (401, 407)
        if challenged and digest is not None and response is not None:
            authorization = _authorization(digest, request, response)
            if authorization is not None:
                request = self.new_request(
                    method, target, from_=local, to=request.to, call_id=call_id, cseq=cseq + 1
                )
                for name, value in (*headers, authorization):
                    request.headers.add(name, value)
                response = await self.exchange(request, destination).final()
                cseq += 1
        return RequestResult(response, round_trip_ms, challenged, cseq)

    # --- building blocks shared with dialogs

    def new_request(
        self,
        method: str,
        uri: SipUri,
        *,
        from_: NameAddr,
        to: NameAddr,
        call_id: str,
        cseq: int,
        body: bytes = b"",
    ) -> SipRequest:
        """A request with a fresh branch and the headers every request carries."""
        request = SipRequest(method=method, uri=uri)
        host, port = self.address
        via = Via(host, port, params=(("branch", new_branch()), ("rport", None)))
        request.headers.add("Via", str(via))
        request.headers.add("Max-Forwards", "70")
        request.headers.add("From", str(from_))
        request.headers.add("To", str(to))
        request.headers.add("Call-ID", call_id)
        request.headers.add("CSeq", f"{cseq} {method}")
        if method not in ("ACK", "CANCEL", "BYE"):
            request.headers.add("Contact", str(NameAddr(self.contact(from_.uri.user))))
        if method in ("INVITE", "UPDATE", "OPTIONS"):
            request.headers.add("Allow", ALLOW)
        request.headers.add("User-Agent", self.user_agent)
        if body:
            request.headers.add("Content-Type", "application/sdp")
            request.body = body
        return request

    def ok(self, request: SipRequest, tag: str, body: bytes) -> SipResponse:
        """A 200 to an INVITE/UPDATE with our Contact, the Record-Route and the SDP."""
        response = make_response(request, 200, to_tag=tag, body=body)
        for value in request.headers.values("Record-Route"):
            response.headers.add("Record-Route", value)
        response.headers.add("Contact", str(NameAddr(self.contact(request.to.uri.user))))
        response.headers.add("Allow", ALLOW)
        if body:
            response.headers.add("Content-Type", "application/sdp")
        return response

    def exchange(self, request: SipRequest, destination: Address) -> Exchange:
        """Start a client transaction whose responses are read from the returned Exchange."""
        exchange = Exchange()
        invite = request.method == "INVITE"

        def deliver(response: SipResponse | None) -> None:
            ok = response is not None and invite and 200 <= response.status < 300
            if ok and response is not None and self._reack(response):
                return
            exchange.deliver(response)

        self.layer.request(request, destination, deliver)
        return exchange

    def send_cancel(self, request: SipRequest, destination: Address) -> None:
        """CANCEL a pending INVITE (section 9.1): same branch, same CSeq number."""
        cancel = SipRequest(method="CANCEL", uri=request.uri)
        cancel.headers.add("Via", str(request.via))
        for name in ("Route", "From", "To", "Call-ID"):
            for value in request.headers.values(name):
                cancel.headers.add(name, value)
        cancel.headers.add("CSeq", f"{request.cseq.seq} CANCEL")
        cancel.headers.add("Max-Forwards", "70")
        self.layer.request(cancel, destination, lambda response: None)

    async def await_ack(
        self, transaction: ServerTransaction, response: SipResponse, acked: asyncio.Event
    ) -> bool:
        """Retransmit our 2xx (T1 doubling to T2) until its ACK, for at most 64*T1 (13.3.1.4)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.timers.timeout
        interval = self.timers.t1
        while True:
            remaining = give_up - loop.time()
            if remaining <= 0:
                return acked.is_set()
            try:
                await asyncio.wait_for(acked.wait(), min(interval, remaining))
                return True
            except TimeoutError:
                self.transport.send(response, transaction.destination)
                interval = min(2 * interval, self.timers.t2)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a task the user agent keeps (and cancels at close)."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def add_call(self, call: Call) -> None:
        """A dialog now exists: its in-dialog requests come to the call."""
        self._calls[call.key] = call

    def answered(self, incoming: IncomingCall) -> None:
        """An incoming INVITE got its final response: a CANCEL no longer concerns it."""
        self._incoming.pop(incoming.key, None)

    def forget(self, call: Call) -> None:
        """A call ended: requests for it are answered 481 from now on."""
        self._calls.pop(call.key, None)

    def _reack(self, response: SipResponse) -> bool:
        call = self._calls.get((response.call_id, response.from_.tag or "", response.to.tag or ""))
        return call is not None and call.resend_ack(response)

    # --- the transaction user

    def _send(self, message: SipMessage, destination: Address) -> None:
        self.transport.send(message, destination)  # the socket start() opened, not __init__'s

    def _receive(self, message: SipMessage, source: Address) -> None:
        try:
            self.layer.receive(message, source)
        except SipSyntaxError as error:
            log.info("dropped a SIP message from %s:%s: %s", *source, error.reason)

    def on_stray_response(self, response: SipResponse, source: Address) -> None:
        """A late 2xx retransmission is ACKed again; anything else is dropped."""
        if response.cseq.method == "INVITE" and 200 <= response.status < 300:
            self._reack(response)

    def on_ack(self, request: SipRequest, source: Address) -> None:
        """The ACK of one of our 2xx responses."""
        call = self._calls.get((request.call_id, request.to.tag or "", request.from_.tag or ""))
        if call is not None:
            call.acked(request)

    def on_request(self, request: SipRequest, transaction: ServerTransaction) -> None:
        """A new request: into its dialog, or out of dialog (INVITE, OPTIONS, CANCEL...)."""
        to_tag = request.to.tag
        if request.method == "CANCEL":
            self._cancel(request, transaction)
        elif to_tag:
            call = self._calls.get((request.call_id, to_tag, request.from_.tag or ""))
            if call is not None:
                call.receive(request, transaction)
            else:
                transaction.respond(make_response(request, 481))
        elif request.method == "INVITE":
            self._invited(request, transaction)
        elif request.method == "OPTIONS":
            response = make_response(request, 200, to_tag=new_tag())
            response.headers.add("Allow", ALLOW)
            response.headers.add("Accept", "application/sdp")
            transaction.respond(response)
        elif request.method == "BYE":
            transaction.respond(make_response(request, 481))
        elif self.on_request_handler is not None:
            self.on_request_handler(request, transaction)
        else:
            response = make_response(request, 405, to_tag=new_tag())
            response.headers.add("Allow", ALLOW)
            transaction.respond(response)

    def _invited(self, request: SipRequest, transaction: ServerTransaction) -> None:
        if self.auth is not None:
            header = "Proxy-Authorization" if self.auth_as_proxy else "Authorization"
            verdict = self.auth.check(request, header)
            if verdict is not Verdict.ACCEPTED:
                status = 407 if self.auth_as_proxy else 401
                response = make_response(request, status, to_tag=new_tag())
                name = "Proxy-Authenticate" if self.auth_as_proxy else "WWW-Authenticate"
                response.headers.add(name, self.auth.challenge(stale=verdict is Verdict.STALE))
                transaction.respond(response)
                return
        try:
            offer = SessionDescription.parse(request.body) if request.body else None
        except SipSyntaxError as error:
            transaction.respond(make_response(request, 400, error.reason[:60], to_tag=new_tag()))
            return
        if offer is None or self.on_invite is None:
            status = 488 if offer is None else 480
            transaction.respond(make_response(request, status, to_tag=new_tag()))
            return
        incoming = IncomingCall(self, request, transaction, offer)
        self._incoming[incoming.key] = incoming
        self.spawn(self._handle(incoming, self.on_invite))

    async def _handle(self, incoming: IncomingCall, handler: InviteHandler) -> None:
        try:
            await handler(incoming)
        except Exception:
            log.exception("the INVITE handler failed")
            incoming.reject(500)
        finally:
            incoming.reject(480)  # no effect if the handler answered or rejected

    def _cancel(self, request: SipRequest, transaction: ServerTransaction) -> None:
        key = server_key(request, "INVITE")
        if self.layer.server(key) is None:
            transaction.respond(make_response(request, 481))
            return
        transaction.respond(make_response(request, 200))
        incoming = self._incoming.get(key)
        if incoming is not None:
            incoming.cancel()
            return
        for call in self._calls.values():
            if call.cancel_offer(key):
                return


@dataclass(frozen=True)
class RequestResult:
    """The answer to an out-of-dialog request; `response` None means no answer at all."""

    response: SipResponse | None
    round_trip_ms: float | None
    challenged: bool
    last_cseq: int


def _authorization(
    digest: DigestClient, request: SipRequest, response: SipResponse
) -> tuple[str, str] | None:
    proxy = response.status == 407
    challenge = choose_challenge(
        response.headers.values("Proxy-Authenticate" if proxy else "WWW-Authenticate")
    )
    if challenge is None:
        return None
    name = "Proxy-Authorization" if proxy else "Authorization"
    return name, digest.authorization(challenge, request.method, str(request.uri))
