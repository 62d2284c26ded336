"""Raw SIP over a UDP socket, for proving the peers before faxcast has a SIP stack of its own.

Only what the peer tests need: build requests from text, read responses and requests back,
and answer a Digest challenge (RFC 2617/7616 with qop=auth, MD5 or SHA-256).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from types import TracebackType

from tests.peers.daemons import HOST

RECEIVE_TIMEOUT_S = 5.0
MAX_DATAGRAM = 65535

_DIGEST_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)\s*,?')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


@dataclass(frozen=True)
class SipMessage:
    """A request or a response as received; `first_line` tells which."""

    first_line: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    source: tuple[str, int] = (HOST, 0)

    @property
    def is_response(self) -> bool:
        return self.first_line.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        """The status code of a response; ValueError if it has none."""
        if not self.is_response:
            raise ValueError(f"not a response: {self.first_line!r}")
        return int(self.first_line.split(" ", 2)[1])

    @property
    def method(self) -> str:
        """The method of a request, or the method in CSeq for a response."""
        if self.is_response:
            return self.header("CSeq").split()[1]
        return self.first_line.split(" ", 1)[0]

    def all(self, name: str) -> list[str]:
        """Every value of the header `name` (case-insensitive), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str:
        """The first value of the header `name`; KeyError if absent."""
        values = self.all(name)
        if not values:
            raise KeyError(f"no {name} header in {self.first_line!r}")
        return values[0]


def parse_message(data: bytes, source: tuple[str, int] = (HOST, 0)) -> SipMessage:
    """Split a datagram into first line, headers and body; ValueError if it is not SIP-shaped."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise ValueError("SIP message without an empty line after its headers")
    lines = head.decode("utf-8", errors="replace").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"SIP header line without a colon: {line!r}")
        headers.append((name.strip(), value.strip()))
    return SipMessage(lines[0], headers, body, data, source)


def parse_digest_challenge(value: str) -> dict[str, str]:
    """The parameters of a `Digest ...` challenge, quotes removed, names lowercased."""
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "digest":
        raise ValueError(f"not a Digest challenge: {value!r}")
    return {
        match.group(1).lower(): match.group(2).strip('"') for match in _DIGEST_PARAM.finditer(rest)
    }


def digest_credentials(
    challenge: str, *, method: str, uri: str, username: str, password: str
) -> str:
    """The Authorization/Proxy-Authorization value answering `challenge` (qop=auth if offered)."""
    params = parse_digest_challenge(challenge)
    algorithm = params.get("algorithm", "MD5").upper()
    hash_ = _HASHES[algorithm]

    def h(text: str) -> str:
        return hash_(text.encode()).hexdigest()

    realm, nonce = params["realm"], params["nonce"]
    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    fields = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f"algorithm={algorithm}",
    ]
    if "auth" in [qop.strip() for qop in params.get("qop", "").split(",")]:
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += [f'response="{response}"', "qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        fields.append(f'response="{h(f"{ha1}:{nonce}:{ha2}")}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(fields)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


PCMA_OFFER = """v=0
o=faxcast 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {port} RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=ptime:20
"""

T38_OFFER = """v=0
o=faxcast 1 2 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=image {port} udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:2000
a=T38FaxMaxDatagram:400
a=T38FaxUdpEC:t38UDPRedundancy
"""


@dataclass
class RawCall:
    """One call's identifiers and dialog state, building its requests as SIP text.

    Just enough of RFC 3261 for the peer tests: INVITE and re-INVITE, the ACK of a final
    response, CANCEL, BYE, and out-of-dialog requests (REGISTER, OPTIONS), with the route set
    and remote target learnt from the 2xx answer.
    """

    local_port: int
    request_uri: str
    from_user: str = "faxcast"
    call_id: str = field(default_factory=lambda: f"{secrets.token_hex(8)}@{HOST}")
    from_tag: str = field(default_factory=lambda: secrets.token_hex(4))
    cseq: int = 0
    to_header: str = ""
    route_set: list[str] = field(default_factory=list)
    remote_target: str = ""
    _invite_branch: str = ""
    _invite_uri: str = ""

    @property
    def contact(self) -> str:
        return f"<sip:{self.from_user}@{HOST}:{self.local_port}>"

    def _lines(self, method: str, uri: str, branch: str, cseq: int, to: str = "") -> list[str]:
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {HOST}:{self.local_port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.from_user}@{HOST}>;tag={self.from_tag}",
            f"To: {to or self.to_header or f'<{self.request_uri}>'}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
        ]
        if uri == self.remote_target:
            lines += [f"Route: {route}" for route in self.route_set]
        return lines

    def request(self, method: str, headers: tuple[str, ...] = (), body: str = "") -> str:
        """A new transaction outside the dialog (or INVITE), `body` sent as SDP if given."""
        self.cseq += 1
        branch = new_branch()
        if method == "INVITE":
            self._invite_branch, self._invite_uri = branch, self.request_uri
        to = f"<sip:{self.from_user}@{HOST}>" if method == "REGISTER" else ""
        lines = self._lines(method, self.request_uri, branch, self.cseq, to)
        lines += [f"Contact: {self.contact}", *headers]
        if body:
            lines.append("Content-Type: application/sdp")
        return "\n".join(lines) + "\n\n" + body

    def invite(self, body: str = "", headers: tuple[str, ...] = ()) -> str:
        """A new initial INVITE (new branch and CSeq) offering `body`."""
        return self.request("INVITE", headers, body)

    def reinvite(self, body: str) -> str:
        """A re-INVITE in the confirmed dialog (new branch and CSeq) offering `body`."""
        self.cseq += 1
        self._invite_branch, self._invite_uri = new_branch(), self.remote_target
        lines = self._lines("INVITE", self.remote_target, self._invite_branch, self.cseq)
        lines += [f"Contact: {self.contact}", "Content-Type: application/sdp"]
        return "\n".join(lines) + "\n\n" + body

    def ack(self, response: SipMessage) -> str:
        """The ACK of a final response to the last INVITE (RFC 3261 17.1.1.3 or 13.2.2.4)."""
        if response.status >= 300:
            # Same branch and Request-URI as the INVITE; To carries the response's tag.
            lines = self._lines(
                "ACK", self._invite_uri, self._invite_branch, self.cseq, response.header("To")
            )
            return "\n".join(lines) + "\n\n"
        if not self.remote_target:
            self.to_header = response.header("To")
            self.route_set = list(reversed(response.all("Record-Route")))
            self.remote_target = response.header("Contact").strip("<>").split(">")[0]
        return "\n".join(self._lines("ACK", self.remote_target, new_branch(), self.cseq)) + "\n\n"

    def cancel(self) -> str:
        """The CANCEL of the pending INVITE: same branch, Request-URI, To and CSeq number."""
        lines = self._lines("CANCEL", self._invite_uri, self._invite_branch, self.cseq)
        return "\n".join(lines) + "\n\n"

    def bye(self) -> str:
        """A BYE in the confirmed dialog, along its route set."""
        self.cseq += 1
        return "\n".join(self._lines("BYE", self.remote_target, new_branch(), self.cseq)) + "\n\n"


def response_to(
    request: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str = "",
    headers: tuple[str, ...] = (),
) -> str:
    """A bodiless response to `request`: its Via, From, To (plus `to_tag`), Call-ID and CSeq."""
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {via}" for via in request.all("Via")]
    to = request.header("To") + (f";tag={to_tag}" if to_tag else "")
    lines += [f"From: {request.header('From')}", f"To: {to}"]
    lines += [f"{name}: {request.header(name)}" for name in ("Call-ID", "CSeq")]
    return "\n".join([*lines, *headers]) + "\n\n"


class RawSipEndpoint:
    """A UDP socket on a free 127.0.0.1 port that sends SIP text and reads SIP datagrams."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])

    def __enter__(self) -> RawSipEndpoint:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.sock.close()

    def send(self, text: str, to: tuple[str, int]) -> None:
        """Send SIP `text` (lines joined with CRLF, Content-Length filled in) to `to`."""
        head, _, body = text.partition("\n\n")
        lines = [line for line in head.strip("\n").split("\n") if line]
        body_bytes = body.replace("\n", "\r\n").encode() if body else b""
        lines.append(f"Content-Length: {len(body_bytes)}")
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode() + body_bytes, to)

    def receive(self, timeout_s: float = RECEIVE_TIMEOUT_S) -> SipMessage:
        """The next SIP datagram; AssertionError if none comes within `timeout_s`."""
        data, source = self._receive_bytes(timeout_s)
        return parse_message(data, source)

    def receive_raw(self, timeout_s: float = RECEIVE_TIMEOUT_S) -> bytes:
        """The next datagram as bytes, even if it does not parse."""
        return self._receive_bytes(timeout_s)[0]

    def _receive_bytes(self, timeout_s: float) -> tuple[bytes, tuple[str, int]]:
        self.sock.settimeout(timeout_s)
        try:
            data, source = self.sock.recvfrom(MAX_DATAGRAM)
        except TimeoutError:
            raise AssertionError(f"no SIP datagram on port {self.port} in {timeout_s} s") from None
        return data, (str(source[0]), int(source[1]))

    def final_response(self, timeout_s: float = RECEIVE_TIMEOUT_S) -> SipMessage:
        """Skip provisional responses (and retransmissions) until a final one; bounded."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no final response in {timeout_s} s")
            message = self.receive(left)
            if message.is_response and message.status >= 200:
                return message

    def expect_request(self, method: str, timeout_s: float = RECEIVE_TIMEOUT_S) -> SipMessage:
        """The next request of `method`, skipping responses (retransmitted ones); bounded."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {method} request in {timeout_s} s")
            message = self.receive(left)
            if not message.is_response and message.method == method:
                return message
