"""UDPTL (T.38 Annex D): packets, redundancy and FEC recovery, and the far end's size limits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faxcast.errors import ProtocolError
from faxcast.i18n import codes
from faxcast.sip.t38 import ErrorCorrection
from faxcast.sip.udptl import (
    MAX_DATAGRAM,
    FarLimits,
    Recovery,
    UdptlPacket,
    UdptlReceiver,
    UdptlSender,
    far_limits,
    fec_covered,
    local_max_datagram,
    xor_parity,
)

# Two packets laid out as rtpengine's T.38 tests write them (t/auto-daemon-tests-t38.pl):
# seq 3, a 4-byte IFP, redundancy with two secondaries (newest first)...
REDUNDANT = bytes.fromhex("000304c0012345000202aabb01cc")
# ...and seq 9, FEC over span 3 with two parity entries.
FEC = bytes.fromhex("00090201028001030201ff020f0f")


def test_a_redundancy_packet_parses_and_serialises_back() -> None:
    packet = UdptlPacket.parse(REDUNDANT)
    assert packet == UdptlPacket(3, bytes.fromhex("c0012345"), (b"\xaa\xbb", b"\xcc"))
    assert packet.recovery is Recovery.REDUNDANCY
    assert bytes(packet) == REDUNDANT


def test_a_fec_packet_parses_and_serialises_back() -> None:
    packet = UdptlPacket.parse(FEC)
    assert packet == UdptlPacket(9, b"\x01\x02", fec=(b"\xff", b"\x0f\x0f"), fec_span=3)
    assert packet.recovery is Recovery.FEC
    assert bytes(packet) == FEC


def test_ifps_of_128_bytes_and_more_take_a_two_byte_length() -> None:
    small, large = b"\x11" * 127, b"\x22" * 300
    data = bytes(UdptlPacket(1, large, (small,)))
    assert data[2:4] == bytes((0x80 | 300 >> 8, 300 & 0xFF))
    assert data[4 + 300 :] == b"\x00\x01\x7f" + small
    assert UdptlPacket.parse(data) == UdptlPacket(1, large, (small,))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01", codes.UDPTL_TRUNCATED(size=2)),
        (b"\x00\x01\x05abc", codes.UDPTL_TRUNCATED(size=6)),
        (b"\x00\x01\x01a", codes.UDPTL_TRUNCATED(size=4)),
        (b"\x00\x01\x01a\x00\x01\x03ab", codes.UDPTL_TRUNCATED(size=9)),
        (b"\x00\x01\x01a\x00\x00\x99", codes.UDPTL_TRAILING_BYTES(extra=1)),
        (b"\x00\x01\xc1a\x00\x00", codes.UDPTL_FRAGMENTED()),
        (b"\x00\x01\x01a\x00\x06", codes.UDPTL_TOO_MANY_ENTRIES(entries=6, limit=5)),
        (b"\x00\x01\x01a\x80\x02\x03\x01\x01\xff", codes.UDPTL_BAD_FEC()),
        (b"\x00\x01\x01a\x80\x01\x00\x01\x01\xff", codes.UDPTL_BAD_FEC()),
        (b"\x00\x01\x01a\x80\x01\x03\x00", codes.UDPTL_BAD_FEC()),
        (b"\x00\x01\x01a\x80\x01", codes.UDPTL_TRUNCATED(size=6)),
        (bytes(MAX_DATAGRAM + 1), codes.UDPTL_TOO_LARGE(size=1401, limit=MAX_DATAGRAM)),
    ],
    ids=[
        "short",
        "primary",
        "no-recovery",
        "secondary",
        "trailing",
        "fragmented",
        "entries",
        "fec-length",
        "fec-span0",
        "fec-none",
        "fec-short",
        "large",
    ],
)
def test_malformed_packets_are_refused_with_what_is_wrong(data: bytes, message: object) -> None:
    with pytest.raises(ProtocolError) as raised:
        UdptlPacket.parse(data)
    assert raised.value.message == message


@given(st.binary(max_size=MAX_DATAGRAM + 10))
def test_any_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    try:
        packet = UdptlPacket.parse(data)
    except ProtocolError:
        return
    assert UdptlPacket.parse(bytes(packet)) == packet


_ifps = st.binary(max_size=200)


@given(
    st.integers(0, 0xFFFF),
    _ifps,
    st.one_of(
        st.lists(_ifps, max_size=5).map(lambda s: (tuple(s), None, 0)),
        st.tuples(st.just(()), st.lists(_ifps, min_size=1, max_size=5), st.integers(1, 255)),
    ),
)
def test_packets_round_trip(
    sequence: int, primary: bytes, recovery: tuple[tuple[bytes, ...], list[bytes] | None, int]
) -> None:
    secondary, fec, span = recovery
    packet = UdptlPacket(
        sequence, primary, secondary, None if fec is None else tuple(fec), fec_span=span
    )
    assert UdptlPacket.parse(bytes(packet)) == packet


def _stream(
    count: int, lost: set[int], *, correction: ErrorCorrection, entries: int = 3, span: int = 3
) -> tuple[list[tuple[int, bytes]], list[bytes], UdptlReceiver]:
    """Send `count` IFPs of one length, lose some, return what came out in order."""
    ifps = [bytes([n % 256]) * 20 for n in range(count)]
    sent: list[bytes] = []
    sender = UdptlSender(sent.append, error_correction=correction, entries=entries, span=span)
    for ifp in ifps:
        sender.send(ifp)
    delivered: list[tuple[int, bytes]] = []
    receiver = UdptlReceiver(lambda ifp, seq: delivered.append((seq, ifp)))
    for n, data in enumerate(sent):
        if n not in lost:
            receiver.datagram(data)
    return delivered, ifps, receiver


def test_redundancy_recovers_up_to_its_depth_and_skips_beyond() -> None:
    lost = {3, 4, 5, 10, 11, 12, 13}  # 3 in a row: recovered; 4 in a row: the first is gone
    delivered, ifps, receiver = _stream(20, lost, correction=ErrorCorrection.REDUNDANCY)
    assert [seq for seq, _ in delivered] == [n for n in range(20) if n != 10]
    assert all(ifp == ifps[seq] for seq, ifp in delivered)
    assert receiver.stats.recovered == 6
    assert receiver.stats.lost == 1


def test_fec_parity_rebuilds_lost_packets_in_order() -> None:
    lost = {4, 11, 17}
    delivered, ifps, receiver = _stream(30, lost, correction=ErrorCorrection.FEC)
    assert [seq for seq, _ in delivered] == list(range(30))
    assert all(ifp == ifps[seq] for seq, ifp in delivered)
    assert receiver.stats.recovered == 3
    assert receiver.stats.lost == 0


def test_fec_parity_of_unequal_ifps_pads_the_shorter_with_zeros() -> None:
    assert xor_parity([b"\x0f\x0f\x0f", b"\xf0"]) == b"\xff\x0f\x0f"
    assert xor_parity([xor_parity([b"ab", b"c"]), b"ab"]) == b"c\x00"


def test_fec_entries_cover_every_entries_th_packet_before_them() -> None:
    # Entry m of packet 10 (span 3, 3 entries) covers 10+m-9, 10+m-6, 10+m-3.
    assert fec_covered(10, 0, 3, 3) == [1, 4, 7]
    assert fec_covered(10, 2, 3, 3) == [3, 6, 9]


def test_an_unrecoverable_gap_waits_at_most_hold_ticks_for_a_late_packet() -> None:
    sent: list[bytes] = []
    sender = UdptlSender(sent.append, entries=0, error_correction=ErrorCorrection.NONE)
    for n in range(4):
        sender.send(bytes([n]))
    delivered: list[int] = []
    receiver = UdptlReceiver(lambda _ifp, seq: delivered.append(seq), hold=3)
    receiver.datagram(sent[0])
    receiver.datagram(sent[2])  # 1 is late, or lost
    assert delivered == [0]
    receiver.tick()
    receiver.datagram(sent[1])  # late, but within the hold: delivered in order
    assert delivered == [0, 1, 2]
    receiver.datagram(sent[3])
    receiver.datagram(sent[3])  # a repeat: ignored
    assert delivered == [0, 1, 2, 3]
    assert receiver.stats.stale == 1


def test_a_gap_is_given_up_after_hold_ticks() -> None:
    sent: list[bytes] = []
    sender = UdptlSender(sent.append, entries=0, error_correction=ErrorCorrection.NONE)
    for n in range(3):
        sender.send(bytes([n]))
    delivered: list[int] = []
    receiver = UdptlReceiver(lambda _ifp, seq: delivered.append(seq), hold=3)
    receiver.datagram(sent[0])
    receiver.datagram(sent[2])
    for _ in range(3):
        receiver.tick()
    assert delivered == [0, 2]
    assert receiver.stats.lost == 1


def test_sequence_numbers_wrap_and_are_delivered_as_sixteen_bits() -> None:
    sent: list[bytes] = []
    sender = UdptlSender(sent.append, sequence=0xFFFE)
    for n in range(4):
        sender.send(bytes([n]))
    delivered: list[int] = []
    receiver = UdptlReceiver(lambda _ifp, seq: delivered.append(seq))
    for n in (0, 2, 3):
        receiver.datagram(sent[n])
    assert delivered == [0xFFFE, 0xFFFF, 0, 1]


def test_the_sender_repeats_as_spandsp_asks_and_fits_the_far_datagram() -> None:
    sent: list[bytes] = []
    sender = UdptlSender(sent.append, entries=3, max_datagram=60)
    sender.send(b"\x01" * 25, repeats=3)
    assert len(sent) == 3
    assert len(set(sent)) == 1  # the same packet, one sequence number
    for _ in range(3):
        sender.send(b"\x02" * 25)
    packets = [UdptlPacket.parse(data) for data in sent[3:]]
    assert [len(p.secondary) for p in packets] == [1, 1, 1]  # two secondaries would not fit
    assert all(len(data) <= 60 for data in sent)


def test_random_loss_is_recovered_by_three_redundant_copies() -> None:
    rng = random.Random(14)
    lost = {n for n in range(2000) if rng.random() < 0.05}
    delivered, ifps, receiver = _stream(2000, lost, correction=ErrorCorrection.REDUNDANCY)
    assert all(ifp == ifps[seq] for seq, ifp in delivered)
    # 5 % loss: four losses in a row (1 in 160 000) do not happen in 2000 packets.
    assert [seq for seq, _ in delivered] == list(range(2000))
    assert receiver.stats.recovered == len(lost)


@pytest.mark.parametrize(
    ("datagram", "correction", "expected"),
    [
        (400, ErrorCorrection.REDUNDANCY, FarLimits(93, 3)),  # (400-8)/4 = 98, * 0.95
        (300, ErrorCorrection.REDUNDANCY, FarLimits(92, 2)),  # 73 < 80: one entry less
        (100, ErrorCorrection.REDUNDANCY, FarLimits(43, 1)),  # never below one entry
        (None, ErrorCorrection.REDUNDANCY, FarLimits(93, 3)),  # unknown: 400
        (5000, ErrorCorrection.REDUNDANCY, FarLimits(93, 3)),  # nonsense: 400
        (1400, ErrorCorrection.REDUNDANCY, FarLimits(330, 3)),
        (400, ErrorCorrection.FEC, FarLimits(185, 3)),  # (400-10)/2 = 195, * 0.95
        (400, ErrorCorrection.NONE, FarLimits(375, 0)),  # (400-5) * 0.95
    ],
)
def test_the_ifp_size_for_spandsp_follows_the_far_datagram_as_asterisk(
    datagram: int | None, correction: ErrorCorrection, expected: FarLimits
) -> None:
    assert far_limits(datagram, correction) == expected


@given(st.integers(100, MAX_DATAGRAM), st.integers(1, 5))
def test_redundant_packets_of_the_largest_ifp_fit_the_far_datagram(
    datagram: int, entries: int
) -> None:
    limits = far_limits(datagram, ErrorCorrection.REDUNDANCY, entries)
    ifp = b"\x00" * limits.max_ifp
    packet = UdptlPacket(1, ifp, (ifp,) * limits.entries)
    assert len(bytes(packet)) <= datagram


def test_the_datagram_announced_holds_the_ifps_announced() -> None:
    assert local_max_datagram(300) == min(MAX_DATAGRAM, int((5 + 300 + 2 + 900) * 1.05))
    ifp = b"\x00" * 300
    assert len(bytes(UdptlPacket(1, ifp, (ifp,) * 3))) <= local_max_datagram(300)
