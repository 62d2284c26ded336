"""RTP (RFC 3550) for G.711 fax audio: packets, a sender, and a receiver with a jitter buffer.

Fax audio wants a constant stream: no silence suppression on the way out, and on the way in a
small fixed delay that puts packets back in order, then one frame every 20 ms whether a packet
came or not. The receiver says "nothing arrived" (None) rather than inventing audio: the fax
modem can then coast over the gap (SpanDSP's fill-in) instead of hearing a hole of silence,
which a demodulator takes for the end of its carrier, or a repeated frame, whose phase jump is
a burst of bit errors.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from faxcast.domain.codec import Codec
from faxcast.errors import ProtocolError
from faxcast.i18n import codes

RTP_VERSION = 2
PT_PCMU = 0
PT_PCMA = 8
# Static payload types (RFC 3551): the wire's name for each G.711 law.
PAYLOAD_TYPES: Final = {Codec.PCMA: PT_PCMA, Codec.PCMU: PT_PCMU}
CODEC_OF_PAYLOAD_TYPE: Final = {number: codec for codec, number in PAYLOAD_TYPES.items()}
HEADER_SIZE = 12
MAX_PACKET_SIZE = 1500  # an Ethernet MTU: no audio packet is larger, nor fragmented
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
DEPTH_MS = 60
SAMPLES_PER_MS = 8
SILENCE = {PT_PCMA: 0xD5, PT_PCMU: 0xFF}  # the G.711 code of a zero sample, per law

_HEADER = struct.Struct("!BBHII")
_FAST = struct.Struct("!xBHII")
_NOTHING = bytes(FRAME_SAMPLES)  # a frame's presence flags: none of it arrived (yet)
_ALL = b"\x01" * FRAME_SAMPLES
_WORD = 4


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet; CSRCs, header extension and padding are read past, never kept."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Read a datagram; ProtocolError when it is not a well-formed RTP packet."""
        size = len(data)
        if size < HEADER_SIZE:
            raise ProtocolError(codes.RTP_TOO_SHORT(size=size))
        if size > MAX_PACKET_SIZE:
            raise ProtocolError(codes.RTP_TOO_LARGE(size=size, limit=MAX_PACKET_SIZE))
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise ProtocolError(codes.RTP_BAD_VERSION(version=first >> 6))
        header = HEADER_SIZE + _WORD * (first & 0x0F)
        if first & 0x10:  # extension: 16-bit profile, 16-bit length in words, then the words
            if size < header + _WORD:
                raise ProtocolError(codes.RTP_HEADER_TRUNCATED(size=size, header=header + _WORD))
            words = int.from_bytes(data[header + 2 : header + _WORD], "big")
            header += _WORD + _WORD * words
        if size < header:
            raise ProtocolError(codes.RTP_HEADER_TRUNCATED(size=size, header=header))
        end = size
        if first & 0x20:  # padding: its last byte counts the padding, itself included
            padding = data[-1]
            if padding == 0 or header + padding > size:
                raise ProtocolError(codes.RTP_BAD_PADDING(padding=padding, size=size))
            end -= padding
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[header:end]),
            marker=bool(second & 0x80),
        )

    def __bytes__(self) -> bytes:
        second = self.payload_type | (0x80 if self.marker else 0)
        header = _HEADER.pack(RTP_VERSION << 6, second, self.sequence, self.timestamp, self.ssrc)
        return header + self.payload


class RtpSender:
    """Numbers and sends one stream's frames: `frame(n)` sends frame n, from `next_payload()`.

    With `fill` instead, the packet is one buffer reused for every frame: `fill(payload)` is
    given the buffer's payload part once and returns a writer that puts each next payload
    there in place (the fax modem's one C call per frame), so a frame allocates nothing. The
    buffer is what `send` gets then: it must send or copy it before returning.

    The timestamp follows the frame index, so frames a late pacer gave up leave a gap in time
    (as the far end should see it) but none in sequence numbers (nothing was lost on the way).
    """

    __slots__ = (
        "_next_payload",
        "_packet",
        "_second",
        "_send",
        "_sequence",
        "_ssrc",
        "_timestamp0",
        "_write",
    )

    def __init__(
        self,
        send: Callable[[bytes | bytearray], object],
        next_payload: Callable[[], bytes] | None,
        payload_type: int,
        *,
        fill: Callable[[memoryview], Callable[[], object]] | None = None,
        payload_size: int = FRAME_SAMPLES,
        ssrc: int | None = None,
        sequence: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        if (next_payload is None) == (fill is None):
            raise ValueError("an RTP sender takes either next_payload or fill")
        self._send = send
        self._next_payload = next_payload
        self._packet = bytearray(HEADER_SIZE + payload_size)
        self._write = None if fill is None else fill(memoryview(self._packet)[HEADER_SIZE:])
        # RFC 3550 wants random initial values, so streams of one host are told apart.
        self._ssrc = secrets.randbits(32) if ssrc is None else ssrc
        self._sequence = secrets.randbits(16) if sequence is None else sequence
        self._timestamp0 = secrets.randbits(32) if timestamp is None else timestamp
        self._second = payload_type | 0x80  # the marker on the first packet: a talkspurt begins

    @property
    def ssrc(self) -> int:
        """This stream's synchronisation source."""
        return self._ssrc

    def frame(self, index: int) -> None:
        """Send frame `index` (160 samples after frame `index - 1`)."""
        timestamp = (self._timestamp0 + index * FRAME_SAMPLES) & 0xFFFFFFFF
        second = self._second
        write = self._write
        if write is None:
            next_payload = self._next_payload
            assert next_payload is not None  # one of the two is set
            header = _HEADER.pack(0x80, second, self._sequence, timestamp, self._ssrc)
            self._send(header + next_payload())
        else:
            packet = self._packet
            _HEADER.pack_into(packet, 0, 0x80, second, self._sequence, timestamp, self._ssrc)
            write()
            self._send(packet)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._second = second & 0x7F


@dataclass
class ReceiverStats:
    """What the receiver did with what came in, and with the frames it played."""

    packets: int = 0
    malformed: int = 0
    other_payload: int = 0
    late: int = 0
    duplicate: int = 0
    resyncs: int = 0
    played: int = 0
    missing: int = 0
    dropped_ahead: int = 0


class RtpReceiver:
    """A fixed-delay jitter buffer: `datagram(data)` on arrival, `play()` every 20 ms.

    Packets are placed by RTP timestamp, so reordering, duplicates and any packet length
    (10, 20 or 30 ms) come out as one 160-sample frame per `play()`, handed to `deliver`:
    the frame's bytes (a gap inside it filled with the law's silence) or None when nothing
    of it arrived. A packet later than the delay is dropped; a new SSRC or a jump in time
    restarts the buffer.
    """

    __slots__ = (
        "_deliver",
        "_depth",
        "_filled",
        "_head",
        "_read",
        "_ring",
        "_silence",
        "_size",
        "_ssrc",
        "payload_type",
        "stats",
    )

    def __init__(
        self,
        deliver: Callable[[bytes | None], object],
        payload_type: int,
        *,
        depth_ms: int = DEPTH_MS,
        capacity_ms: int = 1000,
    ) -> None:
        self._deliver = deliver
        self.payload_type = payload_type
        self._silence = SILENCE.get(payload_type, 0)
        self._depth = depth_ms * SAMPLES_PER_MS
        self._size = capacity_ms * SAMPLES_PER_MS
        self._ring = bytearray(self._size)
        self._filled = bytearray(self._size)  # 1 where a sample arrived and is not played yet
        self._read = 0  # the timestamp of the next sample to play, unwrapped
        self._head = 0  # one past the newest sample received, unwrapped
        self._ssrc: int | None = None
        self.stats = ReceiverStats()

    def datagram(self, data: bytes) -> None:
        """Take one datagram from the network; what cannot be used is counted, never raised."""
        stats = self.stats
        if HEADER_SIZE < len(data) <= MAX_PACKET_SIZE and data[0] == RTP_VERSION << 6:
            # The usual packet (no CSRC, extension or padding) is read in place, 50 times a
            # second per call; anything else goes through the full parser.
            second, _sequence, timestamp, ssrc = _FAST.unpack_from(data)
            payload_type, payload = second & 0x7F, data[HEADER_SIZE:]
        else:
            try:
                packet = RtpPacket.parse(data)
            except ProtocolError:
                stats.malformed += 1
                return
            payload_type, payload = packet.payload_type, packet.payload
            timestamp, ssrc = packet.timestamp, packet.ssrc
        if payload_type != self.payload_type:
            stats.other_payload += 1  # comfort noise, DTMF events: nothing a modem can use
            return
        stats.packets += 1
        if not payload:
            return
        if ssrc != self._ssrc:
            self._restart(ssrc, timestamp)
        # The distance in 32-bit RTP time, signed (inline: this runs for every packet).
        offset = ((timestamp - self._read + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if offset < -self._size or offset + len(payload) > self._size:
            self._restart(ssrc, timestamp)  # a jump: the far end restarted
            offset = self._depth
        if offset + len(payload) <= 0:
            stats.late += 1
            return
        if offset < 0:
            payload, offset = payload[-offset:], 0
        self._store(self._read + offset, payload)

    def play(self) -> None:
        """Hand the next 20 ms frame to `deliver`: its bytes, or None if none of it came."""
        stats = self.stats
        stats.played += 1
        if self._ssrc is None:
            self._deliver(None)
            return
        size, read = self._size, self._read
        if self._head - read > 2 * self._depth + FRAME_SAMPLES:
            # More is waiting than the delay allows: the far clock runs fast. Drop a frame so
            # the delay stays fixed.
            read += FRAME_SAMPLES
            stats.dropped_ahead += 1
        start = read % size
        end = start + FRAME_SAMPLES
        ring, filled = self._ring, self._filled
        if end <= size:
            frame = bytes(ring[start:end])
            if filled.find(0, start, end) < 0:  # the usual frame: all of it came
                filled[start:end] = _NOTHING
                self._read = read + FRAME_SAMPLES
                self._head = max(self._head, self._read)
                self._deliver(frame)
                return
            present = bytes(filled[start:end])
            filled[start:end] = _NOTHING
        else:
            end -= size
            frame = bytes(ring[start:]) + bytes(ring[:end])
            present = bytes(filled[start:]) + bytes(filled[:end])
            filled[start:] = bytes(size - start)
            filled[:end] = bytes(end)
        self._read = read + FRAME_SAMPLES
        self._head = max(self._head, self._read)
        gaps = present.count(0)
        if gaps == FRAME_SAMPLES:
            stats.missing += 1
            self._deliver(None)
        elif gaps:
            silence = self._silence
            self._deliver(bytes(b if p else silence for b, p in zip(frame, present, strict=True)))
        else:
            self._deliver(frame)

    def _restart(self, ssrc: int, timestamp: int) -> None:
        if self._ssrc is not None:
            self.stats.resyncs += 1
        self._ssrc = ssrc
        self._filled[:] = bytes(self._size)
        # The first packet plays `depth` from now: time for later ones to overtake it.
        self._read = timestamp - self._depth
        self._head = self._read

    def _store(self, position: int, payload: bytes) -> None:
        size = self._size
        start = position % size
        end = start + len(payload)
        filled = self._filled
        if end <= size:
            if filled.find(0, start, end) < 0:
                self.stats.duplicate += 1
                return
            self._ring[start:end] = payload
            filled[start:end] = _ALL if end - start == FRAME_SAMPLES else b"\x01" * (end - start)
        else:
            split = size - start
            if filled.find(0, start) < 0 and filled.find(0, 0, end - size) < 0:
                self.stats.duplicate += 1
                return
            self._ring[start:] = payload[:split]
            self._ring[: end - size] = payload[split:]
            filled[start:] = b"\x01" * split
            filled[: end - size] = b"\x01" * (end - size)
        self._head = max(self._head, position + len(payload))
