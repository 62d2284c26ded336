"""faxcast's UDPTL (T.38) and RTP (G.711) against rtpengine's T.38 <-> G.711 gateway.

rtpengine (Debian's rtpengine-daemon, in userspace) runs SpanDSP's T.38 gateway with its own
UDPTL and RTP code: nothing of faxcast's. One faxcast end speaks T.38 to it, the other G.711,
over loopback in real time, and the received page must equal the sent one. The SDP both ends
hand to rtpengine and read back is built and parsed by faxcast.sip.sdp, as a call would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from faxcast.documents import FaxDocument, read_tiff_f, render_pdf, write_tiff_f
from faxcast.domain.codec import Codec
from faxcast.domain.quality import Quality
from faxcast.domain.retry import call_cap_s
from faxcast.fax.engine import Incoming, Outgoing
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
    cap = call_cap_s(document.page_bits, NORMAL)
    sender = FaxMedia(FaxEnd(document, NORMAL, calling=True), cap_s=cap)
    receiver = FaxMedia(FaxEnd(Incoming(received), NORMAL, calling=False), cap_s=cap)
    return Call(sender, receiver, sent, received)


def _description(text: str) -> sdp.SessionDescription:
    return sdp.SessionDescription.parse(text.encode())


@dataclasses.dataclass
class Ports:
    """Our two media ports of a gateway call: the T.38 end's UDPTL, the G.711 end's RTP."""

    udptl: MediaPort = dataclasses.field(default_factory=lambda: open_media_port(HOST))
    rtp: MediaPort = dataclasses.field(default_factory=lambda: open_media_port(HOST, even=True))

    @property
    def numbers(self) -> tuple[int, int]:
        return self.udptl.local[1], self.rtp.local[1]


def _t38_to_audio(
    ng: NgClient,
    call_id: str,
    t38_end: FaxMedia,
    audio_end: FaxMedia,
    ports: Ports,
    offered: T38Params,
    relay: LossyRelay | None = None,
) -> sdp.T38Stream:
    """`t38_end` offers T.38, rtpengine decodes it to G.711 for `audio_end`; both start.

    With a relay, the UDPTL leg goes through it both ways. Returns rtpengine's T.38 answer,
    as our SDP parser read it.
    """
    udptl, rtp = ports.udptl, ports.rtp
    advertised = udptl.local if relay is None else relay.address("b")
    t38_offer = sdp.offer(sdp.Origin(HOST), sdp.t38_media(advertised[1], offered))
    audio_offer = _description(ng.offer(call_id, "fax", bytes(t38_offer).decode(), t38=T38_DECODE))
    towards_gateway = sdp.audio_stream(audio_offer)
    assert towards_gateway is not None, audio_offer
    audio_answer = sdp.answer_audio(audio_offer, sdp.Origin(HOST), rtp.local[1], (Codec.PCMA,))
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


def _audio_to_t38(ng: NgClient, call: Call, call_id: str, ports: Ports) -> sdp.T38Stream:
    """The sender offers G.711, rtpengine forces T.38 towards the receiver; both start.

    Returns rtpengine's T.38 offer to the receiver, as our SDP parser read it.
    """
    udptl, rtp = ports.udptl, ports.rtp
    audio_offer = sdp.offer(sdp.Origin(HOST), sdp.audio_media(rtp.local[1], (Codec.PCMA,)))
    t38_offer = _description(ng.offer(call_id, "fax", bytes(audio_offer).decode(), t38=T38_FORCE))
    answered = sdp.answer_t38(t38_offer, sdp.Origin(HOST), udptl.local[1])
    assert answered is not None, t38_offer
    t38_answer, far = answered
    audio_answer = _description(ng.answer(call_id, "fax", "phone", bytes(t38_answer).decode()))
    towards_gateway = sdp.audio_stream(audio_answer)
    assert towards_gateway is not None, audio_answer
    assert towards_gateway.codecs == (Codec.PCMA,)
    call.sender.start_audio(rtp, (towards_gateway.address, towards_gateway.port), Codec.PCMA)
    call.receiver.start_t38(udptl, (far.address, far.port), far.params)
    return far


@contextmanager
def _capture(path: Path, ports: tuple[int, ...]) -> Iterator[Path]:
    """tshark on loopback, these UDP ports, into `path` while the block runs (CAPTURE_S at most)."""
    binary = require_binary("tshark", "tshark")
    bpf = " or ".join(f"udp port {port}" for port in ports)
    argv = [binary, "-i", "lo", "-f", bpf, "-a", f"duration:{CAPTURE_S}", "-w", str(path)]
    log = path.with_suffix(".log")
    with running_daemon("tshark", argv, log, cwd=path.parent) as daemon:
        wait_until(
            lambda: True if "Capture started" in log.read_text(errors="replace") else None,
            timeout_s=CAPTURE_START_S,
            what="tshark to start capturing",
            daemon=daemon,
        )
        yield path


def _dissect(pcap: Path, port: int, protocol: str, fields: list[str]) -> list[list[str]]:
    """`fields`, then the UDP payload, of what `port` sent, decoded as `protocol` by tshark."""
    argv = ["tshark", "-r", str(pcap), "-d", f"udp.port=={port},{protocol}"]
    argv += ["-Y", f"udp.srcport=={port}", "-T", "fields", "-E", "occurrence=f"]
    argv += [arg for name in [*fields, "udp.payload"] for arg in ("-e", name)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TSHARK_READ_S, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def _assert_clean_t38(pcap: Path, port: int, max_datagram: int) -> None:
    """All `port` sent is T.38 to Wireshark; anything it flags is a byte-identical repeat.

    SpanDSP asks for the end of a signal to be sent three times under one sequence number (as
    rtpengine does too); Wireshark's fragment tracker flags the second and third copies of a
    `t4-non-ecm-sig-end` or `hdlc-fcs-OK-sig-end` ("end of fragment without any fragment
    data"), not their bytes.
    """
    rows = _dissect(pcap, port, "t38", ["_ws.col.Protocol", "_ws.malformed"])
    assert len(rows) >= 40
    assert {protocol for protocol, _, _ in rows} == {"T.38"}
    clean = {payload for _, malformed, payload in rows if not malformed}
    flagged = [payload for _, malformed, payload in rows if malformed]
    assert all(payload in clean for payload in flagged), flagged
    assert max(len(payload) // 2 for _, _, payload in rows) <= max_datagram


def _assert_clean_rtp(pcap: Path, port: int) -> None:
    """What `port` sent is one PCMA RTP stream at 20 ms to Wireshark: no gap, nothing malformed."""
    fields = ["rtp.seq", "rtp.timestamp", "rtp.ssrc", "rtp.p_type", "_ws.malformed"]
    rows = _dissect(pcap, port, "rtp", fields)
    assert len(rows) >= 500
    assert {(row[2], row[3], row[4]) for row in rows} == {(rows[0][2], "8", "")}
    sequences = [int(row[0]) for row in rows]
    timestamps = [int(row[1]) for row in rows]
    assert {(b - a) % 0x10000 for a, b in itertools.pairwise(sequences)} == {1}
    assert {(b - a) % 0x100000000 for a, b in itertools.pairwise(timestamps)} == {160}
    assert {len(row[-1]) // 2 for row in rows} == {12 + 160}


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
    ports = Ports()
    udptl, rtp = ports.numbers  # the media closes its ports when it ends
    pcap = tmp_path / "t38-to-pcma.pcap"

    async def main() -> None:
        call = _call(tmp_path, "t38-to-pcma")
        offered = T38Params(error_correction=protection)
        with _capture(pcap, ports.numbers), gateway.client() as ng:
            far = _t38_to_audio(ng, "t38-to-pcma", call.sender, call.receiver, ports, offered)
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

    asyncio.run(main())
    _assert_clean_t38(pcap, udptl, max_datagram=512)
    _assert_clean_rtp(pcap, rtp)


@pytest.mark.slow
def test_a_page_sent_over_g711_arrives_identical_over_t38_through_rtpengine(
    gateway: Rtpengine, tmp_path: Path
) -> None:
    ports = Ports()
    udptl, rtp = ports.numbers  # the media closes its ports when it ends
    pcap = tmp_path / "pcma-to-t38.pcap"

    async def main() -> None:
        call = _call(tmp_path, "pcma-to-t38")
        with _capture(pcap, ports.numbers), gateway.client() as ng:
            far = _audio_to_t38(ng, call, "pcma-to-t38", ports)
            sender, receiver = await call.outcomes()
            ng.delete("pcma-to-t38")
        assert (far.params.max_datagram, far.params.max_buffer) == (512, 1800)  # rtpengine's
        assert far.params.error_correction is ErrorCorrection.REDUNDANCY
        _assert_delivered(call, sender, receiver)
        assert receiver.t38
        assert not sender.t38
        assert receiver.stats.udptl is not None
        assert receiver.stats.udptl.lost == receiver.stats.udptl.malformed == 0
        assert sender.stats.rtp is not None
        assert sender.stats.rtp.malformed == sender.stats.rtp.other_payload == 0

    asyncio.run(main())
    _assert_clean_t38(pcap, udptl, max_datagram=512)
    _assert_clean_rtp(pcap, rtp)


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
                far = _t38_to_audio(ng, "fec", call.receiver, call.sender, Ports(), fec, relay)
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
