"""RTP (RFC 3550) for G.711 fax audio: packets, a sender, and a receiver with a jitter buffer.

Fax audio wants a constant stream: no silence suppression on the way out, and on the way in a
small fixed delay that puts packets back in order, then one frame every 20 ms whether a packet
came or not. The receiver says "nothing arrived" (None) rather than inventing audio: the fax
modem can then coast over the gap (SpanDSP's fill-in) instead of hearing a hole of silence,
which a demodulator takes for the end of its carrier, or a repeated frame, whose phase jump is
a burst of bit errors.
"""

from __future__ import annotations

import functools
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from faxcast.domain.codec import Codec
from faxcast.errors import ProtocolError
from faxcast.i18n import codes
from faxcast.sip._rtp import ffi, lib

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


class ReceiverStats:
    """What the receiver did with what came in, and with the frames it played: live counts
    (read from the C jitter buffer, which this keeps alive)."""

    __slots__ = ("_counts",)

    def __init__(self, counts: Any) -> None:
        self._counts = counts

    @property
    def packets(self) -> int:
        return int(self._counts.packets)

    @property
    def malformed(self) -> int:
        return int(self._counts.malformed)

    @property
    def other_payload(self) -> int:
        return int(self._counts.other_payload)

    @property
    def late(self) -> int:
        return int(self._counts.late)

    @property
    def duplicate(self) -> int:
        return int(self._counts.duplicate)

    @property
    def resyncs(self) -> int:
        return int(self._counts.resyncs)

    @property
    def played(self) -> int:
        return int(self._counts.played)

    @property
    def missing(self) -> int:
        return int(self._counts.missing)

    @property
    def dropped_ahead(self) -> int:
        return int(self._counts.dropped_ahead)

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={getattr(self, name)}" for name in _COUNTS)
        return f"ReceiverStats({counts})"


_COUNTS: Final = (
    "packets",
    "malformed",
    "other_payload",
    "late",
    "duplicate",
    "resyncs",
    "played",
    "missing",
    "dropped_ahead",
)


class RtpReceiver:
    """A fixed-delay jitter buffer: `datagram(data)` on arrival, `play()` every 20 ms.

    Packets are placed by RTP timestamp, so reordering, duplicates and any packet length
    (10, 20 or 30 ms) come out as one 160-sample frame per `play()`, handed to `deliver`:
    the frame's bytes (a gap inside it filled with the law's silence) or None when nothing
    of it arrived. A packet later than the delay is dropped; a new SSRC or a jump in time
    restarts the buffer. The buffer is C (faxcast.sip._rtp), which RtpAudioChannel also runs.
    """

    __slots__ = ("_deliver", "_frame", "_jb", "payload_type")

    def __init__(
        self,
        deliver: Callable[[bytes | None], object],
        payload_type: int,
        *,
        depth_ms: int = DEPTH_MS,
        capacity_ms: int = 1000,
    ) -> None:
        if capacity_ms * SAMPLES_PER_MS < FRAME_SAMPLES or depth_ms < 0:
            raise ValueError("a jitter buffer holds at least one frame, with a delay of 0 or more")
        self._deliver = deliver
        self.payload_type = payload_type
        jb = lib.faxcast_jb_new(
            payload_type,
            SILENCE.get(payload_type, 0),
            depth_ms * SAMPLES_PER_MS,
            capacity_ms * SAMPLES_PER_MS,
        )
        if jb == ffi.NULL:
            raise MemoryError("no memory for a jitter buffer")
        self._jb = ffi.gc(jb, lib.faxcast_jb_free)
        self._frame = bytearray(FRAME_SAMPLES)

    @property
    def stats(self) -> ReceiverStats:
        """What the buffer did so far, counted live."""
        return ReceiverStats(self._jb)

    def datagram(self, data: bytes) -> None:
        """Take one datagram from the network; what cannot be used is counted, never raised."""
        lib.faxcast_jb_datagram(self._jb, data, len(data))

    def play(self) -> None:
        """Hand the next 20 ms frame to `deliver`: its bytes, or None if none of it came."""
        frame = self._frame
        came = lib.faxcast_jb_play(self._jb, ffi.from_buffer(frame))
        self._deliver(bytes(frame) if came else None)


class RtpAudioChannel:
    """A G.711 stream and the line it carries, run from C: `frame(n)` plays the jitter buffer's
    next frame into the line and sends the line's frame n, in one C call.

    It does what an RtpSender (with `fill`) and an RtpReceiver (delivering to the line) do,
    without a Python call between them: most of a real-time channel's cost was those calls.
    `datagram` takes what the network brought; `line` is a native audio end (its address and
    its C transmit and receive functions), which must outlive the channel.
    """

    __slots__ = ("_channel", "_packet", "_receiver", "_send", "_step", "datagram", "ssrc")

    def __init__(
        self,
        send: Callable[[bytes | bytearray], object],
        line: tuple[int, int, int],
        payload_type: int,
        *,
        depth_ms: int = DEPTH_MS,
        ssrc: int | None = None,
        sequence: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        receiver = RtpReceiver(_drop, payload_type, depth_ms=depth_ms)
        self._receiver = receiver
        self._send = send
        self._packet = bytearray(HEADER_SIZE + FRAME_SAMPLES)
        # RFC 3550 wants random initial values, so streams of one host are told apart.
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc
        address, transmit, receive = line
        channel = lib.faxcast_rtp_channel_new(
            receiver._jb,  # the buffer this module's receiver owns, run by the channel too
            ffi.cast("void *", address),
            ffi.cast("faxcast_line_tx_fn", transmit),
            ffi.cast("faxcast_line_rx_fn", receive),
            ffi.from_buffer(self._packet),
            payload_type,
            self.ssrc,
            secrets.randbits(16) if sequence is None else sequence,
            secrets.randbits(32) if timestamp is None else timestamp,
        )
        if channel == ffi.NULL:
            raise MemoryError("no memory for an RTP channel")
        self._channel = ffi.gc(channel, lib.faxcast_rtp_channel_free)
        self._step = functools.partial(lib.faxcast_rtp_channel_step, self._channel)
        self.datagram: Callable[[bytes], None] = receiver.datagram

    @property
    def stats(self) -> ReceiverStats:
        """What the jitter buffer did so far, counted live."""
        return self._receiver.stats

    @property
    def filled_in(self) -> int:
        """Frames the line coasted over, nothing of them having come."""
        return int(self._channel.filled_in)

    def frame(self, index: int) -> None:
        """Send frame `index` (160 samples after frame `index - 1`), then play one into the line."""
        self._step(index & 0xFFFFFFFF)
        self._send(self._packet)


def _drop(_frame: bytes | None) -> None:
    return None
