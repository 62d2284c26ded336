"""The sandbox network's signalling and answering: each number's machine, on the real engine.

Refusals come back as the SIP status a trunk would give; answered calls are real T.30
exchanges between two SpanDSP ends (faxcast.lines.sandbox.call). By default a call runs as
fast as the CPU allows; with `realtime=True` it is paced to the wall clock.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path

from faxcast.clock import Clock
from faxcast.domain.quality import FaxProfile, Modem, Resolution
from faxcast.domain.station import MAX_IDENT_LEN, StationIdentity
from faxcast.fax.engine import AudioFaxSession, FaxSession, Incoming, T38FaxSession
from faxcast.lines.base import CallResult, FaxJob, sent_document
from faxcast.lines.sandbox.call import (
    FRAMES_PER_S,
    AudioCall,
    Call,
    T38Call,
    VoiceCall,
    run_in_thread,
)
from faxcast.lines.sandbox.impairment import PhaseJitter
from faxcast.lines.sandbox.speech import speech_alaw
from faxcast.lines.testnumbers import Behaviour, digits_of, sandbox_number
from faxcast.sip.status import sip_failure

# Realtime mode runs this many frames (1 s of line) per hop to the worker thread, then sleeps
# until the wall clock catches up: one thread hop a second keeps the overhead negligible.
BATCH_FRAMES = FRAMES_PER_S
POST_DIAL_S = 0.5  # INVITE to a final refusal (busy, unallocated, ...)
RING_TIMEOUT_S = 30.0  # the trunk gives up ringing with 408
ANSWER_AFTER_S = 1.0  # every sandbox machine answers on the first ring

# What a sandbox machine can receive: every modem, ECM, every resolution SpanDSP offers.
MACHINE_PROFILE = FaxProfile(Resolution.FINE, (Modem.V17, Modem.V29, Modem.V27TER), ecm=True)


class SandboxNetwork:
    """The built-in virtual fax network: real T.30 to simulated fax machines.

    One network serves every sandbox line; each line's driver (SandboxLine) places its calls here.
    """

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

    async def call(self, job: FaxJob) -> CallResult:
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
        async with sent_document(job, answered_at) as document:
            with tempfile.TemporaryDirectory(prefix="faxcast-sandbox-") as workdir:
                received_path = Path(workdir) / "received.tif"
                call = self._answer(replace(job, document=document), behaviour, received_path)
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

    def _answer(self, job: FaxJob, behaviour: Behaviour, received: Path) -> Call:
        """Both ends of the answered call, ready to run."""
        pages = job.document.pages - job.document.start_page  # to send in this call
        cap_s = job.cap_s
        if behaviour is Behaviour.VOICE:
            # Nobody re-INVITEs to T.38 without fax tones: a voice answer stays in audio.
            sender = AudioFaxSession(job.document, job.profile, job.identity, calling=True)
            return VoiceCall(sender, cap_s, speech=speech_alaw())
        identity = StationIdentity(self._station.ident or _ident_for(job.number))
        drops = behaviour is Behaviour.DROPPED and pages >= 2
        if job.t38_allowed and behaviour is not Behaviour.NOISY_LINE:
            # Paced terminals: line time stays true to a real call (durations, the drop
            # point, realtime mode); running the loop unpaced is what makes it fast.
            t38_sender = T38FaxSession(job.document, job.profile, job.identity, calling=True)
            t38_receiver = T38FaxSession(
                Incoming(received), MACHINE_PROFILE, identity, calling=False
            )
            return T38Call(t38_sender, t38_receiver, cap_s, drops=drops)
        sender = AudioFaxSession(job.document, job.profile, job.identity, calling=True)
        receiver = AudioFaxSession(Incoming(received), MACHINE_PROFILE, identity, calling=False)
        # The noisy line's gateway declines T.38, so its impairment is on real audio.
        jitter = PhaseJitter() if behaviour is Behaviour.NOISY_LINE else None
        return AudioCall(sender, receiver, cap_s, drops=drops, impairment=jitter)

    async def _wait(self, seconds: float) -> None:
        """Signalling time: slept in realtime mode, skipped otherwise."""
        await asyncio.sleep(seconds if self._realtime else 0)

    async def _drive(self, call: Call) -> None:
        """Run the call to its end, flat out or paced to the wall clock."""
        if not self._realtime:
            await run_in_thread(call, call.cap_frames + 1)
            return
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not call.over:
            await run_in_thread(call, BATCH_FRAMES)
            await asyncio.sleep(max(0.0, start + call.line_s - loop.time()))


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
