"""The media of one answered SIP fax call: the fax engine on RTP (G.711) or UDPTL (T.38).

Every call of a process steps on one shared 20 ms clock (sip.pacing.MediaClock) on the event
loop. First the T.38 calls' ports are read (their IFPs go into the terminal in order, to be
answered in this tick). Then every call sends: in audio, one C call (sip.rtp.RtpAudioChannel)
writes the modem's next G.711 frame into the RTP packet and plays the jitter buffer's next
frame into the modem (or lets it coast over a lost one); in T.38, the IFPs 20 ms more on the
terminal gives. Then the clock reads the audio calls' ports into their jitter buffers, for
the next tick: how much the calls received never moves a call's packet within the tick.
SpanDSP runs inline on the loop: a step costs microseconds (bench/sip.py), less than handing
it to a thread would.

The call's signalling (the lead's line driver) opens the ports, starts the audio, switches to
T.38 when a re-INVITE to `m=image` succeeds, says when the far end hung up, and waits for the
outcome here before it hangs up itself.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

from faxcast.domain.codec import Codec
from faxcast.domain.quality import FaxProfile
from faxcast.domain.station import StationIdentity
from faxcast.fax.engine import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioFaxSession,
    Direction,
    FaxSession,
    T38FaxSession,
)
from faxcast.fax.result import FaxResult
from faxcast.sip.media_port import Address, MediaPort
from faxcast.sip.pacing import MediaClock
from faxcast.sip.rtp import PAYLOAD_TYPES, ReceiverStats, RtpAudioChannel
from faxcast.sip.t38 import T38Params
from faxcast.sip.udptl import (
    DEFAULT_FAR_DATAGRAM,
    MAX_DATAGRAM,
    UdptlReceiver,
    UdptlSender,
    UdptlStats,
    far_limits,
)

FRAMES_PER_S = SAMPLE_RATE // FRAME_SAMPLES
# After phase E the last frames (the DCN) are still on their way out: keep streaming this long.
TAIL_S = 0.5
# RTP flows every 20 ms (no silence suppression at either end), so seconds without a packet
# mean the far end is gone. A T.38 receiver sends nothing while a page comes in, which can
# take minutes: there T.30's own timers notice a far end that went away, and this is only a
# safety net under the call's watchdog.
AUDIO_SILENCE_S = 10.0
T38_SILENCE_S = 180.0


class Ending(enum.Enum):
    """Why the media stopped."""

    PHASE_E = "phase_e"  # the fax session finished (well or not)
    FAR_END_HUNG_UP = "far_end_hung_up"  # signalling said so (BYE, or the dialog failed)
    FAR_END_SILENT = "far_end_silent"  # no packet from the far end for too long
    WATCHDOG = "watchdog"  # the call went past its time cap


@dataclass(frozen=True)
class FaxEnd:
    """Our end of the fax: what to send or where to receive, and how."""

    direction: Direction
    profile: FaxProfile
    identity: StationIdentity = StationIdentity()
    calling: bool = True


@dataclass
class MediaStats:
    """What the streams did, for logs and the benchmark (the clock's own are shared)."""

    rtp: ReceiverStats | None = None
    udptl: UdptlStats | None = None
    filled_in: int = 0  # audio frames the modem coasted over, counted when the audio stops


@dataclass(frozen=True)
class MediaOutcome:
    """How the media ended and what the fax session (the last one, if T.38 took over) says."""

    ending: Ending
    fax: FaxResult | None  # None when the call ended before any media started
    t38: bool
    line_s: float
    stats: MediaStats


class FaxMedia:
    """Runs one call's fax over RTP, then possibly T.38, until phase E, the far end, or the cap.

    `start_audio` begins (or `start_t38` directly); `switch_to_t38` replaces the audio with a
    fresh T.38 session mid-call; `move_remote` follows a re-INVITE that moves the far end's
    media; `far_end_hung_up` ends it; `wait` gives the outcome. The media takes over the ports
    it is given and closes them when it ends.
    """

    def __init__(
        self,
        end: FaxEnd,
        *,
        cap_s: float,
        tail_s: float = TAIL_S,
        audio_silence_s: float = AUDIO_SILENCE_S,
        t38_silence_s: float = T38_SILENCE_S,
        t38_paced: bool = True,
        clock: MediaClock | None = None,
    ) -> None:
        self.end = end
        self._loop = asyncio.get_running_loop()
        self._cap = math.ceil(cap_s * FRAMES_PER_S)
        self._tail = math.ceil(tail_s * FRAMES_PER_S)
        self._audio_silence = math.ceil(audio_silence_s * FRAMES_PER_S)
        self._t38_silence = math.ceil(t38_silence_s * FRAMES_PER_S)
        self._t38_paced = t38_paced
        self.clock = clock or MediaClock.of(self._loop)
        self._member: int | None = None
        self.stats = MediaStats()
        self._session: FaxSession | None = None
        self._ports: list[MediaPort] = []
        self._port: MediaPort | None = None  # the one carrying the media now
        self._heard_count = 0
        self._frames = 0
        self._first_frame = 0
        self._heard_at = 0
        self._silence = self._audio_silence
        self._done_at: int | None = None
        self._outcome: asyncio.Future[MediaOutcome] = self._loop.create_future()
        # What the current mode runs each tick; set by start_audio/start_t38.
        self._step: Callable[[int], None] = self._no_step
        self._audio: RtpAudioChannel | None = None

    @property
    def session(self) -> FaxSession | None:
        """The fax session now on the line."""
        return self._session

    @property
    def t38(self) -> bool:
        """Whether the call carries T.38 now."""
        return isinstance(self._session, T38FaxSession)

    @property
    def line_s(self) -> float:
        """Media time since the start (20 ms frames run)."""
        return self._frames / FRAMES_PER_S

    @property
    def over(self) -> bool:
        """Whether the media has ended."""
        return self._outcome.done()

    def start_audio(self, port: MediaPort, remote: Address, codec: Codec) -> None:
        """Fax over G.711 RTP between `port` and `remote` (the SDP's connection and port)."""
        self._check_not_started()
        end = self.end
        session = AudioFaxSession(
            end.direction, end.profile, end.identity, calling=end.calling, codec=codec
        )
        # The channel runs the modem from C: the session is kept (self._session) as long as
        # the channel runs.
        channel = RtpAudioChannel(port.send, session.native_line(), PAYLOAD_TYPES[codec])
        self._audio = channel
        self.stats.rtp = channel.stats
        self._take(port, remote, channel.datagram)
        self._session = session
        self._silence = self._audio_silence
        self._step = channel.frame
        self._join()

    def start_t38(
        self, port: MediaPort, remote: Address, far: T38Params, *, entries: int = 3
    ) -> None:
        """Fax over T.38 UDPTL to `remote`, within what the far end's SDP (`far`) allows."""
        self._check_not_started()
        self._run_t38(port, remote, far, entries)

    def switch_to_t38(
        self, port: MediaPort, remote: Address, far: T38Params, *, entries: int = 3
    ) -> None:
        """Leave the audio for T.38 (the re-INVITE succeeded): T.30 starts again over T.38."""
        if self.over:
            port.close()
            return
        self._close_ports()
        self._end_audio()
        self._run_t38(port, remote, far, entries)

    def _run_t38(self, port: MediaPort, remote: Address, far: T38Params, entries: int) -> None:
        end = self.end
        session = T38FaxSession(
            end.direction,
            end.profile,
            end.identity,
            calling=end.calling,
            paced=self._t38_paced,
        )
        limits = far_limits(far.max_datagram, far.error_correction, entries)
        session.configure_link(max_ifp=limits.max_ifp, version=far.version)
        sender = UdptlSender(
            port.send,
            error_correction=far.error_correction,
            entries=limits.entries,
            max_datagram=min(far.max_datagram or DEFAULT_FAR_DATAGRAM, MAX_DATAGRAM),
        )
        receiver = UdptlReceiver(session.receive)
        self.stats.udptl = receiver.stats
        advance, send, tick = session.advance_repeats, sender.send, receiver.tick

        def step(_index: int) -> None:
            tick()
            for ifp, repeats in advance(FRAME_SAMPLES):
                send(ifp, repeats)

        # IFPs go into the terminal before its next step, which answers them (T.30's answers
        # to commands are timed); RTP waits in the jitter buffer anyway.
        self._take(port, remote, receiver.datagram, first=True)
        self._session = session
        self._silence = self._t38_silence
        self._heard_at = self._frames
        self._step = step
        self._join()

    def move_remote(self, remote: Address) -> None:
        """The far end's media moved (a re-INVITE with a new address or port): send there."""
        for port in self._ports:
            port.remote = remote

    def far_end_hung_up(self) -> None:
        """The far end is gone (BYE, or the dialog failed): end the session now."""
        self._finish(Ending.FAR_END_HUNG_UP)

    async def wait(self) -> MediaOutcome:
        """Wait for the end of the media; cancelling the wait ends it as hung up."""
        try:
            return await asyncio.shield(self._outcome)
        except asyncio.CancelledError:
            self._finish(Ending.FAR_END_HUNG_UP)
            raise

    def _take(
        self,
        port: MediaPort,
        remote: Address,
        on_datagram: Callable[[bytes], None],
        *,
        first: bool = False,
    ) -> None:
        port.remote = remote
        port.on_datagram = on_datagram
        self.clock.watch(port.fileno(), port.read_one, first=first)
        self._ports.append(port)
        # The far end is heard when the port's count moves (checked once a tick, not per
        # datagram: one Python call fewer on every packet).
        self._port, self._heard_count = port, port.received

    def _check_not_started(self) -> None:
        if self._session is not None or self.over:
            raise RuntimeError("this call's media has started already")

    def _close_ports(self) -> None:
        for port in self._ports:
            if not port.closed:
                self.clock.unwatch(port.fileno())
                port.close()
        self._ports.clear()

    def _end_audio(self) -> None:
        audio = self._audio
        if audio is not None:
            # The frames the modem coasted over, counted in C while the channel ran.
            self.stats.filled_in = audio.filled_in
            self._audio = None

    def _no_step(self, _index: int) -> None:
        return None

    def _join(self) -> None:
        if self._member is None:
            self._member = self.clock.join(self._tick)
            self._first_frame = -1

    def _tick(self, frame: int) -> None:
        if self._first_frame < 0:
            self._first_frame = frame
        # Frames the shared clock gave up count in the RTP timestamps (time went by).
        self._step(frame - self._first_frame)
        port = self._port
        if port is not None and port.received != self._heard_count:
            self._heard_count, self._heard_at = port.received, self._frames
        self._frames = frames = self._frames + 1
        session = self._session
        assert session is not None
        if session.done:
            if self._done_at is None:
                self._done_at = frames
            elif frames - self._done_at >= self._tail:
                self._finish(Ending.PHASE_E)
        elif frames >= self._cap:
            self._finish(Ending.WATCHDOG)
        elif frames - self._heard_at > self._silence:
            self._finish(Ending.FAR_END_SILENT)

    def _finish(self, ending: Ending) -> None:
        if self._outcome.done():
            return
        if self._member is not None:
            self.clock.leave(self._member)
            self._member = None
        self._close_ports()
        self._end_audio()
        session = self._session
        if session is not None:
            session.hang_up()  # a no-op after phase E; otherwise phase E with what was done
        self._outcome.set_result(
            MediaOutcome(
                ending=ending,
                fax=None if session is None else session.result(),
                t38=isinstance(session, T38FaxSession),
                line_s=self.line_s,
                stats=self.stats,
            )
        )
