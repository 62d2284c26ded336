"""faxcast's UDPTL (T.38) and RTP (G.711) against rtpengine's T.38 <-> G.711 gateway.

rtpengine (Debian's rtpengine-daemon, in userspace) runs SpanDSP's T.38 gateway with its own
UDPTL and RTP code: nothing of faxcast's. One faxcast end speaks T.38 to it, the other G.711,
over loopback in real time, and the received page must equal the sent one. The SDP both ends
hand to rtpengine and read back is built and parsed by faxcast.sip.sdp, as a call would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from faxcast.documents import FaxDocument, read_tiff_f, render_pdf, write_tiff_f
from faxcast.domain.quality import Quality
from faxcast.domain.retry import call_cap_s
from faxcast.fax.engine import Codec, Incoming, Outgoing
from faxcast.lines.sip.media import Ending, FaxEnd, FaxMedia, MediaOutcome
from faxcast.sip import sdp
from faxcast.sip.media_port import MediaPort, open_media_port
from faxcast.sip.t38 import ErrorCorrection, T38Params
from faxcast.sip.udptl import UdptlReceiver
from tests import pdfs
from tests.faxpages import assert_identical
from tests.peers.daemons import require_binary, running_daemon, wait_until
from tests.peers.relay import LossyRelay
from tests.peers.rtpengine import T38_DECODE, T38_FORCE, NgClient, Rtpengine, rtpengine_daemon

HOST = "127.0.0.1"
NORMAL = Quality.NORMAL.profile
CALL_TIMEOUT_S = 90.0
CAPTURE_S = 120  # tshark's own bound, should the test die without stopping it
CAPTURE_START_S = 10.0
TSHARK_READ_S = 30.0


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


def _t38_to_audio(
    ng: NgClient,
    call_id: str,
    t38_end: FaxMedia,
    audio_end: FaxMedia,
    udptl: MediaPort,
    offered: T38Params,
    relay: LossyRelay | None = None,
) -> sdp.T38Stream:
    """`t38_end` offers T.38 on `udptl`, rtpengine decodes it to G.711 for `audio_end`; both start.

    With a relay, the UDPTL leg goes through it both ways. Returns rtpengine's T.38 answer,
    as our SDP parser read it.
    """
    rtp = open_media_port(HOST, even=True)
    advertised = udptl.local if relay is None else relay.address("b")
    t38_offer = sdp.offer(sdp.Origin(HOST), sdp.t38_media(advertised[1], offered))
    audio_offer = _description(ng.offer(call_id, "fax", bytes(t38_offer).decode(), t38=T38_DECODE))
    towards_gateway = sdp.audio_stream(audio_offer)
    assert towards_gateway is not None, audio_offer
    audio_answer = sdp.answer_audio(audio_offer, sdp.Origin(HOST), rtp.local[1], (sdp.Codec.PCMA,))
    assert audio_answer is not None, audio_offer
    t38_answer = _description(ng.answer(call_id, "fax", "phone", bytes(audio_answer).decode()))
    far = sdp.t38_stream(t38_answer)
    assert far is not None, t38_answer
    remote = (far.address, far.port)
    if relay is not None:
        relay.connect(udptl.local, remote)
        remote = relay.address("a")
    t38_end.start_t38(udptl, remote, far.params)
    audio_end.start_audio(rtp, (towards_gateway.address, towards_gateway.port), Codec.PCMA)
    return far


def _audio_to_t38(ng: NgClient, call: Call, call_id: str, udptl: MediaPort) -> sdp.T38Stream:
    """The sender offers G.711, rtpengine forces T.38 towards the receiver on `udptl`; both start.

    Returns rtpengine's T.38 offer to the receiver, as our SDP parser read it.
    """
    rtp = open_media_port(HOST, even=True)
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


@contextmanager
def _capture(path: Path, port: int) -> Iterator[Path]:
    """tshark on loopback, UDP `port`, into `path` while the block runs (CAPTURE_S at most)."""
    binary = require_binary("tshark", "tshark")
    argv = [binary, "-i", "lo", "-f", f"udp port {port}", "-a", f"duration:{CAPTURE_S}"]
    log = path.with_suffix(".log")
    with running_daemon("tshark", [*argv, "-w", str(path)], log, cwd=path.parent) as daemon:
        wait_until(
            lambda: True if "Capture started" in log.read_text(errors="replace") else None,
            timeout_s=CAPTURE_START_S,
            what="tshark to start capturing",
            daemon=daemon,
        )
        yield path


@dataclasses.dataclass(frozen=True)
class Dissected:
    """One captured datagram as Wireshark's T.38 dissector saw it."""

    protocol: str
    malformed: bool
    payload: bytes


def _dissect(pcap: Path, source_port: int) -> list[Dissected]:
    """The datagrams sent from `source_port`, decoded as UDPTL (T.38 Annex D) by tshark."""
    fields = ["_ws.col.Protocol", "_ws.malformed", "udp.payload"]
    argv = ["tshark", "-r", str(pcap), "-d", f"udp.port=={source_port},t38"]
    argv += ["-Y", f"udp.srcport=={source_port}", "-T", "fields", "-E", "occurrence=f"]
    argv += [arg for name in fields for arg in ("-e", name)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TSHARK_READ_S, check=True)
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    return [Dissected(row[0], bool(row[1]), bytes.fromhex(row[2])) for row in rows]


def _assert_clean_t38(datagrams: list[Dissected]) -> None:
    """Every datagram is T.38 to Wireshark; any it flags is a byte-identical repeat of a clean one.

    SpanDSP asks for the end of a signal to be sent three times under one sequence number (as
    rtpengine does too); Wireshark's fragment tracker flags the second and third copies of a
    `t4-non-ecm-sig-end` or `hdlc-fcs-OK-sig-end` ("end of fragment without any fragment
    data"), not their bytes.
    """
    assert len(datagrams) >= 50
    assert {datagram.protocol for datagram in datagrams} == {"T.38"}
    clean = {datagram.payload for datagram in datagrams if not datagram.malformed}
    flagged = [datagram.payload for datagram in datagrams if datagram.malformed]
    assert all(payload in clean for payload in flagged), flagged


def _assert_delivered(call: Call, sender: MediaOutcome, receiver: MediaOutcome) -> None:
    for outcome in (sender, receiver):
        assert outcome.ending is Ending.PHASE_E
        assert outcome.fax is not None
        assert outcome.fax.success, outcome.fax.summary()
    assert sender.fax is not None
    assert sender.fax.pages_confirmed == sender.fax.pages_total == 1
    assert_identical(call.sent, call.received())


@pytest.mark.slow
@pytest.mark.parametrize("protection", [ErrorCorrection.REDUNDANCY, ErrorCorrection.FEC])
def test_a_page_sent_over_t38_arrives_identical_on_g711_through_rtpengine(
    gateway: Rtpengine, tmp_path: Path, protection: ErrorCorrection
) -> None:
    async def main() -> list[Dissected]:
        call = _call(tmp_path, "t38-to-pcma")
        udptl = open_media_port(HOST)
        port = udptl.local[1]
        offered = T38Params(error_correction=protection)
        with _capture(tmp_path / "t38-to-pcma.pcap", port) as pcap, gateway.client() as ng:
            far = _t38_to_audio(ng, "t38-to-pcma", call.sender, call.receiver, udptl, offered)
            sender, receiver = await call.outcomes()
            ng.delete("t38-to-pcma")
        assert (far.params.max_datagram, far.params.max_buffer) == (512, 1800)  # rtpengine's
        assert far.params.error_correction is protection  # rtpengine follows the offer
        _assert_delivered(call, sender, receiver)
        assert sender.t38
        assert not receiver.t38
        assert sender.stats.udptl is not None
        assert sender.stats.udptl.lost == sender.stats.udptl.malformed == 0
        assert receiver.stats.rtp is not None
        assert receiver.stats.rtp.malformed == receiver.stats.rtp.other_payload == 0
        datagrams = _dissect(pcap, port)
        assert max(len(datagram.payload) for datagram in datagrams) <= 512
        return datagrams

    _assert_clean_t38(asyncio.run(main()))


@pytest.mark.slow
def test_a_page_sent_over_g711_arrives_identical_over_t38_through_rtpengine(
    gateway: Rtpengine, tmp_path: Path
) -> None:
    async def main() -> list[Dissected]:
        call = _call(tmp_path, "pcma-to-t38")
        udptl = open_media_port(HOST)
        port = udptl.local[1]
        with _capture(tmp_path / "pcma-to-t38.pcap", port) as pcap, gateway.client() as ng:
            _audio_to_t38(ng, call, "pcma-to-t38", udptl)
            sender, receiver = await call.outcomes()
            ng.delete("pcma-to-t38")
        _assert_delivered(call, sender, receiver)
        assert receiver.t38
        assert not sender.t38
        assert receiver.stats.udptl is not None
        assert receiver.stats.udptl.lost == receiver.stats.udptl.malformed == 0
        assert sender.stats.rtp is not None
        assert sender.stats.rtp.malformed == sender.stats.rtp.other_payload == 0
        return _dissect(pcap, port)

    _assert_clean_t38(asyncio.run(main()))


@pytest.mark.slow
def test_fec_both_ways_with_rtpengine_repairs_a_lossy_udptl_leg(
    gateway: Rtpengine, tmp_path: Path
) -> None:
    """The receiver offers T.38 with parity FEC; rtpengine answers FEC and sends the page so."""

    async def main() -> None:
        call = _call(tmp_path, "fec")
        relay = LossyRelay(drop=0.01, jitter_s=0.020, seed=38)
        await relay.open(HOST)
        fec = T38Params(error_correction=ErrorCorrection.FEC)
        try:
            with gateway.client() as ng:
                udptl = open_media_port(HOST)
                far = _t38_to_audio(ng, "fec", call.receiver, call.sender, udptl, fec, relay)
                sender, receiver = await call.outcomes()
                ng.delete("fec")
        finally:
            relay.close()
        assert far.params.error_correction is ErrorCorrection.FEC
        _assert_delivered(call, sender, receiver)
        assert receiver.t38
        assert not sender.t38
        assert sum(path.dropped for path in relay.stats.values()) >= 1
        stats = receiver.stats.udptl
        assert stats is not None
        assert stats.recovered >= 1
        assert stats.malformed == stats.lost == 0

    asyncio.run(main())


# rtpengine's first FEC packet (captured): seq 0, the no-signal indicator, FEC over a span of 1
# with no parity entry yet; rtpengine winds its FEC up over the first packets. Asterisk's
# udptl_build_packet does the same with span 0 while the sequence number is below the span.
RTPENGINE_FEC_FIRST = bytes.fromhex("0000010080010100")
ASTERISK_FEC_FIRST = bytes.fromhex("0000010080010000")
RTPENGINE_FEC_SECOND = bytes.fromhex("00010106800101010100")  # seq 1: CED, one parity entry


@pytest.mark.parametrize(
    "first", [RTPENGINE_FEC_FIRST, ASTERISK_FEC_FIRST], ids=["rtpengine", "asterisk"]
)
def test_a_fec_packet_with_no_parity_entry_yet_is_accepted(first: bytes) -> None:
    delivered: list[tuple[int, bytes]] = []
    receiver = UdptlReceiver(lambda ifp, sequence: delivered.append((sequence, ifp)))
    for data in (first, first, first, RTPENGINE_FEC_SECOND):
        receiver.datagram(data)
    assert delivered == [(0, b"\x00"), (1, b"\x06")]
    assert receiver.stats.malformed == 0
