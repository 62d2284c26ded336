"""T.30 fax sessions on SpanDSP, over G.711 audio frames or T.38 IFP packets.

Only this module and `fax.g711` touch the cffi binding; nothing they return exposes `ffi`/`lib`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from faxcast.documents import line_bits, read_tiff_f, write_tiff_f
from faxcast.documents.header import HeaderLine, with_header
from faxcast.domain.codec import Codec
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import FaxProfile, Modem, Resolution
from faxcast.domain.station import StationIdentity
from faxcast.errors import DocumentError, DocumentProblem, FaxError, InputError
from faxcast.fax._spandsp import ffi, lib
from faxcast.fax.result import FaxResult, T30Code, classify
from faxcast.i18n import codes

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms, the usual G.711 RTP packetisation
_MAX_FRAME = 8000

_spandsp_log = logging.getLogger("faxcast.fax.spandsp")

_MODEM_BITS = {
    Modem.V17: lib.T30_SUPPORT_V17,
    Modem.V29: lib.T30_SUPPORT_V29,
    Modem.V27TER: lib.T30_SUPPORT_V27TER,
}
# Post-page responses that mean "page received": MCF, and RTP/PIP which confirm the page
# while asking for a retrain or an operator.
_PAGE_CONFIRMED = frozenset({lib.T30_MCF, lib.T30_RTP, lib.T30_PIP})
_Y_DPM = {Resolution.STANDARD: 3850, Resolution.FINE: 7700}  # SpanDSP's pixels per metre


@dataclass(frozen=True)
class Outgoing:
    """A validated TIFF-F to send, from `start_page` (0-based) to its end; `page_bits` are
    its pages' bits on the line (documents.line_bits), for the watchdog."""

    path: Path
    pages: int
    resolution: Resolution
    page_bits: tuple[int, ...]
    start_page: int = 0

    @classmethod
    def from_file(cls, path: Path, *, start_page: int = 0) -> Outgoing:
        """Decode and check every page first: SpanDSP alone sends a broken file as OK."""
        document = read_tiff_f(path.read_bytes())
        _check_decodes(path)
        checked = cls(path, len(document.pages), document.resolution, line_bits(document))
        return cls.from_validated(checked, start_page=start_page)

    @classmethod
    def from_validated(cls, document: Outgoing, *, start_page: int) -> Outgoing:
        """The same checked file, sent from another page."""
        if not 0 <= start_page < document.pages:
            raise InputError(codes.START_PAGE_OUTSIDE(page=start_page + 1, count=document.pages))
        return dataclasses.replace(document, start_page=start_page)

    @property
    def bits_to_send(self) -> tuple[int, ...]:
        """The line bits of the pages from `start_page` on."""
        return self.page_bits[self.start_page :]

    def with_header(self, line: HeaderLine, sent_at: datetime, path: Path) -> Outgoing:
        """The same pages with `line` drawn into their top rows, written at `path`: a call's
        own copy, as its header carries the time of sending."""
        document = with_header(read_tiff_f(self.path.read_bytes()), line, sent_at)
        path.write_bytes(write_tiff_f(document))
        # The band adds a few thousand bits a page, within the watchdog's margin.
        return dataclasses.replace(self, path=path)


@dataclass(frozen=True)
class Incoming:
    """Receive into a TIFF-F written at `path`."""

    path: Path


Direction = Outgoing | Incoming


class NativeLine(NamedTuple):
    """A modem as a C audio end, by address: `transmit(line, out, samples)` writes its next
    G.711 samples, `receive(line, heard, samples)` feeds what was heard (NULL for a lost frame);
    both C `int (void *, uint8_t *, int)`."""

    line: int
    transmit: int
    receive: int


def _check_decodes(path: Path) -> None:
    message = ffi.new("char[]", 256)
    page = lib.faxcast_tiff_check(bytes(path), message, 256)
    if page:
        detail = ffi.string(message).decode("ascii", "replace")
        raise DocumentError(
            DocumentProblem.BAD_TIFF,
            codes.TIFF_DOES_NOT_DECODE(page=page, detail=detail),
            page=page,
        )


@ffi.def_extern()  # type: ignore[untyped-decorator]
def faxcast_on_phase_d(_t30: Any, user_data: Any, fcf: int) -> int:
    session: FaxSession = ffi.from_handle(user_data)
    session._on_page_response(fcf)
    return 0


@ffi.def_extern()  # type: ignore[untyped-decorator]
def faxcast_on_phase_e(_t30: Any, user_data: Any, code: int) -> None:
    session: FaxSession = ffi.from_handle(user_data)
    session._on_complete(code)


@ffi.def_extern()  # type: ignore[untyped-decorator]
def faxcast_on_log(level: int, text: Any) -> None:
    message = ffi.string(text).decode("ascii", "replace").rstrip()
    # SpanDSP reports a failed call's protocol trouble as warnings; the FaxResult already says
    # what went wrong, so only its own errors rise above debug.
    _spandsp_log.log(logging.WARNING if level <= lib.SPAN_LOG_ERROR else logging.DEBUG, message)


lib.span_set_message_handler(lib.faxcast_on_log)
lib.faxcast_quiet_libtiff()


class FaxSession:
    """One T.30 session, sending or receiving; subclasses carry it over audio or T.38."""

    # Slots: the loopback and the RTP loop touch these attributes every 20 ms per channel.
    __slots__ = (
        "__weakref__",
        "_confirmed",
        "_debug",
        "_handle",
        "_result",
        "_samples",
        "_t30",
        "calling",
        "direction",
        "done",
        "identity",
        "profile",
    )
    t38 = False

    def __init__(
        self,
        direction: Direction,
        profile: FaxProfile,
        identity: StationIdentity,
        *,
        calling: bool,
        debug: bool,
    ) -> None:
        self.direction = direction
        self.profile = profile
        self.identity = identity
        self.calling = calling
        self._debug = debug
        self._handle = ffi.new_handle(self)
        self._samples = 0
        self._confirmed = 0
        self._result: FaxResult | None = None
        self.done = False  # set at phase E; a plain attribute as loops test it every frame

    @property
    def line_seconds(self) -> float:
        """Time on the line so far, counted in samples (not wall clock)."""
        return self._samples / SAMPLE_RATE

    @property
    def pages_confirmed(self) -> int:
        """Pages of the document the far end has confirmed so far (sending side)."""
        start = self.direction.start_page if isinstance(self.direction, Outgoing) else 0
        return start + self._confirmed

    def result(self) -> FaxResult:
        """The outcome; only once the session is done."""
        if self._result is None:
            raise FaxError(codes.SESSION_UNFINISHED())
        return self._result

    def hang_up(self) -> None:
        """End the session now, as when the call drops; phase E reports what was done."""
        if self._result is None:
            lib.t30_terminate(self._t30)
        if self._result is None:
            self._on_complete(int(T30Code.CALLDROPPED))

    def _configure(self, t30: Any, log_states: tuple[Any, ...]) -> None:
        self._t30 = t30
        profile, identity = self.profile, self.identity
        if identity.ident:
            lib.t30_set_tx_ident(t30, identity.ident.encode("ascii"))
        # No SpanDSP header (ASCII, UTC, rows added above the page): the sender draws its own
        # into the page (documents.header).
        lib.t30_set_ecm_capability(t30, int(profile.ecm))
        modems = 0
        for modem in profile.modems:
            modems |= _MODEM_BITS[modem]
        lib.t30_set_supported_modems(t30, modems)
        lib.t30_set_supported_compressions(
            t30,
            lib.T30_SUPPORT_T4_1D_COMPRESSION
            | lib.T30_SUPPORT_T4_2D_COMPRESSION
            | lib.T30_SUPPORT_T6_COMPRESSION,
        )
        lib.t30_set_supported_resolutions(
            t30,
            lib.T30_SUPPORT_STANDARD_RESOLUTION
            | lib.T30_SUPPORT_FINE_RESOLUTION
            | lib.T30_SUPPORT_SUPERFINE_RESOLUTION
            | lib.T30_SUPPORT_R8_RESOLUTION,
        )
        lib.t30_set_supported_image_sizes(
            t30,
            lib.T30_SUPPORT_215MM_WIDTH
            | lib.T30_SUPPORT_UNLIMITED_LENGTH
            | lib.T30_SUPPORT_A4_LENGTH
            | lib.T30_SUPPORT_B4_LENGTH
            | lib.T30_SUPPORT_US_LETTER_LENGTH
            | lib.T30_SUPPORT_US_LEGAL_LENGTH,
        )
        direction = self.direction
        if isinstance(direction, Outgoing):
            lib.t30_set_tx_file(t30, bytes(direction.path), direction.start_page, -1)
        else:
            lib.t30_set_rx_file(t30, bytes(direction.path), -1)
        lib.t30_set_phase_d_handler(t30, lib.faxcast_on_phase_d, self._handle)
        lib.t30_set_phase_e_handler(t30, lib.faxcast_on_phase_e, self._handle)
        level = (
            lib.SPAN_LOG_FLOW | lib.SPAN_LOG_SHOW_PROTOCOL | lib.SPAN_LOG_SHOW_TAG
            if self._debug
            else lib.SPAN_LOG_WARNING | lib.SPAN_LOG_SHOW_PROTOCOL | lib.SPAN_LOG_SHOW_TAG
        )
        tag = b"tx" if isinstance(direction, Outgoing) else b"rx"
        for state in (*log_states, lib.t30_get_logging_state(t30)):
            lib.span_log_set_level(state, level)
            lib.span_log_set_tag(state, tag)

    def _on_page_response(self, fcf: int) -> None:
        if isinstance(self.direction, Outgoing) and fcf in _PAGE_CONFIRMED:
            self._confirmed += 1

    def _on_complete(self, raw_code: int) -> None:
        if self._result is not None:
            return
        stats = ffi.new("t30_stats_t *")
        lib.t30_get_transfer_statistics(self._t30, stats)
        ident = lib.t30_get_rx_ident(self._t30)
        remote = "" if ident == ffi.NULL else ffi.string(ident).decode("ascii", "replace").strip()
        try:
            code = T30Code(raw_code)
        except ValueError:
            code = T30Code.UNEXPECTED
        text = ffi.string(lib.t30_completion_code_to_str(raw_code)).decode("ascii", "replace")
        direction = self.direction
        if isinstance(direction, Outgoing):
            total = direction.pages
            transferred = direction.start_page + stats.pages_tx
            confirmed = self.pages_confirmed
        else:
            transferred = confirmed = total = stats.pages_rx
        success = code is T30Code.OK and confirmed == total and total > 0
        failure: FailureClass | None = None
        reason = "delivered" if isinstance(direction, Outgoing) else "received"
        group = classify(code)
        if group is not None:
            failure, reason = group.failure, f"{text} (T.30 {code.name})"
        elif not success:
            failure = FailureClass.TRANSFER_FAILED
            reason = f"the far end confirmed {confirmed} of {total} pages"
        resolution = next(
            (res for res, dpm in _Y_DPM.items() if abs(stats.y_resolution - dpm) < 200), None
        )
        self._result = FaxResult(
            success=success,
            code=code,
            code_text=text,
            pages_total=total,
            pages_transferred=transferred,
            pages_confirmed=confirmed,
            bit_rate=stats.bit_rate,
            ecm=bool(stats.error_correcting_mode),
            resolution=resolution,
            remote_ident=remote,
            duration_s=self.line_seconds,
            t38=self.t38,
            failure=failure,
            reason=reason,
        )
        self.done = True


class AudioFaxSession(FaxSession):
    """T.30 over 8 kHz G.711 audio: V.21 signalling and V.27ter/V.29/V.17 image modems."""

    __slots__ = ("_fax", "_g711", "_line", "_out", "_out_buffer", "_pcm", "codec")

    def __init__(
        self,
        direction: Direction,
        profile: FaxProfile,
        identity: StationIdentity = StationIdentity(),
        *,
        calling: bool,
        codec: Codec = Codec.PCMA,
        debug: bool = False,
    ) -> None:
        super().__init__(direction, profile, identity, calling=calling, debug=debug)
        self.codec = codec
        fax = lib.fax_init(ffi.NULL, int(calling))
        g711 = lib.g711_init(ffi.NULL, lib.G711_ALAW if codec is Codec.PCMA else lib.G711_ULAW)
        if ffi.NULL in (fax, g711):
            raise FaxError(codes.AUDIO_SESSION_FAILED())
        line = lib.faxcast_line_new(fax, g711)
        if line == ffi.NULL:
            _free_audio(fax, g711, line)
            raise FaxError(codes.AUDIO_SESSION_FAILED())
        weakref.finalize(self, _free_audio, fax, g711, line)
        self._fax = fax
        self._g711 = g711
        self._line = line
        lib.fax_set_transmit_on_idle(fax, 1)
        self._configure(lib.fax_get_t30_state(fax), (lib.fax_get_logging_state(fax),))
        self._out = ffi.new("uint8_t[]", _MAX_FRAME)
        self._pcm = ffi.new("int16_t[]", _MAX_FRAME)
        self._out_buffer = ffi.buffer(self._out)

    def transmit(self, samples: int = FRAME_SAMPLES) -> bytes:
        """The next `samples` of line audio from this end, G.711-encoded."""
        n = lib.faxcast_audio_tx(self._fax, self._g711, self._out, self._pcm, samples)
        payload: bytes = self._out_buffer[:n]
        return payload

    def transmitter(self, into: memoryview, samples: int = FRAME_SAMPLES) -> Callable[[], int]:
        """A writer of the next `samples` of G.711 line audio into `into`, for a sender that
        reuses one buffer: a single C call per frame, no allocation. Use it while this
        session lives (the writer holds the buffer, not the session)."""
        if not 0 < samples <= min(len(into), _MAX_FRAME):
            raise ValueError(f"a buffer of {len(into)} bytes cannot take {samples} samples")
        target = ffi.from_buffer("uint8_t[]", into, require_writable=True)
        writer: Callable[[], int] = functools.partial(
            lib.faxcast_audio_tx, self._fax, self._g711, target, self._pcm, samples
        )
        return writer

    @property
    def line_seconds(self) -> float:
        """Time on the line so far, counted in samples heard (not wall clock)."""
        return int(self._line.samples) / SAMPLE_RATE

    def receive(self, payload: bytes) -> None:
        """Feed G.711 audio heard from the far end; this also runs T.30's timers."""
        if len(payload) > _MAX_FRAME:
            raise ValueError(f"{len(payload)} samples at once are more than {_MAX_FRAME}")
        lib.faxcast_line_rx(self._line, payload, len(payload))

    def fill_in(self, samples: int = FRAME_SAMPLES) -> None:
        """Let `samples` pass with nothing heard (a lost packet): the modem coasts, timers run."""
        lib.faxcast_line_rx(self._line, ffi.NULL, samples)

    def native_line(self) -> NativeLine:
        """This modem as one C audio end, for a caller that runs it from C (an RTP channel):
        valid while this session lives."""
        return NativeLine(
            int(ffi.cast("uintptr_t", self._line)),
            int(ffi.cast("uintptr_t", ffi.addressof(lib, "faxcast_line_tx"))),
            int(ffi.cast("uintptr_t", ffi.addressof(lib, "faxcast_line_rx"))),
        )


_t38_advance = lib.faxcast_t38_advance


def _free_t38(terminal: Any, queue: Any) -> None:
    lib.t38_terminal_free(terminal)
    lib.faxcast_ifp_queue_release(queue)


def _free_audio(fax: Any, g711: Any, line: Any) -> None:
    lib.fax_free(fax)
    lib.g711_free(g711)
    if line != ffi.NULL:
        lib.faxcast_line_free(line)


class T38FaxSession(FaxSession):
    """T.30 carried as T.38 IFP packets (the UDPTL framing is the SIP layer's business)."""

    __slots__ = ("_core", "_packet", "_packet_buffer", "_queue", "_repeats", "_terminal")
    t38 = True

    def __init__(
        self,
        direction: Direction,
        profile: FaxProfile,
        identity: StationIdentity = StationIdentity(),
        *,
        calling: bool,
        paced: bool = True,
        debug: bool = False,
    ) -> None:
        super().__init__(direction, profile, identity, calling=calling, debug=debug)
        queue = ffi.new("faxcast_ifp_queue_t *")
        terminal = lib.t38_terminal_init(ffi.NULL, int(calling), lib.faxcast_ifp_queue_push, queue)
        if terminal == ffi.NULL:
            raise FaxError(codes.T38_SESSION_FAILED())
        weakref.finalize(self, _free_t38, terminal, queue)
        self._queue = queue
        self._terminal = terminal
        self._core = lib.t38_terminal_get_t38_core_state(terminal)
        if not paced:
            lib.t38_terminal_set_config(terminal, lib.T38_TERMINAL_OPTION_NO_PACING)
        self._configure(
            lib.t38_terminal_get_t30_state(terminal),
            (
                lib.t38_terminal_get_logging_state(terminal),
                lib.t38_core_get_logging_state(self._core),
            ),
        )
        self._packet = ffi.new("uint8_t[]", lib.FAXCAST_IFP_MAX)
        self._packet_buffer = ffi.buffer(self._packet)
        self._repeats = ffi.new("int *")

    def advance(self, samples: int = FRAME_SAMPLES) -> Sequence[bytes]:
        """Let `samples` of time pass; returns the IFP packets to send, in order."""
        queued = _t38_advance(self._terminal, self._queue, samples)
        self._samples += samples
        if not queued:
            return ()
        if queued < 0:
            raise FaxError(codes.T38_PACKET_NOT_QUEUED())
        pop, queue, packet = lib.faxcast_ifp_queue_pop, self._queue, self._packet
        buffer = self._packet_buffer
        return [buffer[: pop(queue, packet, ffi.NULL)] for _ in range(queued)]

    def advance_repeats(self, samples: int = FRAME_SAMPLES) -> Sequence[tuple[bytes, int]]:
        """As `advance`, each packet with how many times SpanDSP asks for it to be sent."""
        queued = _t38_advance(self._terminal, self._queue, samples)
        self._samples += samples
        if not queued:
            return ()
        if queued < 0:
            raise FaxError(codes.T38_PACKET_NOT_QUEUED())
        pop, queue, packet = lib.faxcast_ifp_queue_pop, self._queue, self._packet
        buffer, repeats = self._packet_buffer, self._repeats
        out = []
        for _ in range(queued):
            size = pop(queue, packet, repeats)
            out.append((buffer[:size], repeats[0]))
        return out

    def configure_link(self, *, max_ifp: int, version: int = 0) -> None:
        """Apply what SDP agreed: the largest IFP the far end takes, and the T.38 version."""
        lib.t38_set_max_datagram_size(self._core, max_ifp)
        lib.t38_set_t38_version(self._core, version)

    def receive(self, packet: bytes, seq_no: int) -> None:
        """Feed one IFP packet from the far end, with its UDPTL sequence number."""
        lib.t38_core_rx_ifp_packet(self._core, packet, len(packet), seq_no & 0xFFFF)
