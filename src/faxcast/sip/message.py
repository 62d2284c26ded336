"""SIP requests and responses (RFC 3261 section 7, 20): parse one UDP datagram, serialise one.

Parsing is bounded (datagram size, header count) and checks the headers every transaction needs
(Via, From, To, Call-ID, CSeq), so code past the parser reads them without further errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from faxcast.sip.errors import SipSyntaxError
from faxcast.sip.uri import (
    NameAddr,
    Params,
    SipUri,
    format_host,
    format_params,
    get_param,
    parse_hostport,
    parse_params,
    split_outside_quotes,
    with_param,
)

SIP_VERSION = "SIP/2.0"
MAX_DATAGRAM = 65536
MAX_HEADERS = 128
BRANCH_MAGIC = "z9hG4bK"

COMPACT_FORMS = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        *COMPACT_FORMS.values(),
        "Accept",
        "Allow",
        "Authorization",
        "CSeq",
        "Expires",
        "Max-Forwards",
        "Min-Expires",
        "Min-SE",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "Reason",
        "Record-Route",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Unsupported",
        "User-Agent",
        "WWW-Authenticate",
    )
}
# Headers whose comma-separated values are separate entries (RFC 3261 section 7.3.1).
LIST_HEADERS = frozenset(
    {"via", "contact", "route", "record-route", "allow", "supported", "require", "accept"}
    | {"proxy-require", "unsupported", "allow-events"}
)
_METHOD = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_CALL_ID = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}@]+")


def canonical_name(name: str) -> str:
    """The header's usual spelling: `Call-ID` for `i`, `call-id` or `CALL-ID`."""
    lowered = name.lower()
    full = COMPACT_FORMS.get(lowered)
    if full is not None:
        return full
    return _CANONICAL.get(lowered, name)


class Headers:
    """Header fields in order, looked up case-insensitively with compact forms expanded."""

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields = [(canonical_name(name), value) for name, value in fields]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._fields == other._fields

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"

    def get(self, name: str) -> str | None:
        """The first value of a header, as written (a list header's whole line)."""
        lowered = canonical_name(name).lower()
        for key, value in self._fields:
            if key.lower() == lowered:
                return value
        return None

    def values(self, name: str) -> list[str]:
        """Every value of a header, list headers split at their commas."""
        lowered = canonical_name(name).lower()
        found: list[str] = []
        for key, value in self._fields:
            if key.lower() != lowered:
                continue
            if lowered in LIST_HEADERS:
                found.extend(part.strip() for part in split_outside_quotes(value, ","))
            else:
                found.append(value)
        return found

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers(self._fields)

    def add(self, name: str, value: str) -> None:
        """Append a header field."""
        self._fields.append((canonical_name(name), value))

    def prepend(self, name: str, value: str) -> None:
        """Put a header field first (a proxy's or a server's Via)."""
        self._fields.insert(0, (canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every field of this name with one value (where the first one stood)."""
        canonical = canonical_name(name)
        lowered = canonical.lower()
        for i, (key, _) in enumerate(self._fields):
            if key.lower() == lowered:
                self._fields[i] = (canonical, value)
                self._fields = [
                    f for j, f in enumerate(self._fields) if j <= i or f[0].lower() != lowered
                ]
                return
        self._fields.append((canonical, value))

    def remove(self, name: str) -> None:
        """Drop every field of this name."""
        lowered = canonical_name(name).lower()
        self._fields = [f for f in self._fields if f[0].lower() != lowered]


@dataclass(frozen=True)
class Via:
    """One Via entry: `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=...;rport=...`."""

    host: str
    port: int | None = None
    transport: str = "UDP"
    params: Params = ()

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one Via value (not a comma-separated list)."""
        sent_protocol, _, rest = text.strip().partition(";")
        parts = re.split(r"\s*/\s*", sent_protocol.strip(), maxsplit=2)
        if len(parts) != 3:
            raise SipSyntaxError("Via lacks SIP/2.0/transport")
        name, version, tail = parts
        transport, _, sent_by = tail.partition(" ")
        if name.upper() != "SIP" or version != "2.0" or not _METHOD.fullmatch(transport):
            raise SipSyntaxError("Via lacks SIP/2.0/transport")
        host, port = parse_hostport(sent_by.strip(), "Via")
        params = parse_params(rest, "Via") if rest.strip() else ()
        return cls(host=host, port=port, transport=transport.upper(), params=params)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        sent_by = f"{format_host(self.host)}{port}"
        return f"SIP/2.0/{self.transport} {sent_by}{format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        """The transaction id this Via carries."""
        return get_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """The source address the next hop saw, if it differed from `host`."""
        return get_param(self.params, "received")

    @property
    def rport(self) -> int | None:
        """The source port the next hop saw (RFC 3581), when it filled it in."""
        value = get_param(self.params, "rport")
        return int(value) if value is not None and value.isdigit() else None

    def sent_by(self) -> tuple[str, int]:
        """Where the sender of this Via said it listens (port 5060 by default)."""
        return self.host, self.port if self.port is not None else 5060

    def response_address(self) -> tuple[str, int]:
        """Where to send the response (RFC 3261 section 18.2.2 with RFC 3581's rport)."""
        host = self.received or self.host
        port = self.rport or (self.port if self.port is not None else 5060)
        return host, port

    def with_param(self, name: str, value: str | None) -> Via:
        """This Via with a parameter set."""
        return replace(self, params=with_param(self.params, name, value))


@dataclass(frozen=True)
class CSeq:
    """`CSeq: 314159 INVITE`."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse a CSeq value."""
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
            raise SipSyntaxError("CSeq is not a number and a method")
        seq = int(parts[0])
        if seq >= 2**31 or not _METHOD.fullmatch(parts[1]):
            raise SipSyntaxError("CSeq number or method out of range")
        return cls(seq, parts[1])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


@dataclass
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def vias(self) -> list[Via]:
        """Every Via, topmost first."""
        return [Via.parse(value) for value in self.headers.values("Via")]

    @property
    def via(self) -> Via:
        """The topmost Via."""
        return Via.parse(self.headers.values("Via")[0])

    @property
    def from_(self) -> NameAddr:
        """The From header."""
        return NameAddr.parse(self._required("From"))

    @property
    def to(self) -> NameAddr:
        """The To header."""
        return NameAddr.parse(self._required("To"))

    @property
    def call_id(self) -> str:
        """The Call-ID."""
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        """The CSeq."""
        return CSeq.parse(self._required("CSeq"))

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact addresses (empty for none or `*`)."""
        return [NameAddr.parse(v) for v in self.headers.values("Contact") if v.strip() != "*"]

    @property
    def content_type(self) -> str | None:
        """The body's media type, lowercase, without parameters."""
        value = self.headers.get("Content-Type")
        return value.split(";")[0].strip().lower() if value else None

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipSyntaxError(f"missing {name} header")
        return value.strip()

    def _serialise(self, start_line: str) -> bytes:
        length = f"Content-Length: {len(self.body)}"
        lines = [start_line]
        lines.extend(
            length if name == "Content-Length" else f"{name}: {value}"
            for name, value in self.headers
        )
        if self.headers.get("Content-Length") is None:
            lines.append(length)
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class SipRequest(_Message):
    """A request: method, Request-URI, headers and body."""

    method: str = "OPTIONS"
    uri: SipUri = field(default_factory=lambda: SipUri("invalid"))

    def __bytes__(self) -> bytes:
        return self._serialise(f"{self.method} {self.uri} {SIP_VERSION}")

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards, when present."""
        value = self.headers.get("Max-Forwards")
        return int(value) if value is not None and value.strip().isdigit() else None


@dataclass
class SipResponse(_Message):
    """A response: status code, reason phrase, headers and body."""

    status: int = 200
    reason: str = "OK"

    def __bytes__(self) -> bytes:
        return self._serialise(f"{SIP_VERSION} {self.status} {self.reason}")


SipMessage = SipRequest | SipResponse


def parse_message(data: bytes) -> SipMessage:
    """Parse one datagram into a request or response; malformed input raises SipSyntaxError."""
    if len(data) > MAX_DATAGRAM:
        raise SipSyntaxError(f"datagram of {len(data)} bytes is over {MAX_DATAGRAM}")
    head, body = _split_head(data)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipSyntaxError("headers are not UTF-8") from None
    lines = _unfold(text.split("\n"))
    if not lines or not lines[0]:
        raise SipSyntaxError("empty message")
    headers = Headers(_header_field(line) for line in lines[1:])
    if len(headers) > MAX_HEADERS:
        raise SipSyntaxError(f"more than {MAX_HEADERS} header fields")
    message = _start(lines[0], headers)
    message.body = _body(headers, body)
    _check(message)
    return message


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    data = data.lstrip(b"\r\n")  # RFC 3261 section 7.5: ignore CRLFs before the start line
    for separator in (b"\r\n\r\n", b"\n\n"):
        at = data.find(separator)
        if at >= 0:
            return data[:at], data[at + len(separator) :]
    raise SipSyntaxError("no blank line after the headers")


def _unfold(raw: list[str]) -> list[str]:
    lines: list[str] = []
    for line in (r.removesuffix("\r") for r in raw):
        if line[:1] in (" ", "\t") and len(lines) > 1:
            lines[-1] += " " + line.strip()
        elif line[:1] in (" ", "\t"):
            raise SipSyntaxError("continuation line before any header")
        else:
            lines.append(line)
    return lines


def _header_field(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    name = name.strip()
    if not colon or not _HEADER_NAME.fullmatch(name):
        raise SipSyntaxError(f"bad header line {line[:40]!r}")
    if any(ord(c) < 32 and c != "\t" for c in value):
        raise SipSyntaxError(f"control character in header {name}")
    return name, value.strip()


def _start(line: str, headers: Headers) -> SipMessage:
    if any(ord(c) < 32 for c in line):
        raise SipSyntaxError("control character in the start line")
    if line.startswith(SIP_VERSION + " "):
        parts = line.split(" ", 2)
        if len(parts) < 2 or not re.fullmatch(r"[1-6]\d\d", parts[1]):
            raise SipSyntaxError("bad status code")
        reason = parts[2] if len(parts) == 3 else ""
        return SipResponse(headers=headers, status=int(parts[1]), reason=reason)
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] != SIP_VERSION:
        raise SipSyntaxError("start line is neither a request nor a SIP/2.0 response")
    method, uri, _ = parts
    if not _METHOD.fullmatch(method):
        raise SipSyntaxError(f"bad method {method[:20]!r}")
    return SipRequest(headers=headers, method=method, uri=SipUri.parse(uri))


def _body(headers: Headers, rest: bytes) -> bytes:
    lengths = headers.values("Content-Length")
    if not lengths:
        return rest  # over UDP the body runs to the end of the datagram
    if len(lengths) > 1 or not lengths[0].isdigit() or len(lengths[0]) > 6:
        raise SipSyntaxError("bad Content-Length")
    length = int(lengths[0])
    if length > len(rest):
        raise SipSyntaxError(f"Content-Length {length} is more than the {len(rest)} bytes sent")
    return rest[:length]


def _check(message: SipMessage) -> None:
    if not message.headers.values("Via"):
        raise SipSyntaxError("missing Via header")
    message.vias  # noqa: B018 - each property parses and raises on a bad value
    message.from_  # noqa: B018
    message.to  # noqa: B018
    message.contacts  # noqa: B018
    for name in ("Route", "Record-Route"):
        for value in message.headers.values(name):
            NameAddr.parse(value)
    if not _CALL_ID.fullmatch(message.call_id):
        raise SipSyntaxError("bad Call-ID")
    cseq = message.cseq
    if isinstance(message, SipRequest) and cseq.method != message.method:
        raise SipSyntaxError("CSeq method differs from the request's")
    max_forwards = message.headers.get("Max-Forwards")
    if max_forwards is not None and (not max_forwards.isdigit() or int(max_forwards) > 255):
        raise SipSyntaxError("bad Max-Forwards")
