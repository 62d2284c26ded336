"""The sandbox fax network: every number is answered by a simulated machine on the real engine.

Fax calls are real T.30 exchanges between two SpanDSP ends, over G.711 audio or T.38 packets;
only the clock is ours: by default the exchange runs as fast as the CPU allows, in a worker
thread so the event loop stays free, and with `realtime=True` it is paced to the wall clock.
The documented test numbers (faxcast.lines.testnumbers) give busy, no answer, voice, dropped
and noisy-line outcomes; everything else reaches a healthy fax machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from faxcast.clock import Clock
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import FaxProfile, Modem, Resolution
from faxcast.domain.retry import call_cap_s
from faxcast.domain.station import MAX_IDENT_LEN, StationIdentity
from faxcast.fax.engine import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioFaxSession,
    Codec,
    FaxSession,
    Incoming,
    Outgoing,
    T38FaxSession,
)
from faxcast.fax.g711 import G711, saturate
from faxcast.lines.base import CallResult, FaxJob
from faxcast.lines.testnumbers import Behaviour, digits_of, sandbox_number

FRAMES_PER_S = SAMPLE_RATE // FRAME_SAMPLES
# Realtime mode runs this many frames (1 s of line) per hop to the worker thread, then sleeps
# until the wall clock catches up: one thread hop a second keeps the overhead negligible.
BATCH_FRAMES = FRAMES_PER_S
POST_DIAL_S = 0.5  # INVITE to a final refusal (busy, unallocated, ...)
RING_TIMEOUT_S = 30.0  # the trunk gives up ringing with 408
ANSWER_AFTER_S = 1.0  # every sandbox machine answers on the first ring
DROP_AFTER_S = 2.0  # the dropping machine cuts this long after confirming its first page
# After the sender's phase E the receiver still hears the DCN; let it finish its own side.
HANG_UP_GRACE_S = 3.0
# Phase jitter of the noisy line, as ITU line simulators specify it. Calibrated on SpanDSP:
# 5 degrees lets V.17 14400 pass training with a broken page, 8 degrees also fails 12000;
# at 6 degrees 14400's TCF fails every time (longest error-free run ~1600 of the 14400 bits
# needed) and 12000 carries ECM pages intact (9600 on V.29 for the "best" quality).
JITTER_DEGREES = 6.0
JITTER_HZ = 120.0

# What a sandbox machine can receive: every modem, ECM, every resolution SpanDSP offers.
MACHINE_PROFILE = FaxProfile(Resolution.FINE, (Modem.V17, Modem.V29, Modem.V27TER), ecm=True)


@dataclass(frozen=True)
class SipFailure:
    """A final SIP response that ends a call before it is answered, and its failure class."""

    status: int
    phrase: str
    failure: FailureClass
    meaning: str

    @property
    def reason(self) -> str:
        """For people: "busy (SIP 486 Busy Here)"."""
        return f"{self.meaning} (SIP {self.status} {self.phrase})"


# DESIGN.md's delivery and retry policy, for the SIP statuses it names.
SIP_FAILURES: tuple[SipFailure, ...] = (
    SipFailure(486, "Busy Here", FailureClass.BUSY, "busy"),
    SipFailure(600, "Busy Everywhere", FailureClass.BUSY, "busy"),
    SipFailure(408, "Request Timeout", FailureClass.NO_ANSWER, "no answer"),
    SipFailure(480, "Temporarily Unavailable", FailureClass.NO_ANSWER, "no answer"),
    SipFailure(503, "Service Unavailable", FailureClass.CONGESTION, "congestion"),
    SipFailure(404, "Not Found", FailureClass.PERMANENT, "number does not exist"),
    SipFailure(484, "Address Incomplete", FailureClass.PERMANENT, "number does not exist"),
    SipFailure(403, "Forbidden", FailureClass.PERMANENT, "rejected"),
    SipFailure(603, "Decline", FailureClass.PERMANENT, "rejected"),
)
_SIP_FAILURE = {entry.status: entry for entry in SIP_FAILURES}


def sip_failure(status: int) -> SipFailure:
    """The failure a final SIP status >= 300 means; unknown ones count as transient trouble."""
    known = _SIP_FAILURE.get(status)
    if known is not None:
        return known
    if 500 <= status < 600:
        return SipFailure(status, "Server Error", FailureClass.CONGESTION, "congestion")
    return SipFailure(status, "Call Failed", FailureClass.PERMANENT, "rejected")


class SandboxLine:
    """The built-in virtual fax network (FaxLine): real T.30 to simulated fax machines."""

    def __init__(
        self,
        clock: Clock,
        *,
        realtime: bool = False,
        station: StationIdentity = StationIdentity(),
    ) -> None:
        """`station` is the ident every machine answers with; empty: each its own number."""
        self._clock = clock
        self._realtime = realtime
        self._station = station

    async def send(self, job: FaxJob) -> CallResult:
        """Call `job.number` in the sandbox network and fax the document."""
        started_at = self._clock.now()
        entry = sandbox_number(job.number)
        behaviour = Behaviour.HEALTHY if entry is None else entry.behaviour
        if entry is not None and entry.sip_status >= 300:
            ringing = behaviour is Behaviour.NO_ANSWER
            await self._wait(RING_TIMEOUT_S if ringing else POST_DIAL_S)
            failure = sip_failure(entry.sip_status)
            return CallResult(
                started_at=started_at,
                answered_at=None,
                ended_at=self._clock.now(),
                sip_status=entry.sip_status,
                failure=failure.failure,
                reason=failure.reason,
                fax=None,
            )
        await self._wait(ANSWER_AFTER_S)
        answered_at = self._clock.now()
        with tempfile.TemporaryDirectory(prefix="faxcast-sandbox-") as workdir:
            received_path = Path(workdir) / "received.tif"
            call = self._answer(job, behaviour, received_path)
            try:
                await self._drive(call)
            finally:
                call.end()  # also when cancelled: SpanDSP closes its files before they go
            fax = call.sender.result()
            received = _received_tiff(call.receiver, received_path)
        reason = fax.reason
        if call.watchdog:
            reason = f"the watchdog ended the call after {call.cap_s:.0f} s on the line"
        return CallResult(
            started_at=started_at,
            answered_at=answered_at,
            ended_at=self._clock.now(),
            sip_status=200,
            failure=fax.failure,
            reason=reason,
            fax=fax,
            received_tiff=received,
        )

    def _answer(self, job: FaxJob, behaviour: Behaviour, received: Path) -> _Call:
        """Both ends of the answered call, ready to run."""
        pages = job.document.pages - job.document.start_page  # to send in this call
        cap_s = call_cap_s(pages)
        if behaviour is Behaviour.VOICE:
            # Nobody re-INVITEs to T.38 without fax tones: a voice answer stays in audio.
            sender = AudioFaxSession(job.document, job.profile, job.identity, calling=True)
            return _VoiceCall(sender, cap_s)
        identity = StationIdentity(self._station.ident or _ident_for(job.number))
        drops = behaviour is Behaviour.DROPPED and pages >= 2
        if job.t38_allowed and behaviour is not Behaviour.NOISY_LINE:
            # Paced terminals: line time stays true to a real call (durations, the drop
            # point, realtime mode); running the loop unpaced is what makes it fast.
            t38_sender = T38FaxSession(job.document, job.profile, job.identity, calling=True)
            t38_receiver = T38FaxSession(
                Incoming(received), MACHINE_PROFILE, identity, calling=False
            )
            return _T38Call(t38_sender, t38_receiver, cap_s, drops=drops)
        sender = AudioFaxSession(job.document, job.profile, job.identity, calling=True)
        receiver = AudioFaxSession(Incoming(received), MACHINE_PROFILE, identity, calling=False)
        # The noisy line's gateway declines T.38, so its impairment is on real audio.
        jitter = _PhaseJitter() if behaviour is Behaviour.NOISY_LINE else None
        return _AudioCall(sender, receiver, cap_s, drops=drops, impairment=jitter)

    async def _wait(self, seconds: float) -> None:
        """Signalling time: slept in realtime mode, skipped otherwise."""
        await asyncio.sleep(seconds if self._realtime else 0)

    async def _drive(self, call: _Call) -> None:
        """Run the call to its end, flat out or paced to the wall clock."""
        if not self._realtime:
            await _in_thread(call, call.cap_frames + 1)
            return
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not call.over:
            await _in_thread(call, BATCH_FRAMES)
            await asyncio.sleep(max(0.0, start + call.line_s - loop.time()))


async def _in_thread(call: _Call, frames: int) -> None:
    """Run `frames` of the call in a worker thread; on cancel, stop it before going on."""
    work = asyncio.ensure_future(asyncio.to_thread(call.run, frames))
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        call.stopped = True
        # The sessions and their files must not be touched while the thread still runs.
        while not work.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({work})
        raise


def _received_tiff(receiver: FaxSession | None, path: Path) -> bytes | None:
    """What the far machine kept; None when it kept no page."""
    if receiver is None or receiver.result().pages_transferred == 0 or not path.exists():
        return None
    data = path.read_bytes()
    return data or None


def _ident_for(number: str) -> str:
    """A machine's CSI: its number in E.164 form, as fax machines are set up."""
    plus = "+" if number.lstrip().startswith("+") else ""
    return (plus + digits_of(number))[-MAX_IDENT_LEN:]


class _Call:
    """One answered call, advanced 20 ms at a time; `run` is called from a worker thread."""

    def __init__(
        self, sender: FaxSession, receiver: FaxSession | None, cap_s: float, *, drops: bool
    ) -> None:
        self.sender = sender
        self.receiver = receiver
        self.cap_s = cap_s
        self.cap_frames = math.ceil(cap_s * FRAMES_PER_S)
        self.over = False
        self.watchdog = False
        self.stopped = False  # set from the event loop when the call is cancelled
        self._frames = 0
        self._drops = drops
        direction = sender.direction
        self._start_page = direction.start_page if isinstance(direction, Outgoing) else 0
        self._drop_at: int | None = None
        self._sender_done_at: int | None = None

    @property
    def line_s(self) -> float:
        """Line time elapsed since the answer."""
        return self._frames / FRAMES_PER_S

    def run(self, frames: int) -> None:
        """Advance up to `frames` frames, stopping when the call ends."""
        for _ in range(frames):
            if self.over or self.stopped:
                return
            if self._frames >= self.cap_frames:
                self.watchdog = True
                self.end()
                return
            self._step()
            self._frames += 1
            self._check()

    def end(self) -> None:
        """Hang up both ends (no-op for an end that already finished)."""
        self.over = True
        self.sender.hang_up()
        if self.receiver is not None:
            self.receiver.hang_up()

    def _step(self) -> None:
        raise NotImplementedError

    def _check(self) -> None:
        sender, receiver = self.sender, self.receiver
        if sender.done:
            if self._sender_done_at is None:
                self._sender_done_at = self._frames
            grace_over = self._frames - self._sender_done_at >= HANG_UP_GRACE_S * FRAMES_PER_S
            if receiver is None or receiver.done or grace_over:
                self.end()
        elif self._drops:
            confirmed_here = sender.pages_confirmed - self._start_page
            if confirmed_here >= 1 and self._drop_at is None:
                self._drop_at = self._frames + int(DROP_AFTER_S * FRAMES_PER_S)
            if confirmed_here == 1 and self._drop_at is not None and self._frames >= self._drop_at:
                self.end()


class _AudioCall(_Call):
    """G.711 both ways; `impairment` alters what the receiver hears."""

    def __init__(
        self,
        sender: AudioFaxSession,
        receiver: AudioFaxSession,
        cap_s: float,
        *,
        drops: bool,
        impairment: _PhaseJitter | None,
    ) -> None:
        super().__init__(sender, receiver, cap_s, drops=drops)
        self._sender = sender
        self._receiver = receiver
        self._impairment = impairment

    def _step(self) -> None:
        to_receiver = self._sender.transmit(FRAME_SAMPLES)
        to_sender = self._receiver.transmit(FRAME_SAMPLES)
        if self._impairment is not None:
            to_receiver = self._impairment(to_receiver)
        self._receiver.receive(to_receiver)
        self._sender.receive(to_sender)


class _T38Call(_Call):
    """IFP packets both ways, 20 ms of time a step."""

    def __init__(
        self, sender: T38FaxSession, receiver: T38FaxSession, cap_s: float, *, drops: bool
    ) -> None:
        super().__init__(sender, receiver, cap_s, drops=drops)
        self._sender = sender
        self._receiver = receiver
        self._to_receiver = 0
        self._to_sender = 0

    def _step(self) -> None:
        for packet in self._sender.advance(FRAME_SAMPLES):
            self._receiver.receive(packet, self._to_receiver)
            self._to_receiver += 1
        for packet in self._receiver.advance(FRAME_SAMPLES):
            self._sender.receive(packet, self._to_sender)
            self._to_sender += 1


class _VoiceCall(_Call):
    """A person talking: the sender hears speech and never a fax machine."""

    def __init__(self, sender: AudioFaxSession, cap_s: float) -> None:
        super().__init__(sender, None, cap_s, drops=False)
        self._sender = sender
        self._speech = _speech_alaw()

    def _step(self) -> None:
        self._sender.transmit(FRAME_SAMPLES)  # nobody listens for fax tones
        offset = (self._frames * FRAME_SAMPLES) % len(self._speech)
        self._sender.receive(self._speech[offset : offset + FRAME_SAMPLES])


# --- audio: phase jitter, speech -------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]


_HILBERT_TAPS = 63
_HILBERT_DELAY = _HILBERT_TAPS // 2


def _hilbert_filter() -> FloatArray:
    """A windowed FIR Hilbert transformer: the quadrature half of the analytic signal."""
    n = np.arange(_HILBERT_TAPS) - _HILBERT_DELAY
    odd = n % 2 == 1
    taps = np.zeros(_HILBERT_TAPS)
    taps[odd] = 2.0 / (np.pi * n[odd])
    return taps * np.hamming(_HILBERT_TAPS)


# Jitter hurts dense constellations first (V.17 14400's 128 points) and leaves the 300 bit/s
# V.21 signalling alone, as it does on real trunks.
class _PhaseJitter:
    """Sinusoidal phase jitter on G.711 audio: rotates the analytic signal by a wobbling angle."""

    def __init__(self, degrees: float = JITTER_DEGREES, hz: float = JITTER_HZ) -> None:
        self._alaw = G711(Codec.PCMA)
        self._taps = _hilbert_filter()
        self._history = np.zeros(_HILBERT_TAPS - 1)
        self._peak = math.radians(degrees)
        self._step = 2 * math.pi * hz / SAMPLE_RATE
        self._t = 0

    def __call__(self, payload: bytes) -> bytes:
        samples = self._alaw.decode(payload).astype(np.float64)
        buffer = np.concatenate((self._history, samples))
        self._history = buffer[len(samples) :]
        quadrature = np.convolve(buffer, self._taps, mode="valid")
        in_phase = buffer[_HILBERT_DELAY : _HILBERT_DELAY + len(samples)]
        angle = self._peak * np.sin(self._step * (self._t + np.arange(len(samples))))
        self._t += len(samples)
        return self._alaw.encode(saturate(in_phase * np.cos(angle) - quadrature * np.sin(angle)))


@functools.cache
def _speech_alaw(seconds: float = 10.0, seed: int = 900) -> bytes:
    """Speech-like A-law audio: voiced syllables, pitch 100-220 Hz, harmonics below 1 kHz."""
    # Nothing near fax tones (1100, 1650/1850 and 2100 Hz): no T.30 engine hears a fax in it.
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SAMPLE_RATE))
    position = 0
    while position < len(out):
        length = int(rng.uniform(0.12, 0.35) * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        pitch = rng.uniform(100, 220) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
        phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
        voiced = np.zeros(length)
        for harmonic in range(1, int(900 // pitch.max()) + 1):
            voiced += rng.uniform(0.2, 1.0) / harmonic * np.sin(harmonic * phase)
        envelope = np.sin(np.pi * np.arange(length) / length) ** 2
        syllable = (voiced * 6000 + rng.normal(0, 300, length)) * envelope
        end = min(len(out), position + length)
        out[position:end] = syllable[: end - position]
        position = end + int(rng.uniform(0.05, 0.4) * SAMPLE_RATE)
    return G711(Codec.PCMA).encode(saturate(out))
