"""SDP for fax calls: G.711 and T.38 offers as peers write them, our answers, and bad input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faxcast.domain.codec import Codec
from faxcast.sip.errors import SdpSyntaxError, SipSyntaxError
from faxcast.sip.sdp import (
    MAX_SDP_LINES,
    Origin,
    SessionDescription,
    answer_audio,
    answer_t38,
    answer_t38_params,
    audio_media,
    audio_stream,
    offer,
    read_t38,
    t38_media,
    t38_stream,
)
from faxcast.sip.t38 import ErrorCorrection, RateManagement, T38Params

US = Origin("127.0.0.1", 42, 1)


def sdp(*lines: str) -> SessionDescription:
    return SessionDescription.parse(("\r\n".join(lines) + "\r\n").encode())


FREESWITCH_T38 = (
    "v=0",
    "o=FreeSWITCH 1700000000 1700000001 IN IP4 192.0.2.10",
    "s=FreeSWITCH",
    "c=IN IP4 192.0.2.10",
    "t=0 0",
    "m=image 30000 udptl t38",
    "a=T38FaxVersion:0",
    "a=T38MaxBitRate:14400",
    "a=T38FaxFillBitRemoval",
    "a=T38FaxRateManagement:transferredTCF",
    "a=T38FaxMaxBuffer:2000",
    "a=T38FaxMaxDatagram:400",
    "a=T38FaxUdpEC:t38UDPRedundancy",
)
CISCO_T38 = (
    "v=0",
    "o=CiscoSystemsSIP-GW-UserAgent 1234 5678 IN IP4 192.0.2.20",
    "s=SIP Call",
    "t=0 0",
    "m=image 16384 udptl t38",
    "c=IN IP4 192.0.2.20",
    "a=T38FaxVersion:0",
    "a=T38MaxBitRate:9600",
    "a=T38FaxFillBitRemoval:1",
    "a=T38FaxTranscodingMMR:0",
    "a=T38FaxTranscodingJBIG:0",
    "a=T38FaxRateManagement:transferredTCF",
    "a=T38FaxMaxBuffer:200",
    "a=T38FaxMaxDatagram:320",
    "a=T38FaxUdpEC:t38UDPFEC",
)
ASTERISK_ALIASES = (
    "v=0",
    "o=- 99 2 IN IP6 2001:db8::5",
    "s=Asterisk",
    "c=IN IP6 2001:db8::5",
    "t=0 0",
    "m=audio 0 RTP/AVP 8",
    "m=image 4000 udptl t38",
    "a=T38FaxVersion:1",
    "a=T38FaxMaxRate:9600",
    "a=T38MaxDatagram:272",
    "a=t38faxratemanagement:localTCF",
)


def test_freeswitch_offer_with_bare_booleans() -> None:
    stream = t38_stream(sdp(*FREESWITCH_T38))
    assert stream is not None
    assert (stream.address, stream.port, stream.numeric_booleans) == ("192.0.2.10", 30000, False)
    assert stream.params == T38Params(
        version=0,
        max_bit_rate=14400,
        rate_management=RateManagement.TRANSFERRED_TCF,
        max_buffer=2000,
        max_datagram=400,
        error_correction=ErrorCorrection.REDUNDANCY,
        fill_bit_removal=True,
    )


def test_cisco_offer_with_numeric_booleans_fec_and_media_level_connection() -> None:
    stream = t38_stream(sdp(*CISCO_T38))
    assert stream is not None
    assert stream.numeric_booleans
    assert stream.address == "192.0.2.20"
    assert stream.params.fill_bit_removal
    assert not stream.params.mmr
    assert not stream.params.jbig
    assert stream.params.error_correction is ErrorCorrection.FEC
    assert (stream.params.max_buffer, stream.params.max_datagram) == (200, 320)


def test_asterisk_aliases_refused_audio_and_ipv6() -> None:
    description = sdp(*ASTERISK_ALIASES)
    assert audio_stream(description) is None  # port 0: refused
    stream = t38_stream(description)
    assert stream is not None
    assert stream.address == "2001:db8::5"
    assert stream.params.version == 1
    assert stream.params.max_bit_rate == 9600
    assert stream.params.max_datagram == 272
    assert stream.params.rate_management is RateManagement.LOCAL_TCF
    assert stream.params.max_buffer is None
    assert stream.params.error_correction is ErrorCorrection.NONE


def test_answer_to_freeswitch_keeps_bare_booleans_and_redundancy() -> None:
    answered = answer_t38(sdp(*FREESWITCH_T38), US, 5002)
    assert answered is not None
    answer, peer = answered
    assert peer.port == 30000
    text = bytes(answer).decode()
    assert "m=image 5002 udptl t38\r\n" in text
    assert "a=T38FaxFillBitRemoval\r\n" in text
    assert "T38FaxTranscodingMMR" not in text
    assert "a=T38FaxUdpEC:t38UDPRedundancy\r\n" in text
    assert "a=T38FaxRateManagement:transferredTCF\r\n" in text
    mine = t38_stream(SessionDescription.parse(bytes(answer)))
    assert mine is not None
    assert mine.params.max_datagram == 400


def test_answer_to_cisco_speaks_numeric_booleans_and_answers_fec_with_redundancy() -> None:
    answered = answer_t38(sdp(*CISCO_T38), US, 5002)
    assert answered is not None
    text = bytes(answered[0]).decode()
    assert "a=T38FaxFillBitRemoval:0\r\n" in text  # not to a Cisco, as FreeSWITCH does
    assert "a=T38FaxTranscodingMMR:0\r\n" in text
    assert "a=T38FaxUdpEC:t38UDPRedundancy\r\n" in text
    assert "a=T38MaxBitRate:9600\r\n" in text


def test_answer_keeps_the_refused_audio_line_in_its_place() -> None:
    answered = answer_t38(sdp(*ASTERISK_ALIASES), US, 5002)
    assert answered is not None
    kinds = [(m.kind, m.port) for m in answered[0].media]
    assert kinds == [("audio", 0), ("image", 5002)]
    params = t38_stream(answered[0])
    assert params is not None
    assert params.params.error_correction is ErrorCorrection.NONE  # none was offered
    assert params.params.rate_management is RateManagement.TRANSFERRED_TCF


@pytest.mark.parametrize(("offered", "answered"), [(0, 0), (2, 2), (3, 3), (4, 3)])
def test_the_answered_version_is_capped_at_3(offered: int, answered: int) -> None:
    assert answer_t38_params(T38Params(version=offered)).version == answered


def test_audio_answer_takes_our_preference_and_ignores_telephone_event() -> None:
    offer_sdp = sdp(
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
        "m=audio 40000 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
    )
    stream = audio_stream(offer_sdp)
    assert stream is not None
    assert stream.codecs == (Codec.PCMU, Codec.PCMA)
    answer = answer_audio(offer_sdp, US, 6000, (Codec.PCMA, Codec.PCMU))
    assert answer is not None
    mine = audio_stream(answer)
    assert mine is not None
    assert (mine.port, mine.codecs) == (6000, (Codec.PCMA,))
    assert b"telephone-event" not in bytes(answer)


def test_audio_answer_is_none_without_a_common_codec() -> None:
    g729 = sdp(
        "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "m=audio 4 RTP/AVP 18"
    )
    assert answer_audio(g729, US, 6000, (Codec.PCMA,)) is None


def test_our_offers_round_trip() -> None:
    params = T38Params(max_bit_rate=9600, error_correction=ErrorCorrection.FEC, mmr=True)
    description = offer(US, audio_media(4000, (Codec.PCMA, Codec.PCMU)), t38_media(4002, params))
    again = SessionDescription.parse(bytes(description))
    assert again == description
    stream = t38_stream(again)
    assert stream is not None
    assert stream.params == params


@settings(max_examples=200, deadline=None)
@given(
    params=st.builds(
        T38Params,
        version=st.integers(0, 3),
        max_bit_rate=st.sampled_from([2400, 4800, 9600, 14400, 33600]),
        rate_management=st.sampled_from(RateManagement),
        max_buffer=st.none() | st.integers(1, 10**6),
        max_datagram=st.none() | st.integers(1, 1400),
        error_correction=st.sampled_from(ErrorCorrection),
        fill_bit_removal=st.booleans(),
        mmr=st.booleans(),
        jbig=st.booleans(),
    ),
    numeric=st.booleans(),
)
def test_t38_parameters_survive_both_boolean_styles(params: T38Params, numeric: bool) -> None:
    media = t38_media(4002, params, numeric_booleans=numeric)
    parsed = SessionDescription.parse(bytes(offer(US, media))).media[0]
    assert read_t38(parsed) == (params, numeric or False)


IMAGE = ("v=0", "o=- 1 1 IN IP4 h", "c=IN IP4 h", "m=image 4 udptl t38")


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (("v=1", "o=- 1 1 IN IP4 h"), "v=0"),
        (("v=0", "s=-"), "o= must follow"),
        (("v=0", "o=- 1 IN IP4 h"), "six fields"),
        (("v=0", "o=- 1 1 IN IP4 h", "m=audio 70000 RTP/AVP 0"), "bad port"),
        (("v=0", "o=- 1 1 IN IP4 h", "m=audio"), "m= needs"),
        (("v=0", "o=- 1 1 IN IP4 h", "c=IN IP6 not-an-address"), "IPv6"),
        ((*IMAGE, "a=T38FaxVersion:x"), "number"),
        ((*IMAGE, "a=T38FaxTranscodingMMR:2"), "neither bare"),
        ((*IMAGE, "a=T38FaxUdpEC:magic"), "unknown"),
        (("v=0", "o=- 1 1 IN IP4 h", "junk"), "bad line"),
    ],
)
def test_malformed_sdp_is_refused_with_the_reason(lines: tuple[str, ...], reason: str) -> None:
    with pytest.raises(SdpSyntaxError, match=reason) as caught:
        t38_stream(sdp(*lines))
    assert caught.value.message.code == "sdp.malformed"
    assert isinstance(caught.value, SipSyntaxError)


def test_too_many_lines_and_bad_utf8_are_refused() -> None:
    with pytest.raises(SdpSyntaxError, match="more than"):
        sdp("v=0", "o=- 1 1 IN IP4 h", *["a=x"] * MAX_SDP_LINES)
    with pytest.raises(SdpSyntaxError, match="UTF-8"):
        SessionDescription.parse(b"v=0\r\no=\xff\r\n")


SAMPLES = [
    ("\r\n".join(s) + "\r\n").encode() for s in (FREESWITCH_T38, CISCO_T38, ASTERISK_ALIASES)
]


@settings(max_examples=300, deadline=None)
@given(
    sample=st.sampled_from(SAMPLES),
    at=st.integers(0, 500),
    cut=st.integers(0, 20),
    junk=st.binary(max_size=8),
)
def test_mutated_sdp_raises_only_sdp_syntax_error(
    sample: bytes, at: int, cut: int, junk: bytes
) -> None:
    with contextlib.suppress(SdpSyntaxError):
        description = SessionDescription.parse(sample[:at] + junk + sample[at + cut :])
        t38_stream(description)
        audio_stream(description)
        answer_t38(description, US, 5002)
        answer_audio(description, US, 5000, (Codec.PCMA,))
