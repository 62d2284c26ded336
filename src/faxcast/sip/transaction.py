"""SIP transactions over UDP (RFC 3261 section 17, with RFC 6026's Accepted state).

Client transactions retransmit requests (timers A, E), give up (B, F) and absorb retransmitted
responses (D, K, M); server transactions absorb retransmitted requests, resend their last
response, retransmit non-2xx finals until ACKed (G, H, I) and linger (J, L). Matching is by
branch (section 17.1.3, 17.2.3). Timers use `loop.call_later`, scaled by the injectable T1/T2/T4.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from faxcast.sip.message import BRANCH_MAGIC, SipMessage, SipRequest, SipResponse, Via
from faxcast.sip.transport import Address

log = logging.getLogger(__name__)

REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
}


@dataclass(frozen=True)
class Timers:
    """RFC 3261 timer bases (seconds); tests shrink them. Glare waits are RFC 3261 section 14.1."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    trying_after: float = 0.2
    glare_owner: tuple[float, float] = (2.1, 4.0)
    glare_other: tuple[float, float] = (0.0, 2.0)

    @property
    def timeout(self) -> float:
        """64*T1: timers B, F, H, J, L, M."""
        return 64 * self.t1

    @property
    def d(self) -> float:
        """Timer D: at least 32 s over UDP, or 64*T1 when T1 is shrunk below RFC values."""
        return min(32.0, self.timeout)


def new_branch() -> str:
    """A fresh RFC 3261 branch (magic cookie + random)."""
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    """A fresh From/To tag."""
    return secrets.token_hex(6)


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    body: bytes = b"",
) -> SipResponse:
    """A response with the request's Via, From, To (tagged), Call-ID and CSeq (section 8.2.6)."""
    response = SipResponse(status=status, reason=reason or REASONS.get(status, "Unknown"))
    for value in request.headers.values("Via"):
        response.headers.add("Via", value)
    response.headers.add("From", request.headers.get("From") or "")
    to = request.to
    if to_tag is not None and to.tag is None and status != 100:
        to = to.with_tag(to_tag)
    response.headers.add("To", str(to))
    response.headers.add("Call-ID", request.call_id)
    response.headers.add("CSeq", str(request.cseq))
    response.body = body
    return response


class State(enum.Enum):
    """Transaction states (section 17); TRYING/CALLING are the first, ACCEPTED is RFC 6026's."""

    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class TransactionUser(Protocol):
    """The core above the transactions (the user agent)."""

    def on_request(self, request: SipRequest, transaction: ServerTransaction) -> None:
        """A new request (not a retransmission) arrived."""

    def on_ack(self, request: SipRequest, source: Address) -> None:
        """An ACK that matches no transaction: the ACK of a 2xx."""

    def on_stray_response(self, response: SipResponse, source: Address) -> None:
        """A response that matches no live client transaction (a late 2xx retransmission)."""


class _Timer:
    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None

    def start(self, delay: float, callback: Callable[[], None]) -> None:
        self.cancel()
        self._handle = asyncio.get_running_loop().call_later(delay, callback)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class ClientTransaction:
    """Sends one request and reports its responses; `on_response(None)` means it timed out."""

    def __init__(
        self,
        layer: TransactionLayer,
        request: SipRequest,
        destination: Address,
        on_response: Callable[[SipResponse | None], None],
    ) -> None:
        self.layer = layer
        self.request = request
        self.destination = destination
        self.invite = request.method == "INVITE"
        self.state = State.CALLING if self.invite else State.TRYING
        self.key = (request.via.branch or "", request.method)
        self._on_response = on_response
        self._retransmit = _Timer()
        self._timeout = _Timer()
        self._interval = layer.timers.t1
        self._ack: SipRequest | None = None

    def start(self) -> None:
        """Send the request and arm the retransmission and timeout timers."""
        self.layer.send(self.request, self.destination)
        self._retransmit.start(self._interval, self._resend)
        self._timeout.start(self.layer.timers.timeout, self._timed_out)

    def _resend(self) -> None:
        if self.state not in (State.CALLING, State.TRYING, State.PROCEEDING):
            return
        if self.invite and self.state is State.PROCEEDING:
            return  # timer A stops at the first provisional
        self.layer.send(self.request, self.destination)
        if self.invite:
            self._interval *= 2
        elif self.state is State.PROCEEDING:
            self._interval = self.layer.timers.t2
        else:
            self._interval = min(2 * self._interval, self.layer.timers.t2)
        self._retransmit.start(self._interval, self._resend)

    def _timed_out(self) -> None:
        if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
            self._terminate()
            self._on_response(None)
        else:
            self._terminate()

    def receive(self, response: SipResponse) -> None:
        """A response matched this transaction."""
        if self.invite:
            self._receive_invite(response)
        else:
            self._receive_other(response)

    def _receive_invite(self, response: SipResponse) -> None:
        status = response.status
        if self.state in (State.CALLING, State.PROCEEDING):
            if status < 200:
                self.state = State.PROCEEDING
                self._retransmit.cancel()
                self._timeout.cancel()  # timer B runs only while calling
            elif status < 300:
                self.state = State.ACCEPTED
                self._retransmit.cancel()
                self._timeout.start(self.layer.timers.timeout, self._terminate)  # timer M
            else:
                self.state = State.COMPLETED
                self._retransmit.cancel()
                self._send_ack(response)
                self._timeout.start(self.layer.timers.d, self._terminate)  # timer D
            self._on_response(response)
        elif self.state is State.ACCEPTED and 200 <= status < 300:
            self._on_response(response)  # the core re-ACKs 2xx retransmissions
        elif self.state is State.COMPLETED and status >= 300 and self._ack is not None:
            self.layer.send(self._ack, self.destination)

    def _receive_other(self, response: SipResponse) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return
        if response.status < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self._retransmit.cancel()
            self._timeout.start(self.layer.timers.t4, self._terminate)  # timer K
        self._on_response(response)

    def _send_ack(self, response: SipResponse) -> None:
        # Section 17.1.1.3: the ACK of a non-2xx is part of the INVITE transaction.
        ack = SipRequest(method="ACK", uri=self.request.uri)
        ack.headers.add("Via", str(self.request.via))
        for name in ("Route", "From", "Call-ID"):
            for value in self.request.headers.values(name):
                ack.headers.add(name, value)
        ack.headers.add("To", response.headers.get("To") or "")
        ack.headers.add("CSeq", f"{self.request.cseq.seq} ACK")
        ack.headers.add("Max-Forwards", "70")
        self._ack = ack
        self.layer.send(ack, self.destination)

    def cancel_timers(self) -> None:
        """Stop all timers (the endpoint is closing)."""
        self._retransmit.cancel()
        self._timeout.cancel()

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self.cancel_timers()
        self.layer.forget_client(self)


class ServerTransaction:
    """Receives one request; `respond()` sends, and retransmits as the state machine says."""

    def __init__(self, layer: TransactionLayer, request: SipRequest, source: Address) -> None:
        self.layer = layer
        self.request = request
        self.source = source
        self.invite = request.method == "INVITE"
        self.state = State.PROCEEDING if self.invite else State.TRYING
        self.key = server_key(request)
        self.last: SipResponse | None = None
        self._retransmit = _Timer()
        self._timeout = _Timer()
        self._interval = layer.timers.t1
        if self.invite:
            self._retransmit.start(layer.timers.trying_after, self._trying)

    @property
    def destination(self) -> Address:
        """Where responses go: the top Via's received/rport, else its sent-by."""
        return self.request.via.response_address()

    def _trying(self) -> None:
        if self.last is None and self.state is State.PROCEEDING:
            self.respond(make_response(self.request, 100))

    def respond(self, response: SipResponse) -> None:
        """Send a response; finals move the transaction on (2xx to Accepted for INVITE)."""
        if self.state not in (State.TRYING, State.PROCEEDING):
            log.debug("response %s after the final one is dropped", response.status)
            return
        self.last = response
        self.layer.send(response, self.destination)
        if response.status < 200:
            self.state = State.PROCEEDING
            return
        self._retransmit.cancel()
        timers = self.layer.timers
        if not self.invite:
            self.state = State.COMPLETED
            self._timeout.start(timers.timeout, self._terminate)  # timer J
        elif response.status < 300:
            self.state = State.ACCEPTED
            self._timeout.start(timers.timeout, self._terminate)  # timer L
        else:
            self.state = State.COMPLETED
            self._retransmit.start(self._interval, self._resend_final)  # timer G
            self._timeout.start(timers.timeout, self._terminate)  # timer H

    def _resend_final(self) -> None:
        if self.state is State.COMPLETED and self.last is not None:
            self.layer.send(self.last, self.destination)
            self._interval = min(2 * self._interval, self.layer.timers.t2)
            self._retransmit.start(self._interval, self._resend_final)

    def retransmitted(self) -> None:
        """The request came again: resend the last response (an Accepted INVITE absorbs it)."""
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last is not None:
            self.layer.send(self.last, self.destination)

    def acked(self) -> None:
        """The ACK of our non-2xx final arrived (timer I)."""
        if self.state is State.COMPLETED:
            self.state = State.CONFIRMED
            self._retransmit.cancel()
            self._timeout.start(self.layer.timers.t4, self._terminate)

    def cancel_timers(self) -> None:
        """Stop all timers (the endpoint is closing)."""
        self._retransmit.cancel()
        self._timeout.cancel()

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self.cancel_timers()
        self.layer.forget_server(self)


ServerKey = tuple[str, str, int, str]


def server_key(request: SipRequest, method: str | None = None) -> ServerKey:
    """Section 17.2.3: branch, sent-by and method (an ACK matches its INVITE)."""
    via: Via = request.via
    name = method or ("INVITE" if request.method == "ACK" else request.method)
    host, port = via.sent_by()
    return via.branch or "", host.lower(), port, name


class TransactionLayer:
    """Routes messages to their transactions, and new requests up to the transaction user."""

    def __init__(
        self, send: Callable[[SipMessage, Address], None], user: TransactionUser, timers: Timers
    ) -> None:
        self.send = send
        self.user = user
        self.timers = timers
        self._clients: dict[tuple[str, str], ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}

    def request(
        self,
        request: SipRequest,
        destination: Address,
        on_response: Callable[[SipResponse | None], None],
    ) -> ClientTransaction:
        """Start a client transaction for a request (not ACK)."""
        transaction = ClientTransaction(self, request, destination, on_response)
        self._clients[transaction.key] = transaction
        transaction.start()
        return transaction

    def receive(self, message: SipMessage, source: Address) -> None:
        """A parsed message from the transport."""
        if isinstance(message, SipResponse):
            client = self._clients.get((message.via.branch or "", message.cseq.method))
            if client is not None:
                client.receive(message)
            else:
                self.user.on_stray_response(message, source)
            return
        if not message.via.branch:
            log.info("dropped a %s without a Via branch", message.method)
            return
        server = self._servers.get(server_key(message))
        if message.method == "ACK":
            if server is not None and server.state is not State.ACCEPTED:
                server.acked()
            else:
                self.user.on_ack(message, source)
        elif server is not None:
            server.retransmitted()
        else:
            server = ServerTransaction(self, message, source)
            self._servers[server.key] = server
            self.user.on_request(message, server)

    def server(self, key: ServerKey) -> ServerTransaction | None:
        """A live server transaction by key (CANCEL finds its INVITE this way)."""
        return self._servers.get(key)

    def forget_client(self, transaction: ClientTransaction) -> None:
        """Drop a terminated client transaction."""
        if self._clients.get(transaction.key) is transaction:
            del self._clients[transaction.key]

    def forget_server(self, transaction: ServerTransaction) -> None:
        """Drop a terminated server transaction."""
        if self._servers.get(transaction.key) is transaction:
            del self._servers[transaction.key]

    def close(self) -> None:
        """Stop every timer; the transactions are abandoned."""
        for client in list(self._clients.values()):
            client.cancel_timers()
        for server in list(self._servers.values()):
            server.cancel_timers()
        self._clients.clear()
        self._servers.clear()
