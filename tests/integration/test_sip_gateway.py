"""faxcast's UDPTL (T.38) and RTP (G.711) against rtpengine's T.38 <-> G.711 gateway.

rtpengine (Debian's rtpengine-daemon, in userspace) runs SpanDSP's T.38 gateway with its own
UDPTL and RTP code: nothing of faxcast's. One faxcast end speaks T.38 to it, the other G.711,
over loopback in real time, and the received page must equal the sent one. The SDP both ends
hand to rtpengine and read back is built and parsed by faxcast.sip.sdp, as a call would.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from faxcast.documents import FaxDocument, read_tiff_f, render_pdf, write_tiff_f
from faxcast.domain.quality import Quality
from faxcast.domain.retry import call_cap_s
from faxcast.fax.engine import Codec, Incoming, Outgoing
from faxcast.lines.sip.media import Ending, FaxEnd, FaxMedia, MediaOutcome
from faxcast.sip import sdp
from faxcast.sip.media_port import open_media_port
from faxcast.sip.t38 import ErrorCorrection, T38Params
from tests import pdfs
from tests.faxpages import assert_identical
from tests.peers.rtpengine import T38_DECODE, T38_FORCE, NgClient, Rtpengine, rtpengine_daemon

HOST = "127.0.0.1"
NORMAL = Quality.NORMAL.profile
CALL_TIMEOUT_S = 90.0


@dataclasses.dataclass
class Call:
    """Both faxcast ends of a call through the gateway, and the document they exchange."""

    sender: FaxMedia
    receiver: FaxMedia
    sent: FaxDocument
    received_path: Path

    async def outcomes(self) -> tuple[MediaOutcome, MediaOutcome]:
        both = asyncio.gather(self.sender.wait(), self.receiver.wait())
        return await asyncio.wait_for(both, CALL_TIMEOUT_S)

    def received(self) -> FaxDocument:
        return read_tiff_f(self.received_path.read_bytes())


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Rtpengine]:
    with rtpengine_daemon(tmp_path / "rtpengine") as engine:
        yield engine


def _call(tmp_path: Path, name: str) -> Call:
    sent = render_pdf(pdfs.short_page_pdf(), NORMAL.resolution)
    path = tmp_path / f"{name}-sent.tif"
    path.write_bytes(write_tiff_f(sent))
    document = Outgoing.from_file(path)
    received = tmp_path / f"{name}-received.tif"
    cap = call_cap_s(document.pages)
    sender = FaxMedia(FaxEnd(document, NORMAL, calling=True), cap_s=cap)
    receiver = FaxMedia(FaxEnd(Incoming(received), NORMAL, calling=False), cap_s=cap)
    return Call(sender, receiver, sent, received)


def _description(text: str) -> sdp.SessionDescription:
    return sdp.SessionDescription.parse(text.encode())


def _t38_to_audio(ng: NgClient, call: Call, call_id: str, offered: T38Params) -> sdp.T38Stream:
    """The sender offers T.38, rtpengine decodes it to G.711 for the receiver; both start.

    Returns rtpengine's T.38 answer to the sender, as our SDP parser read it.
    """
    udptl, rtp = open_media_port(HOST), open_media_port(HOST, even=True)
    t38_offer = sdp.offer(sdp.Origin(HOST), sdp.t38_media(udptl.local[1], offered))
    audio_offer = _description(ng.offer(call_id, "fax", bytes(t38_offer).decode(), t38=T38_DECODE))
    towards_gateway = sdp.audio_stream(audio_offer)
    assert towards_gateway is not None, audio_offer
    audio_answer = sdp.answer_audio(audio_offer, sdp.Origin(HOST), rtp.local[1], (sdp.Codec.PCMA,))
    assert audio_answer is not None, audio_offer
    t38_answer = _description(ng.answer(call_id, "fax", "phone", bytes(audio_answer).decode()))
    far = sdp.t38_stream(t38_answer)
    assert far is not None, t38_answer
    call.sender.start_t38(udptl, (far.address, far.port), far.params)
    call.receiver.start_audio(rtp, (towards_gateway.address, towards_gateway.port), Codec.PCMA)
    return far


def _audio_to_t38(ng: NgClient, call: Call, call_id: str) -> sdp.T38Stream:
    """The sender offers G.711, rtpengine forces T.38 towards the receiver; both start.

    Returns rtpengine's T.38 offer to the receiver, as our SDP parser read it.
    """
    rtp, udptl = open_media_port(HOST, even=True), open_media_port(HOST)
    audio_offer = sdp.offer(sdp.Origin(HOST), sdp.audio_media(rtp.local[1], (sdp.Codec.PCMA,)))
    t38_offer = _description(ng.offer(call_id, "fax", bytes(audio_offer).decode(), t38=T38_FORCE))
    answered = sdp.answer_t38(t38_offer, sdp.Origin(HOST), udptl.local[1])
    assert answered is not None, t38_offer
    t38_answer, far = answered
    audio_answer = _description(ng.answer(call_id, "fax", "phone", bytes(t38_answer).decode()))
    towards_gateway = sdp.audio_stream(audio_answer)
    assert towards_gateway is not None, audio_answer
    assert towards_gateway.codecs == (sdp.Codec.PCMA,)
    call.sender.start_audio(rtp, (towards_gateway.address, towards_gateway.port), Codec.PCMA)
    call.receiver.start_t38(udptl, (far.address, far.port), far.params)
    return far


def _assert_delivered(call: Call, sender: MediaOutcome, receiver: MediaOutcome) -> None:
    for outcome in (sender, receiver):
        assert outcome.ending is Ending.PHASE_E
        assert outcome.fax is not None
        assert outcome.fax.success, outcome.fax.summary()
    assert sender.fax is not None
    assert sender.fax.pages_confirmed == sender.fax.pages_total == 1
    assert_identical(call.sent, call.received())


@pytest.mark.slow
def test_a_page_sent_over_t38_arrives_identical_on_g711_through_rtpengine(
    gateway: Rtpengine, tmp_path: Path
) -> None:
    async def main() -> None:
        call = _call(tmp_path, "t38-to-pcma")
        with gateway.client() as ng:
            far = _t38_to_audio(ng, call, "t38-to-pcma", T38Params())
            sender, receiver = await call.outcomes()
            ng.delete("t38-to-pcma")
        assert far.params.error_correction is ErrorCorrection.REDUNDANCY
        _assert_delivered(call, sender, receiver)
        assert sender.t38 and not receiver.t38
        assert sender.stats.udptl is not None
        assert sender.stats.udptl.lost == sender.stats.udptl.malformed == 0
        assert receiver.stats.rtp is not None
        assert receiver.stats.rtp.malformed == 0

    asyncio.run(main())


@pytest.mark.slow
def test_a_page_sent_over_g711_arrives_identical_over_t38_through_rtpengine(
    gateway: Rtpengine, tmp_path: Path
) -> None:
    async def main() -> None:
        call = _call(tmp_path, "pcma-to-t38")
        with gateway.client() as ng:
            _audio_to_t38(ng, call, "pcma-to-t38")
            sender, receiver = await call.outcomes()
            ng.delete("pcma-to-t38")
        _assert_delivered(call, sender, receiver)
        assert receiver.t38 and not sender.t38
        assert receiver.stats.udptl is not None
        assert receiver.stats.udptl.lost == receiver.stats.udptl.malformed == 0

    asyncio.run(main())
