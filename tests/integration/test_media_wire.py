"""Our RTP and UDPTL bytes read by code nobody here wrote: Wireshark's dissectors (tshark).

The packets carry real SpanDSP output (T.38 IFPs of a call, G.711 frames of a modem), are
written to a pcap file as UDP datagrams, and tshark must decode every field we set, with no
malformed packet.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from faxcast.documents import render_pdf, write_tiff_f
from faxcast.domain.quality import Quality
from faxcast.fax.engine import AudioFaxSession, Incoming, Outgoing, T38FaxSession
from faxcast.sip.rtp import PT_PCMU, RtpSender
from faxcast.sip.t38 import ErrorCorrection
from faxcast.sip.udptl import UdptlPacket, UdptlSender
from tests import pdfs
from tests.peers.daemons import require_binary

UDPTL_PORT, RTP_PORT = 4000, 4002
LINKTYPE_RAW = 101  # each record is an IPv4 packet


def _pcap(path: Path, datagrams: list[tuple[int, bytes]]) -> None:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
    for number, (port, payload) in enumerate(datagrams):
        udp = struct.pack("!HHHH", 5000, port, 8 + len(payload), 0) + payload
        ip = (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                number,
                0,
                64,
                17,
                0,
                bytes([127, 0, 0, 1]),
                bytes([127, 0, 0, 2]),
            )
            + udp
        )
        out += struct.pack("<IIII", number, 0, len(ip), len(ip)) + ip
    path.write_bytes(bytes(out))


def _tshark(path: Path, *fields: str) -> list[list[str]]:
    """Each packet's fields; T.38 IFPs are read with Wireshark's default, the pre-corrigendum
    ASN.1 that SpanDSP writes for T.38 version 0."""
    tshark = require_binary("tshark", "tshark")  # fails, never skips, without scripts/setup
    done = subprocess.run(
        [
            tshark, "-r", str(path),
            "-d", f"udp.port=={UDPTL_PORT},t38", "-d", f"udp.port=={RTP_PORT},rtp",
            "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
            *(arg for field in fields for arg in ("-e", field)),
        ],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return [line.split("|") for line in done.stdout.splitlines()]


def _document(tmp_path: Path) -> Outgoing:
    path = tmp_path / "sent.tif"
    path.write_bytes(
        write_tiff_f(render_pdf(pdfs.short_page_pdf(), Quality.NORMAL.profile.resolution))
    )
    return Outgoing.from_file(path)


def _ifps(tmp_path: Path, count: int) -> list[bytes]:
    """The first IFPs of a real call, unpaced so that image data comes in long packets."""
    profile = Quality.NORMAL.profile
    ends = (
        T38FaxSession(_document(tmp_path), profile, calling=True, paced=False),
        T38FaxSession(Incoming(tmp_path / "received.tif"), profile, calling=False, paced=False),
    )
    for end in ends:
        end.configure_link(max_ifp=300)
    sent: list[bytes] = []
    seqs = [0, 0]
    for _ in range(5000):
        for number, (end, far) in enumerate((ends, ends[::-1])):
            for ifp in end.advance():
                if number == 0:
                    sent.append(ifp)
                far.receive(ifp, seqs[number])
                seqs[number] += 1
        if len(sent) >= count and any(len(ifp) >= 128 for ifp in sent):
            return sent
    raise AssertionError("the call gave too few IFPs")


@pytest.mark.parametrize("correction", [ErrorCorrection.REDUNDANCY, ErrorCorrection.FEC])
def test_tshark_reads_our_udptl(tmp_path: Path, correction: ErrorCorrection) -> None:
    ifps = _ifps(tmp_path, 20)
    datagrams: list[bytes] = []
    sender = UdptlSender(
        datagrams.append, error_correction=correction, max_datagram=1400, sequence=65530
    )
    for ifp in ifps:
        sender.send(ifp)
    pcap = tmp_path / "udptl.pcap"
    _pcap(pcap, [(UDPTL_PORT, data) for data in datagrams])
    rows = _tshark(
        pcap, "t38.seq_number", "t38.secondary_ifp_packets", "t38.fec_npackets", "_ws.malformed"
    )
    assert len(rows) == len(datagrams)
    assert [int(row[0]) for row in rows] == [(65530 + n) & 0xFFFF for n in range(len(ifps))]
    assert all(row[3] == "" for row in rows), "tshark found a malformed packet"
    ours = [UdptlPacket.parse(data) for data in datagrams]
    if correction is ErrorCorrection.REDUNDANCY:
        assert [int(row[1] or 0) for row in rows] == [len(p.secondary) for p in ours]
        assert max(len(p.secondary) for p in ours) == 3
    else:
        assert {int(row[2]) for row in rows} == {3}  # the span
    assert any(len(p.primary) >= 128 for p in ours)  # two-byte lengths were read too


def test_tshark_reads_our_rtp(tmp_path: Path) -> None:
    modem = AudioFaxSession(_document(tmp_path), Quality.NORMAL.profile, calling=True)
    datagrams: list[bytes] = []
    # The production path: the modem writes each payload into the sender's one buffer.
    sender = RtpSender(
        lambda data: datagrams.append(bytes(data)),
        None,
        PT_PCMU,
        fill=modem.transmitter,
        ssrc=0x1234ABCD,
        sequence=65534,
        timestamp=7,
    )
    for index in range(5):
        sender.frame(index)
    pcap = tmp_path / "rtp.pcap"
    _pcap(pcap, [(RTP_PORT, data) for data in datagrams])
    rows = _tshark(
        pcap, "rtp.seq", "rtp.timestamp", "rtp.ssrc", "rtp.p_type", "rtp.marker", "_ws.malformed"
    )
    assert [row[0] for row in rows] == ["65534", "65535", "0", "1", "2"]
    assert [row[1] for row in rows] == [str(7 + 160 * n) for n in range(5)]
    assert {row[2] for row in rows} == {"0x1234abcd"}
    assert {row[3] for row in rows} == {"0"}
    assert [row[4] for row in rows] == ["1", "0", "0", "0", "0"]
    assert all(row[5] == "" for row in rows)
