"""RTP packets (RFC 3550) and the receiver's jitter buffer: bytes in, frames out."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from typing import Any

import pytest
from cffi import FFI
from hypothesis import given
from hypothesis import strategies as st

from faxcast.errors import ProtocolError
from faxcast.i18n import codes
from faxcast.sip.rtp import (
    FRAME_SAMPLES,
    MAX_PACKET_SIZE,
    PT_PCMA,
    PT_PCMU,
    RtpAudioChannel,
    RtpPacket,
    RtpReceiver,
    RtpSender,
)

# A PCMU packet as Linphone sends it: version 2, marker, PT 0, seq 0x1234, ts 0x10, SSRC.
HEADER = bytes.fromhex("8080123400000010deadbeef")


def test_a_plain_packet_parses_and_serialises_back() -> None:
    data = HEADER + b"\xff" * 160
    packet = RtpPacket.parse(data)
    assert packet == RtpPacket(PT_PCMU, 0x1234, 0x10, 0xDEADBEEF, b"\xff" * 160, marker=True)
    assert bytes(packet) == data


def test_csrcs_extension_and_padding_are_read_past() -> None:
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 2) + b"\x10\x20\x00\x00" + b"\x00" * 4
    payload = b"\xd5" * 160
    data = bytes([0x80 | 0x20 | 0x10 | 2, PT_PCMA]) + HEADER[2:] + csrcs + extension
    data += payload + b"\x00\x00\x03"
    packet = RtpPacket.parse(data)
    assert packet.payload == payload
    assert packet.payload_type == PT_PCMA
    assert not packet.marker
    assert (packet.sequence, packet.timestamp, packet.ssrc) == (0x1234, 0x10, 0xDEADBEEF)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (HEADER[:11], codes.RTP_TOO_SHORT(size=11)),
        (HEADER + bytes(MAX_PACKET_SIZE), codes.RTP_TOO_LARGE(size=1512, limit=MAX_PACKET_SIZE)),
        (b"\x40" + HEADER[1:], codes.RTP_BAD_VERSION(version=1)),
        (b"\x83" + HEADER[1:] + b"\x00" * 8, codes.RTP_HEADER_TRUNCATED(size=20, header=24)),
        (b"\x90" + HEADER[1:] + b"\xbe\xde", codes.RTP_HEADER_TRUNCATED(size=14, header=16)),
        (
            b"\x90" + HEADER[1:] + b"\xbe\xde\x00\x02",
            codes.RTP_HEADER_TRUNCATED(size=16, header=24),
        ),
        (b"\xa0" + HEADER[1:] + b"\x01\x00", codes.RTP_BAD_PADDING(padding=0, size=14)),
        (b"\xa0" + HEADER[1:] + b"\x01\x04", codes.RTP_BAD_PADDING(padding=4, size=14)),
    ],
    ids=["short", "large", "version", "csrc", "extension-head", "extension", "pad0", "pad-big"],
)
def test_malformed_packets_are_refused_with_what_is_wrong(data: bytes, message: object) -> None:
    with pytest.raises(ProtocolError) as raised:
        RtpPacket.parse(data)
    assert raised.value.message == message


@given(st.binary(max_size=MAX_PACKET_SIZE + 20))
def test_any_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except ProtocolError:
        return
    assert len(packet.payload) <= len(data) - 12


@given(
    st.integers(0, 127),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=MAX_PACKET_SIZE - 12),
    st.booleans(),
)
def test_packets_round_trip(
    pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool
) -> None:
    packet = RtpPacket(pt, seq, ts, ssrc, payload, marker)
    assert RtpPacket.parse(bytes(packet)) == packet


def test_the_sender_numbers_frames_and_marks_only_the_first() -> None:
    sent: list[bytes] = []
    payloads = iter(bytes([n]) * FRAME_SAMPLES for n in range(10))
    sender = RtpSender(
        lambda data: sent.append(bytes(data)),
        lambda: next(payloads),
        PT_PCMA,
        ssrc=7,
        sequence=0xFFFE,
        timestamp=100,
    )
    for index in (0, 1, 2, 5):  # frames 3 and 4 were given up by a late pacer
        sender.frame(index)
    packets = [RtpPacket.parse(data) for data in sent]
    assert [p.sequence for p in packets] == [0xFFFE, 0xFFFF, 0, 1]
    assert [p.timestamp for p in packets] == [100, 260, 420, 900]
    assert [p.marker for p in packets] == [True, False, False, False]
    assert {p.ssrc for p in packets} == {7}
    assert {p.payload_type for p in packets} == {PT_PCMA}
    assert [p.payload[0] for p in packets] == [0, 1, 2, 3]


def test_a_filling_sender_reuses_one_packet_its_writer_fills_in_place() -> None:
    sent: list[bytes] = []
    buffers: set[int] = set()
    counter = iter(range(10))

    def send(data: bytes | bytearray) -> None:
        buffers.add(id(data))
        sent.append(bytes(data))

    def fill(payload: memoryview) -> Callable[[], None]:
        assert len(payload) == FRAME_SAMPLES

        def write() -> None:
            payload[:] = bytes([next(counter)]) * FRAME_SAMPLES

        return write

    sender = RtpSender(send, None, PT_PCMU, fill=fill, ssrc=9, sequence=5, timestamp=0xFFFFFF60)
    for index in (0, 1, 3):
        sender.frame(index)
    packets = [RtpPacket.parse(data) for data in sent]
    assert len(buffers) == 1  # one buffer for every frame: nothing allocated per packet
    assert [p.sequence for p in packets] == [5, 6, 7]
    assert [p.timestamp for p in packets] == [0xFFFFFF60, 0, 320]
    assert [p.marker for p in packets] == [True, False, False]
    assert [p.payload for p in packets] == [bytes([n]) * FRAME_SAMPLES for n in range(3)]
    assert {(p.ssrc, p.payload_type) for p in packets} == {(9, PT_PCMU)}


def test_a_sender_takes_a_payload_source_or_a_writer_not_both() -> None:
    with pytest.raises(ValueError, match="either next_payload or fill"):
        RtpSender(print, None, PT_PCMA)
    with pytest.raises(ValueError, match="either next_payload or fill"):
        RtpSender(print, bytes, PT_PCMA, fill=lambda _view: bytes)


def _frames(count: int, *, start: int = 0, ts0: int = 5000, ssrc: int = 1) -> list[bytes]:
    return [
        bytes(RtpPacket(PT_PCMA, n, ts0 + n * FRAME_SAMPLES, ssrc, bytes([n % 250 + 1]) * 160))
        for n in range(start, start + count)
    ]


class Played:
    def __init__(self) -> None:
        self.frames: list[bytes | None] = []

    def __call__(self, frame: bytes | None) -> None:
        self.frames.append(frame)

    def marks(self) -> list[int | None]:
        """The first byte of each frame played (which packet it was), None for a gap."""
        return [None if frame is None else frame[0] for frame in self.frames]


def test_the_buffer_delays_by_its_depth_and_reorders() -> None:
    played = Played()
    receiver = RtpReceiver(played, PT_PCMA, depth_ms=60)
    packets = _frames(8)
    for n in (0, 2, 1):  # 2 overtook 1 on the way
        receiver.datagram(packets[n])
    for _ in range(3):
        receiver.play()
    receiver.datagram(packets[4])
    receiver.datagram(packets[3])
    for _ in range(5):
        receiver.play()
    # Three frames of delay (nothing yet), then every frame in order.
    assert played.marks() == [None, None, None, 1, 2, 3, 4, 5]
    assert receiver.stats.late == receiver.stats.duplicate == 0


def test_duplicates_and_late_packets_are_dropped_and_gaps_are_none() -> None:
    played = Played()
    receiver = RtpReceiver(played, PT_PCMA, depth_ms=40)
    packets = _frames(6)
    receiver.datagram(packets[0])
    receiver.datagram(packets[0])
    for _ in range(3):
        receiver.play()
    receiver.datagram(packets[0])  # later than its turn: dropped
    receiver.datagram(packets[2])  # packet 1 is lost
    for _ in range(2):
        receiver.play()
    assert played.marks() == [None, None, 1, None, 3]
    assert receiver.stats.duplicate == 1
    assert receiver.stats.late == 1
    assert receiver.stats.missing == 3  # two frames of delay and the lost one


def test_thirty_ms_packets_come_out_as_twenty_ms_frames_with_partial_gaps_filled() -> None:
    played = Played()
    receiver = RtpReceiver(played, PT_PCMA, depth_ms=60)
    for tick in range(3 + 4):
        for n in (0, 2):  # 240-sample packets, one every 30 ms; the one in the middle is lost
            if n * 30 == tick * 20:
                receiver.datagram(bytes(RtpPacket(PT_PCMA, n, n * 240, 9, bytes([n + 1]) * 240)))
        receiver.play()
    frames = played.frames[3:]
    assert frames[0] == b"\x01" * 160
    assert frames[1] == b"\x01" * 80 + b"\xd5" * 80  # A-law silence where nothing came
    assert frames[2] is None  # samples 320-479: all in the lost packet
    assert frames[3] == b"\x03" * 160


def test_a_new_source_or_a_jump_in_time_restarts_the_buffer() -> None:
    played = Played()
    receiver = RtpReceiver(played, PT_PCMA, depth_ms=20)
    receiver.datagram(_frames(1)[0])
    receiver.play()
    receiver.play()
    receiver.datagram(_frames(1, start=10, ssrc=2)[0])
    receiver.play()
    receiver.play()
    receiver.datagram(_frames(1, start=10, ts0=90_000_000, ssrc=2)[0])
    receiver.play()
    receiver.play()
    assert played.marks() == [None, 1, None, 11, None, 11]
    assert receiver.stats.resyncs == 2


def test_other_payload_types_and_garbage_are_counted_not_played() -> None:
    played = Played()
    receiver = RtpReceiver(played, PT_PCMU)
    receiver.datagram(_frames(1)[0])  # PCMA on a PCMU stream
    receiver.datagram(b"\x00" * 20)
    receiver.play()
    assert played.frames == [None]
    assert receiver.stats.other_payload == 1
    assert receiver.stats.malformed == 1


def test_a_far_clock_running_fast_does_not_grow_the_delay() -> None:
    played = Played()
    receiver = RtpReceiver(played, PT_PCMA, depth_ms=60)
    packets = _frames(400)
    sent = 0
    for tick in range(300):
        # The far end sends 4 frames for every 3 we play: a third too fast.
        while sent < min(400, tick * 4 // 3 + 1):
            receiver.datagram(packets[sent])
            sent += 1
        receiver.play()
    assert receiver.stats.dropped_ahead > 50
    last = played.marks()[-1]
    assert last is not None
    last_played = last - 1 + 250  # marks count packets modulo 250, from 1
    # All 400 packets are in; without the drops the buffer would hold 100 frames.
    assert 400 - last_played <= 2 * 3 + 2


def test_a_channel_sends_its_lines_frames_and_plays_what_came_into_the_line() -> None:
    ffi = FFI()
    numbers = itertools.count(1)
    heard: list[bytes | None] = []

    def transmit(_line: Any, out: Any, samples: int) -> int:
        ffi.memmove(out, bytes([next(numbers)]) * samples, samples)
        return samples

    def receive(_line: Any, frame: Any, samples: int) -> int:
        heard.append(None if frame == ffi.NULL else ffi.buffer(frame, samples)[:])
        return 0

    # The line is C functions by address, as the fax engine's modem gives them.
    tx: Any = ffi.callback("int(void *, uint8_t *, int)", transmit)
    rx: Any = ffi.callback("int(void *, const uint8_t *, int)", receive)
    line = (0, int(ffi.cast("uintptr_t", tx)), int(ffi.cast("uintptr_t", rx)))
    sent: list[bytes] = []
    channel = RtpAudioChannel(
        lambda data: sent.append(bytes(data)),
        line,
        PT_PCMA,
        depth_ms=20,
        ssrc=3,
        sequence=0xFFFF,
        timestamp=100,
    )
    channel.frame(0)  # nothing came yet: the line coasts
    for packet in _frames(2):
        channel.datagram(packet)
    channel.frame(1)  # the buffer's delay: still nothing
    channel.frame(3)  # frame 2 was given up by a late pacer
    channel.frame(4)
    packets = [RtpPacket.parse(data) for data in sent]
    assert [p.sequence for p in packets] == [0xFFFF, 0, 1, 2]
    assert [p.timestamp for p in packets] == [100, 260, 580, 740]
    assert [p.marker for p in packets] == [True, False, False, False]
    assert {(p.ssrc, p.payload_type) for p in packets} == {(3, PT_PCMA)}
    assert [p.payload for p in packets] == [bytes([n]) * FRAME_SAMPLES for n in range(1, 5)]
    assert heard == [None, None, b"\x01" * FRAME_SAMPLES, b"\x02" * FRAME_SAMPLES]
    assert channel.filled_in == 2
    assert channel.stats.packets == 2
