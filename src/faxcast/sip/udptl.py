"""UDPTL (ITU T.38 Annex D): T.38 IFP packets over UDP, with redundancy or parity FEC.

A packet is a 16-bit sequence number, the primary IFP as an open type (a PER length: one byte
below 128, two up to 16383), then the error recovery: 0x00 and the previous IFPs newest first
(redundancy), or 0x80, the span and parity entries (FEC). faxcast sends redundancy (or FEC if
the far end asked for it) and accepts both.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from faxcast.errors import ProtocolError
from faxcast.i18n import codes
from faxcast.sip.t38 import ErrorCorrection

MAX_DATAGRAM = 1400  # the largest UDPTL datagram faxcast accepts or announces (as Asterisk)
DEFAULT_FAR_DATAGRAM = 400  # assumed when the far end does not say
MAX_ENTRIES = 5  # secondary IFPs or FEC entries: beyond this, no sender goes
DEFAULT_ENTRIES = 3
DEFAULT_SPAN = 3
MIN_USEFUL_IFP = 80  # below this an IFP carries too little image data (Asterisk's threshold)
_SEQ = 0x10000
_LENGTH_1 = 0x80
_LENGTH_2 = 0x4000


class Recovery(enum.Enum):
    """The error-recovery choice of one packet."""

    REDUNDANCY = 0x00
    FEC = 0x80


@dataclass(frozen=True, slots=True)
class UdptlPacket:
    """One UDPTL datagram: `secondary` are earlier IFPs newest first (redundancy), or `fec` the
    parity entries over `fec_span` earlier packets each (FEC)."""

    sequence: int
    primary: bytes
    secondary: tuple[bytes, ...] = ()
    fec: tuple[bytes, ...] | None = None
    fec_span: int = 0

    @property
    def recovery(self) -> Recovery:
        """Which error recovery this packet carries."""
        return Recovery.REDUNDANCY if self.fec is None else Recovery.FEC

    @classmethod
    def parse(cls, data: bytes) -> UdptlPacket:
        """Read one datagram; ProtocolError when it is not a well-formed UDPTL packet."""
        size = len(data)
        if size > MAX_DATAGRAM:
            raise ProtocolError(codes.UDPTL_TOO_LARGE(size=size, limit=MAX_DATAGRAM))
        if size < 3:
            raise ProtocolError(codes.UDPTL_TRUNCATED(size=size))
        sequence = int.from_bytes(data[:2], "big")
        primary, at = _open_type(data, 2)
        if at >= size:
            raise ProtocolError(codes.UDPTL_TRUNCATED(size=size))
        choice = data[at]
        at += 1
        if choice & 0x80 == 0:
            entries, at = _length(data, at)
            _check_entries(entries)
            secondary = []
            for _ in range(entries):
                ifp, at = _open_type(data, at)
                secondary.append(ifp)
            _check_end(data, at)
            return cls(sequence, primary, tuple(secondary))
        # fec-npackets is an unconstrained INTEGER: a one-byte length, then (for any real
        # sender) one byte of span.
        if at + 2 > size:
            raise ProtocolError(codes.UDPTL_TRUNCATED(size=size))
        if data[at] != 1 or data[at + 1] == 0:
            raise ProtocolError(codes.UDPTL_BAD_FEC())
        span = data[at + 1]
        entries, at = _length(data, at + 2)
        _check_entries(entries)
        if entries == 0:
            raise ProtocolError(codes.UDPTL_BAD_FEC())
        parity = []
        for _ in range(entries):
            entry, at = _open_type(data, at)
            parity.append(entry)
        _check_end(data, at)
        return cls(sequence, primary, fec=tuple(parity), fec_span=span)

    def __bytes__(self) -> bytes:
        out = bytearray(self.sequence.to_bytes(2, "big"))
        _put_open_type(out, self.primary)
        if self.fec is None:
            out.append(Recovery.REDUNDANCY.value)
            _put_length(out, len(self.secondary))
            for ifp in self.secondary:
                _put_open_type(out, ifp)
        else:
            out += bytes((Recovery.FEC.value, 1, self.fec_span))
            _put_length(out, len(self.fec))
            for entry in self.fec:
                _put_open_type(out, entry)
        return bytes(out)


def _length(data: bytes, at: int) -> tuple[int, int]:
    if at >= len(data):
        raise ProtocolError(codes.UDPTL_TRUNCATED(size=len(data)))
    first = data[at]
    if first & 0x80 == 0:
        return first, at + 1
    if first & 0x40:
        raise ProtocolError(codes.UDPTL_FRAGMENTED())
    if at + 1 >= len(data):
        raise ProtocolError(codes.UDPTL_TRUNCATED(size=len(data)))
    return (first & 0x3F) << 8 | data[at + 1], at + 2


def _open_type(data: bytes, at: int) -> tuple[bytes, int]:
    length, at = _length(data, at)
    end = at + length
    if end > len(data):
        raise ProtocolError(codes.UDPTL_TRUNCATED(size=len(data)))
    return bytes(data[at:end]), end


def _check_entries(entries: int) -> None:
    if entries > MAX_ENTRIES:
        raise ProtocolError(codes.UDPTL_TOO_MANY_ENTRIES(entries=entries, limit=MAX_ENTRIES))


def _check_end(data: bytes, at: int) -> None:
    if at != len(data):
        raise ProtocolError(codes.UDPTL_TRAILING_BYTES(extra=len(data) - at))


def _put_length(out: bytearray, length: int) -> None:
    if length < _LENGTH_1:
        out.append(length)
    elif length < _LENGTH_2:
        out += bytes((0x80 | length >> 8, length & 0xFF))
    else:
        raise ValueError(f"a UDPTL field of {length} bytes needs fragmentation")


def _put_open_type(out: bytearray, field: bytes) -> None:
    _put_length(out, len(field))
    out += field


def xor_parity(ifps: Sequence[bytes]) -> bytes:
    """The FEC parity of IFPs: their bytes XORed, the shorter ones padded with zeros."""
    longest = max((len(ifp) for ifp in ifps), default=0)
    parity = 0
    for ifp in ifps:
        parity ^= int.from_bytes(ifp.ljust(longest, b"\x00"), "big")
    return parity.to_bytes(longest, "big")


def fec_covered(sequence: int, entry: int, span: int, entries: int) -> list[int]:
    """Sequence numbers (unwrapped) that parity `entry` of packet `sequence` covers.

    Entry m covers every `entries`-th packet before `sequence + m`, `span` of them, as
    Asterisk's and FreeSWITCH's udptl.c do (both by SpanDSP's author).
    """
    limit = sequence + entry
    return [limit - entries * k for k in range(span, 0, -1)]


@dataclass(frozen=True)
class FarLimits:
    """What may be sent to a far end: the IFP size for SpanDSP, and how many entries."""

    max_ifp: int
    entries: int


def far_limits(
    far_max_datagram: int | None,
    error_correction: ErrorCorrection,
    entries: int = DEFAULT_ENTRIES,
) -> FarLimits:
    """The largest IFP SpanDSP may produce so a packet fits the far end's T38FaxMaxDatagram.

    As Asterisk's main/udptl.c: room for the sequence number and length bytes, then one share
    per copy (the primary and each secondary); redundancy entries are dropped (not below one)
    while a share is under 80 bytes; 5 % is kept back for safety.
    """
    datagram = far_max_datagram or DEFAULT_FAR_DATAGRAM
    if datagram > MAX_DATAGRAM:
        datagram = DEFAULT_FAR_DATAGRAM
    if error_correction is ErrorCorrection.NONE:
        return FarLimits(int((datagram - 5) * 0.95), 0)
    if error_correction is ErrorCorrection.FEC:
        return FarLimits(int((datagram - 10) // 2 * 0.95), entries)
    while True:
        share = (datagram - 8) // (entries + 1)
        if share >= MIN_USEFUL_IFP or entries <= 1:
            return FarLimits(int(share * 0.95), entries)
        entries -= 1


def local_max_datagram(max_ifp: int, entries: int = DEFAULT_ENTRIES) -> int:
    """The T38FaxMaxDatagram to announce for IFPs up to `max_ifp` with this much redundancy."""
    return min(MAX_DATAGRAM, int((5 + max_ifp + 2 + entries * max_ifp) * 1.05))


class UdptlSender:
    """Numbers IFPs and sends each as one UDPTL packet, `repeats` times (SpanDSP's count).

    Every packet carries the previous IFPs (redundancy, newest first, as many of `entries`
    as fit in the far end's datagram) or their parity (FEC, when the far end asked for it).
    """

    __slots__ = ("_fec", "_history", "_max_datagram", "_send", "_sequence", "entries", "span")

    def __init__(
        self,
        send: Callable[[bytes], object],
        *,
        error_correction: ErrorCorrection = ErrorCorrection.REDUNDANCY,
        entries: int = DEFAULT_ENTRIES,
        span: int = DEFAULT_SPAN,
        max_datagram: int = DEFAULT_FAR_DATAGRAM,
        sequence: int = 0,
    ) -> None:
        if not 0 <= entries <= MAX_ENTRIES or not 1 <= span <= MAX_ENTRIES:
            raise ValueError(f"UDPTL entries 0..{MAX_ENTRIES} and span 1..{MAX_ENTRIES}")
        self._send = send
        self._fec = error_correction is ErrorCorrection.FEC and entries > 0
        self.entries = entries if error_correction is not ErrorCorrection.NONE else 0
        self.span = span
        self._max_datagram = max_datagram
        self._sequence = sequence
        self._history: deque[bytes] = deque(maxlen=max(1, span * entries))  # newest first

    @property
    def sequence(self) -> int:
        """The sequence number the next IFP gets (unwrapped)."""
        return self._sequence

    def send(self, ifp: bytes, repeats: int = 1) -> None:
        """Send one IFP, in `repeats` identical datagrams (one sequence number)."""
        sequence = self._sequence
        if self._fec:
            packet = UdptlPacket(sequence & 0xFFFF, ifp, fec=self._parities(), fec_span=self.span)
            data = bytes(packet)
        else:
            history = list(self._history)[: self.entries]
            data = bytes(UdptlPacket(sequence & 0xFFFF, ifp, tuple(history)))
            while len(data) > self._max_datagram and history:
                history.pop()  # the oldest copy goes first: it is the least likely needed
                data = bytes(UdptlPacket(sequence & 0xFFFF, ifp, tuple(history)))
        for _ in range(max(1, repeats)):
            self._send(data)
        self._history.appendleft(ifp)
        self._sequence = sequence + 1

    def _parities(self) -> tuple[bytes, ...]:
        history, sequence, entries = self._history, self._sequence, self.entries
        parities = []
        for entry in range(entries):
            covered = [
                history[sequence - 1 - number]
                for number in fec_covered(sequence, entry, self.span, entries)
                if 0 <= sequence - 1 - number < len(history)
            ]
            parities.append(xor_parity(covered))
        return tuple(parities)


@dataclass
class UdptlStats:
    """What the receiver did with what came in."""

    packets: int = 0
    malformed: int = 0
    stale: int = 0
    recovered: int = 0
    lost: int = 0
    resyncs: int = 0


_REORDER = 2  # packets that may overtake a lost one before its recovery is given up
_KEEP = 2 * MAX_ENTRIES * MAX_ENTRIES  # delivered IFPs kept for parity repairs
_JUMP = 1000  # a sequence jump this large is a restarted stream, not loss


class UdptlReceiver:
    """Delivers the far end's IFPs in order, each once, with its sequence number.

    A lost IFP is taken from a later packet's redundancy or rebuilt from parity (FEC); one that
    cannot be is skipped once no later packet can bring it back, or after `hold` ticks.
    """

    def __init__(self, deliver: Callable[[bytes, int], object], *, hold: int = 10) -> None:
        self._deliver = deliver
        self._hold = hold
        self._ifps: dict[int, bytes] = {}
        self._fec: dict[int, UdptlPacket] = {}
        self._next: int | None = None
        self._highest = 0
        self._coverage = 0
        self._waited = 0
        self.stats = UdptlStats()

    def datagram(self, data: bytes) -> None:
        """Take one datagram from the network; what cannot be used is counted, never raised."""
        try:
            packet = UdptlPacket.parse(data)
        except ProtocolError:
            self.stats.malformed += 1
            return
        self.packet(packet)

    def packet(self, packet: UdptlPacket) -> None:
        """Take one parsed packet and deliver whatever is now in order."""
        stats = self.stats
        stats.packets += 1
        floor = packet.sequence if self._next is None else self._next
        delta = ((packet.sequence - floor + 0x8000) & 0xFFFF) - 0x8000
        sequence = floor + delta
        if self._next is None or abs(delta) > _JUMP:
            if self._next is not None:
                stats.resyncs += 1
            self._ifps.clear()
            self._fec.clear()
            self._next = self._highest = floor = sequence
        elif delta < 0:
            stats.stale += 1  # a repeat, or later than its recovery: already dealt with
            return
        self._highest = max(self._highest, sequence)
        ifps = self._ifps
        ifps[sequence] = packet.primary
        if packet.fec is None:
            self._coverage = len(packet.secondary)
            for age, ifp in enumerate(packet.secondary, start=1):
                earlier = sequence - age
                if earlier >= floor and earlier not in ifps:
                    ifps[earlier] = ifp
                    stats.recovered += 1
        else:
            self._coverage = packet.fec_span * len(packet.fec)
            self._fec[sequence] = packet
            self._repair()
        self._release()

    def tick(self) -> None:
        """Let 20 ms pass: a gap that waited `hold` ticks is given up."""
        if self._next is not None and self._next not in self._ifps and self._highest > self._next:
            self._waited += 1
            self._release()

    def _repair(self) -> None:
        ifps, stats = self._ifps, self.stats
        progress = True
        while progress:
            progress = False
            for sequence, packet in self._fec.items():
                entries = len(packet.fec or ())
                for entry, parity in enumerate(packet.fec or ()):
                    covered = fec_covered(sequence, entry, packet.fec_span, entries)
                    # Numbers below 0 come before the stream's first packet: empty IFPs.
                    missing = [n for n in covered if n >= 0 and n not in ifps]
                    if len(missing) != 1 or missing[0] < (self._next or 0):
                        continue
                    others = [ifps[n] for n in covered if n >= 0 and n in ifps]
                    ifps[missing[0]] = xor_parity([parity, *others])
                    stats.recovered += 1
                    progress = True

    def _release(self) -> None:
        ifps, deliver = self._ifps, self._deliver
        assert self._next is not None
        while True:
            sequence = self._next
            ifp = ifps.get(sequence)
            if ifp is not None:
                deliver(ifp, sequence & 0xFFFF)
                self._next = sequence + 1
                self._waited = 0
                continue
            if self._highest <= sequence:
                break
            if self._highest - sequence > self._coverage + _REORDER or self._waited >= self._hold:
                self.stats.lost += 1  # SpanDSP is told by the jump in sequence numbers
                self._next = sequence + 1
                self._waited = 0
                continue
            break
        floor = self._next - _KEEP
        for old in [n for n in ifps if n < floor]:
            del ifps[old]
        for old in [n for n in self._fec if n < floor]:
            del self._fec[old]
