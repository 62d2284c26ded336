"""SDP (RFC 4566) for fax calls: `m=audio` with G.711 and `m=image udptl t38` (ITU T.38 Annex D).

`SessionDescription` parses and serialises any SDP; the helpers below it read the one audio or
T.38 stream a fax call uses and build offers and answers (RFC 3264) for them.
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
from dataclasses import dataclass, field, replace
from typing import TypeVar

from faxcast.domain.codec import Codec
from faxcast.sip.errors import SdpSyntaxError
from faxcast.sip.rtp import CODEC_OF_PAYLOAD_TYPE, PAYLOAD_TYPES
from faxcast.sip.t38 import ErrorCorrection, RateManagement, T38Params

MAX_SDP_LINES = 512
Attribute = tuple[str, str | None]


def _address_type(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


@dataclass(frozen=True)
class Origin:
    """`o=` : who made the description and which version of it this is."""

    address: str
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**62))
    version: int = 1
    username: str = "faxcast"

    def next(self) -> Origin:
        """The origin of a changed description (RFC 3264 section 8: version + 1)."""
        return replace(self, version=self.version + 1)

    def __str__(self) -> str:
        kind = _address_type(self.address)
        return f"{self.username} {self.session_id} {self.version} IN {kind} {self.address}"


@dataclass(frozen=True)
class Media:
    """One `m=` section with its own `c=` (if any) and attributes."""

    kind: str
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: str | None = None
    attributes: tuple[Attribute, ...] = ()

    def attribute(self, name: str) -> str | None:
        """The first value of `a=name:value` (case-insensitive name); None if absent or bare."""
        for key, value in self.attributes:
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class SessionDescription:
    """A whole SDP body; `connection` is the session-level `c=` address."""

    origin: Origin
    media: tuple[Media, ...]
    connection: str | None = None
    name: str = "faxcast"
    attributes: tuple[Attribute, ...] = ()
    origin_line: str = field(default="", compare=False)  # as received: FreeSWITCH reads it

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        """Parse an SDP body; malformed input raises SdpSyntaxError."""
        return _Parser(data).parse()

    def __bytes__(self) -> bytes:
        lines = ["v=0", f"o={self.origin}", f"s={self.name or '-'}"]
        if self.connection:
            lines.append(f"c=IN {_address_type(self.connection)} {self.connection}")
        lines.append("t=0 0")
        lines.extend(_attribute_line(a) for a in self.attributes)
        for media in self.media:
            lines.append(f"m={media.kind} {media.port} {media.proto} {' '.join(media.formats)}")
            if media.connection:
                lines.append(f"c=IN {_address_type(media.connection)} {media.connection}")
            lines.extend(_attribute_line(a) for a in media.attributes)
        return ("\r\n".join(lines) + "\r\n").encode()

    def address_of(self, media: Media) -> str | None:
        """Where a stream's media goes: its own `c=`, else the session's."""
        return media.connection or self.connection


def _attribute_line(attribute: Attribute) -> str:
    name, value = attribute
    return f"a={name}" if value is None else f"a={name}:{value}"


class _Parser:
    def __init__(self, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SdpSyntaxError("not UTF-8") from None
        self.lines = [line.removesuffix("\r") for line in text.split("\n")]
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        if len(self.lines) > MAX_SDP_LINES:
            raise SdpSyntaxError(f"more than {MAX_SDP_LINES} lines")

    def parse(self) -> SessionDescription:
        fields = [self._field(line) for line in self.lines]
        if not fields or fields[0] != ("v", "0"):
            raise SdpSyntaxError("does not start with v=0")
        if len(fields) < 2 or fields[1][0] != "o":
            raise SdpSyntaxError("o= must follow v=")
        origin = _origin(fields[1][1])
        name = "-"
        connection: str | None = None
        attributes: list[Attribute] = []
        media: list[Media] = []
        current: dict[str, object] | None = None
        for kind, value in fields[2:]:
            if kind == "m":
                if current is not None:
                    media.append(_media(current))
                current = {"m": value, "c": None, "a": []}
            elif kind == "c":
                address = _connection(value)
                if current is None:
                    connection = address
                else:
                    current["c"] = address
            elif kind == "a":
                attribute = _attribute(value)
                target = attributes if current is None else current["a"]
                assert isinstance(target, list)
                target.append(attribute)
            elif kind == "s" and current is None:
                name = value
            elif kind in "v o s":
                raise SdpSyntaxError(f"{kind}= out of place")
        if current is not None:
            media.append(_media(current))
        return SessionDescription(
            origin=origin,
            media=tuple(media),
            connection=connection,
            name=name,
            attributes=tuple(attributes),
            origin_line=fields[1][1],
        )

    @staticmethod
    def _field(line: str) -> tuple[str, str]:
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise SdpSyntaxError(f"bad line {line[:40]!r}")
        if any(ord(c) < 32 and c != "\t" for c in line):
            raise SdpSyntaxError("control character in a line")
        return line[0], line[2:].strip()


def _origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6 or parts[3] != "IN":
        raise SdpSyntaxError("o= needs six fields")
    username, session_id, version, _, _, address = parts
    if not session_id.isdigit() or not version.isdigit() or len(session_id + version) > 40:
        raise SdpSyntaxError("o= session id and version must be numbers")
    return Origin(address, int(session_id), int(version), username)


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpSyntaxError("c= is not IN IP4/IP6 <address>")
    address = parts[2].split("/")[0]
    if parts[1] == "IP6":
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise SdpSyntaxError("c= has a bad IPv6 address") from None
    elif not address:
        raise SdpSyntaxError("c= has no address")
    return address


def _attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    if not name or " " in name:
        raise SdpSyntaxError(f"bad attribute {value[:40]!r}")
    return name, rest.strip() if colon else None


def _media(current: dict[str, object]) -> Media:
    text = current["m"]
    assert isinstance(text, str)
    parts = text.split()
    if len(parts) < 4:
        raise SdpSyntaxError("m= needs media, port, protocol and formats")
    port_text = parts[1].split("/")[0]
    if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
        raise SdpSyntaxError(f"bad port in m={parts[0]}")
    connection = current["c"]
    attributes = current["a"]
    assert connection is None or isinstance(connection, str)
    assert isinstance(attributes, list)
    return Media(
        parts[0], int(port_text), parts[2], tuple(parts[3:]), connection, tuple(attributes)
    )


@dataclass(frozen=True)
class AudioStream:
    """The peer's accepted `m=audio` stream: where to send RTP and the G.711 codecs it takes."""

    address: str
    port: int
    codecs: tuple[Codec, ...]


@dataclass(frozen=True)
class T38Stream:
    """The peer's `m=image udptl t38` stream; `numeric_booleans` records `:0/:1` style."""

    address: str
    port: int
    params: T38Params
    numeric_booleans: bool = False


def audio_stream(sdp: SessionDescription) -> AudioStream | None:
    """The first usable G.711 audio stream (port not 0, a known address), if any."""
    for media in sdp.media:
        address = sdp.address_of(media)
        if media.kind != "audio" or media.port == 0 or address is None:
            continue
        codecs = _g711_codecs(media)
        if codecs:
            return AudioStream(address, media.port, codecs)
    return None


def _g711_codecs(media: Media) -> tuple[Codec, ...]:
    names = {
        number: rest.split("/")[0].upper()
        for key, value in media.attributes
        if key.lower() == "rtpmap" and value
        for number, _, rest in [value.partition(" ")]
    }
    found: list[Codec] = []
    for fmt in media.formats:
        name = names.get(fmt)
        static = CODEC_OF_PAYLOAD_TYPE.get(int(fmt)) if fmt.isdigit() else None
        if static is not None and name in (None, "PCMU", "PCMA"):
            found.append(static)
        elif name in ("PCMU", "PCMA"):
            found.append(Codec[name])
    return tuple(dict.fromkeys(found))


def t38_stream(sdp: SessionDescription) -> T38Stream | None:
    """The first accepted `m=image <port> udptl t38` stream, if any."""
    for media in sdp.media:
        address = sdp.address_of(media)
        if not _is_t38(media) or media.port == 0 or address is None:
            continue
        params, numeric = read_t38(media)
        return T38Stream(address, media.port, params, numeric)
    return None


def _is_t38(media: Media) -> bool:
    return media.kind == "image" and media.proto.lower() == "udptl" and "t38" in media.formats


_E = TypeVar("_E", bound=enum.Enum)
_INT_ATTRIBUTES = {
    "t38faxversion": "version",
    "t38maxbitrate": "max_bit_rate",
    "t38faxmaxrate": "max_bit_rate",  # Asterisk's alias
    "t38faxmaxbuffer": "max_buffer",
    "t38faxmaxdatagram": "max_datagram",
    "t38maxdatagram": "max_datagram",  # Asterisk's alias
}
_BOOL_ATTRIBUTES = {
    "t38faxfillbitremoval": "fill_bit_removal",
    "t38faxtranscodingmmr": "mmr",
    "t38faxtranscodingjbig": "jbig",
}


def read_t38(media: Media) -> tuple[T38Params, bool]:
    """The T.38 parameters of a stream, and whether its booleans were written `:0/:1`."""
    values: dict[str, object] = {
        "max_buffer": None,
        "max_datagram": None,
        "error_correction": ErrorCorrection.NONE,
    }
    numeric = False
    for name, value in media.attributes:
        key = name.lower()
        if key in _INT_ATTRIBUTES:
            if value is None or not value.isdigit() or len(value) > 9:
                raise SdpSyntaxError(f"{name} needs a number")
            values[_INT_ATTRIBUTES[key]] = int(value)
        elif key in _BOOL_ATTRIBUTES:
            if value not in (None, "0", "1"):
                raise SdpSyntaxError(f"{name} is neither bare nor :0/:1")
            numeric = numeric or value is not None
            values[_BOOL_ATTRIBUTES[key]] = value != "0"
        elif key == "t38faxratemanagement":
            values["rate_management"] = _enum(RateManagement, name, value)
        elif key == "t38faxudpec":
            values["error_correction"] = _enum(ErrorCorrection, name, value)
    return T38Params(**values), numeric  # type: ignore[arg-type]


def _enum(kind: type[_E], name: str, value: str | None) -> _E:
    for member in kind:
        if value is not None and member.value.lower() == value.lower():
            return member
    raise SdpSyntaxError(f"{name} has an unknown value {str(value)[:40]!r}")


def t38_attributes(params: T38Params, *, numeric_booleans: bool = False) -> tuple[Attribute, ...]:
    """The `a=T38...` lines for these parameters, booleans bare or as `:0/:1`."""
    attributes: list[Attribute] = [
        ("T38FaxVersion", str(params.version)),
        ("T38MaxBitRate", str(params.max_bit_rate)),
    ]
    for name, on in (
        ("T38FaxFillBitRemoval", params.fill_bit_removal),
        ("T38FaxTranscodingMMR", params.mmr),
        ("T38FaxTranscodingJBIG", params.jbig),
    ):
        if numeric_booleans:
            attributes.append((name, "1" if on else "0"))
        elif on:
            attributes.append((name, None))
    attributes.append(("T38FaxRateManagement", params.rate_management.value))
    if params.max_buffer is not None:
        attributes.append(("T38FaxMaxBuffer", str(params.max_buffer)))
    if params.max_datagram is not None:
        attributes.append(("T38FaxMaxDatagram", str(params.max_datagram)))
    if params.error_correction is not ErrorCorrection.NONE:
        attributes.append(("T38FaxUdpEC", params.error_correction.value))
    return tuple(attributes)


def audio_media(port: int, codecs: tuple[Codec, ...]) -> Media:
    """Our `m=audio` line: G.711 at 20 ms, no telephone-event, send and receive."""
    types = tuple(str(PAYLOAD_TYPES[c]) for c in codecs)
    rtpmaps = tuple(("rtpmap", f"{t} {c.name}/8000") for t, c in zip(types, codecs, strict=True))
    attributes = (*rtpmaps, ("ptime", "20"), ("sendrecv", None))
    return Media("audio", port, "RTP/AVP", types, None, attributes)


def t38_media(port: int, params: T38Params, *, numeric_booleans: bool = False) -> Media:
    """Our `m=image udptl t38` line."""
    attributes = t38_attributes(params, numeric_booleans=numeric_booleans)
    return Media("image", port, "udptl", ("t38",), None, attributes)


def offer(origin: Origin, *media: Media) -> SessionDescription:
    """A description of our streams, all at the origin's address."""
    return SessionDescription(origin=origin, media=media, connection=origin.address)


def answer_audio(
    remote: SessionDescription, origin: Origin, port: int, preference: tuple[Codec, ...]
) -> SessionDescription | None:
    """Answer an offer with one G.711 stream in our preference order; None if none fits (488)."""
    chosen: Media | None = None
    media: list[Media] = []
    for offered in remote.media:
        codecs = _g711_codecs(offered) if offered.kind == "audio" and offered.port else ()
        common = tuple(c for c in preference if c in codecs)
        if chosen is None and common and remote.address_of(offered):
            chosen = audio_media(port, common[:1])
            media.append(chosen)
        else:
            media.append(_refused(offered))
    return offer(origin, *media) if chosen is not None else None


def answer_t38_params(
    offered: T38Params, origin_line: str = "", *, max_version: int = 3, max_datagram: int = 400
) -> T38Params:
    """Our T.38 answer as FreeSWITCH makes it: version capped, transferredTCF, our datagram size.

    Redundancy if the peer offered redundancy or FEC; fill-bit removal only if offered and the
    peer is not a Cisco (FreeSWITCH's exception); no MMR/JBIG transcoding; bit rate at most 14400.
    """
    removal = offered.fill_bit_removal and "cisco" not in origin_line.lower()
    protected = offered.error_correction is not ErrorCorrection.NONE
    return T38Params(
        version=min(offered.version, max_version),
        max_bit_rate=min(offered.max_bit_rate, 14400),
        rate_management=RateManagement.TRANSFERRED_TCF,
        max_buffer=offered.max_buffer or 2000,
        max_datagram=max_datagram,
        error_correction=ErrorCorrection.REDUNDANCY if protected else ErrorCorrection.NONE,
        fill_bit_removal=removal,
    )


def answer_t38(
    remote: SessionDescription, origin: Origin, port: int, *, max_datagram: int = 400
) -> tuple[SessionDescription, T38Stream] | None:
    """Answer an offer's T.38 stream, booleans in the peer's style; None if it has none (488).

    Also returns the peer's stream, whose parameters (its datagram size) the UDPTL sender needs.
    """
    peer = t38_stream(remote)
    if peer is None:
        return None
    params = answer_t38_params(peer.params, remote.origin_line, max_datagram=max_datagram)
    media: list[Media] = []
    done = False
    for offered in remote.media:
        if not done and _is_t38(offered) and offered.port:
            media.append(t38_media(port, params, numeric_booleans=peer.numeric_booleans))
            done = True
        else:
            media.append(_refused(offered))
    return offer(origin, *media), peer


def _refused(offered: Media) -> Media:
    # RFC 3264 section 6: a refused stream keeps its place with port 0 and one of its formats.
    return Media(offered.kind, 0, offered.proto, offered.formats[:1])
