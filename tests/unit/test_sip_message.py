"""SIP message parsing: RFC 3665 and RFC 4475 examples, round trips, bounds, and fuzzing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faxcast.errors import FaxcastError
from faxcast.sip.errors import SipSyntaxError
from faxcast.sip.message import (
    MAX_DATAGRAM,
    MAX_HEADERS,
    SipMessage,
    SipRequest,
    SipResponse,
    parse_message,
)
from faxcast.sip.uri import NameAddr, SipUri

DATA = Path(__file__).parent / "sipdata"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def same(a: SipMessage, b: SipMessage) -> bool:
    """Equal but for Content-Length, which serialising always writes (from the body)."""

    def fields(m: SipMessage) -> list[tuple[str, str]]:
        return [f for f in m.headers if f[0] != "Content-Length"]

    return fields(a) == fields(b) and a.body == b.body and type(a) is type(b)


def test_rfc3665_invite_fields_and_round_trip() -> None:
    data = load("rfc3665-invite.sip")
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    assert message.method == "INVITE"
    assert message.uri == SipUri("biloxi.example.com", "bob")
    assert message.via.branch == "z9hG4bK74bf9"
    assert message.via.transport == "TCP"
    assert message.via.sent_by() == ("client.atlanta.example.com", 5060)
    assert message.from_.tag == "9fxced76sl"
    assert message.from_.display == "Alice"
    assert message.to.tag is None
    assert message.call_id == "3848276298220188511@atlanta.example.com"
    assert (message.cseq.seq, message.cseq.method) == (1, "INVITE")
    assert message.max_forwards == 70
    assert message.contacts[0].uri.param("transport") == "tcp"
    assert message.content_type == "application/sdp"
    assert len(message.body) == 151
    assert bytes(message) == data  # already in canonical form: byte for byte


def test_rfc3665_407_keeps_its_folded_challenge_in_one_header() -> None:
    message = parse_message(load("rfc3665-407.sip"))
    assert isinstance(message, SipResponse)
    assert (message.status, message.reason) == (407, "Proxy Authorization Required")
    assert message.via.received == "192.0.2.101"
    assert message.via.response_address() == ("192.0.2.101", 5060)
    challenge = message.headers.values("Proxy-Authenticate")
    assert len(challenge) == 1
    assert 'nonce="f84f1cec41e6cbe5aea9c8e88d359"' in challenge[0]
    assert message.body == b""


def test_rfc3665_200_lists_vias_and_record_routes_in_order() -> None:
    message = parse_message(load("rfc3665-200.sip"))
    assert [via.branch for via in message.vias] == [
        "z9hG4bK721e4.1",
        "z9hG4bK2d4790.1",
        "z9hG4bK74bf9",
    ]
    routes = [NameAddr.parse(value) for value in message.headers.values("Record-Route")]
    assert [route.uri.host for route in routes] == [
        "ss2.biloxi.example.com",
        "ss1.atlanta.example.com",
    ]
    assert all(route.uri.params == (("lr", None),) for route in routes)
    assert message.to.tag == "314159"
    again = parse_message(bytes(message))
    assert same(again, message)


def test_rfc4475_short_tortuous_invite_is_well_formed() -> None:
    message = parse_message(load("rfc4475-wsinv.sip"))
    assert isinstance(message, SipRequest)
    assert message.uri.params == (("unknownparam", None),)
    assert message.to.tag == "1918181833n"
    assert message.from_.tag == "98asjd8"
    assert message.from_.display == '"J Rosenberg \\\\\\""'
    assert message.max_forwards == 68
    assert (message.cseq.seq, message.cseq.method) == (9, "INVITE")
    vias = message.vias
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert message.headers.get("Subject") == ""
    assert message.headers.get("newfangledheader") == (
        "newfangled value continued newfangled value"
    )
    assert message.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = message.contacts
    assert contact.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    assert len(message.body) == 150
    assert same(parse_message(bytes(message)), message)


def test_compact_forms_expand_and_list_headers_split() -> None:
    message = parse_message(
        b"OPTIONS sip:x@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,"
        b" SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n"
        b"f: <sip:a@example.com>;tag=1\r\nt: <sip:x@example.com>\r\ni: c@d\r\n"
        b"CSeq: 5 OPTIONS\r\nk: timer, 100rel\r\nl: 0\r\n\r\n"
    )
    assert [v.host for v in message.vias] == ["a.example.com", "b.example.com"]
    assert message.headers.values("Supported") == ["timer", "100rel"]
    assert message.call_id == "c@d"
    assert b"Call-ID: c@d" in bytes(message)


def test_a_folded_header_is_one_value_and_a_fold_before_any_header_is_refused() -> None:
    head = "INVITE sip:u@example.com SIP/2.0\r\n"
    message = parse_message((head + HEADERS + "X-Note: a\r\n\t folded\r\n\r\n").encode())
    assert message.headers.get("X-Note") == "a folded"
    with pytest.raises(SipSyntaxError, match="continuation line before any header"):
        parse_message((head + " folded\r\n" + HEADERS + "\r\n").encode())


def test_uris_with_ipv6_ports_passwords_and_params() -> None:
    uri = SipUri.parse("sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr?subject=fax")
    assert (uri.scheme, uri.user, uri.password) == ("sips", "alice", "secret")
    assert (uri.host, uri.port) == ("2001:db8::10", 5061)
    assert uri.params == (("transport", "tcp"), ("lr", None))
    assert uri.headers == "subject=fax"
    assert SipUri.parse(str(uri)) == uri
    assert str(SipUri("::1", "fax", 5060)) == "sip:fax@[::1]:5060"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no blank line"),
        (b"OPTIONS sip:t.watson@example.org SIP/7.0\r\n\r\n", "neither a request"),
        (b"INVITE <sip:user@example.com> SIP/2.0\r\n\r\n", "not a sip: URI"),
        (b"INVITE sip:user@example.com; lr SIP/2.0\r\n\r\n", "neither a request"),
        (b"OPTIONS nobodyknowsthisscheme:opaque SIP/2.0\r\n\r\n", "not a sip: URI"),
        (b"SIP/2.0 99 Weird\r\n\r\n", "bad status code"),
    ],
)
def test_bad_start_lines_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(SipSyntaxError, match=reason):
        parse_message(data)


HEADERS = (
    "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\n"
    "To: <sip:b@h>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (HEADERS + "Content-Length: 10\r\n", "more than the 0 bytes"),
        (HEADERS + "Content-Length: -999\r\n", "bad Content-Length"),
        (HEADERS + "Content-Length: 0\r\nl: 0\r\n", "bad Content-Length"),
        (HEADERS + "Max-Forwards: 300\r\n", "bad Max-Forwards"),
        (HEADERS.replace("1 INVITE", "36893488147419103232 INVITE"), "CSeq"),
        (HEADERS.replace("1 INVITE", "1 BYE"), "CSeq method differs"),
        (HEADERS.replace("Call-ID: c1\r\n", ""), "missing Call-ID"),
        (HEADERS.replace("Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKx\r\n", ""), "Via"),
        (HEADERS.replace("<sip:b@h>", '"Watson <sip:b@h>'), "unterminated"),
        (HEADERS.replace("SIP/2.0/UDP", "SIP/3.0/UDP"), "Via lacks"),
        (HEADERS + "Bad Header: x\r\n", "bad header line"),
    ],
)
def test_bad_headers_are_refused_with_the_reason(headers: str, reason: str) -> None:
    data = ("INVITE sip:u@example.com SIP/2.0\r\n" + headers + "\r\n").encode()
    with pytest.raises(SipSyntaxError, match=reason):
        parse_message(data)


def test_oversized_datagrams_and_too_many_headers_are_refused() -> None:
    head = "INVITE sip:u@example.com SIP/2.0\r\n" + HEADERS
    with pytest.raises(SipSyntaxError, match="over 65536"):
        parse_message((head + "\r\n").encode() + b"x" * MAX_DATAGRAM)
    many = head + "X-Pad: 1\r\n" * MAX_HEADERS + "\r\n"
    with pytest.raises(SipSyntaxError, match="more than 128 header"):
        parse_message(many.encode())


def test_the_error_is_a_faxcast_error_with_a_translated_message() -> None:
    with pytest.raises(FaxcastError) as caught:
        parse_message(b"\xff\xfe\r\n\r\n")
    assert caught.value.message.code == "sip.malformed"
    assert "not UTF-8" in str(caught.value)


SAMPLES = [load(name) for name in sorted(p.name for p in DATA.glob("*.sip"))]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    at=st.integers(0, 1200),
    cut=st.integers(0, 40),
    junk=st.binary(max_size=12),
)
def test_mutated_messages_parse_or_raise_only_sip_syntax_error(
    sample: bytes, at: int, cut: int, junk: bytes
) -> None:
    data = sample[:at] + junk + sample[at + cut :]
    try:
        message = parse_message(data)
    except SipSyntaxError:
        return
    again = parse_message(bytes(message))  # what we serialise, we parse back the same
    assert same(again, message)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_sip_syntax_error(data: bytes) -> None:
    with contextlib.suppress(SipSyntaxError):
        parse_message(data)
