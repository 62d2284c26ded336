"""An answered sandbox call: two fax ends exchanging audio or T.38, advanced 20 ms at a time.

A call runs in a worker thread so the event loop stays free; its line time is counted in
frames, never read from a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable

from faxcast.fax.engine import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioFaxSession,
    FaxSession,
    Outgoing,
    T38FaxSession,
)

FRAMES_PER_S = SAMPLE_RATE // FRAME_SAMPLES
DROP_AFTER_S = 2.0  # the dropping machine cuts this long after confirming its first page
# After the sender's phase E the receiver still hears the DCN; let it finish its own side.
HANG_UP_GRACE_S = 3.0

Impairment = Callable[[bytes], bytes]
"""What the line does to a frame of G.711 audio on its way to the receiver."""


class Call:
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


class AudioCall(Call):
    """G.711 both ways; `impairment` alters what the receiver hears."""

    def __init__(
        self,
        sender: AudioFaxSession,
        receiver: AudioFaxSession,
        cap_s: float,
        *,
        drops: bool,
        impairment: Impairment | None,
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


class T38Call(Call):
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


class VoiceCall(Call):
    """A person talking: the sender hears speech and never a fax machine."""

    def __init__(self, sender: AudioFaxSession, cap_s: float, *, speech: bytes) -> None:
        super().__init__(sender, None, cap_s, drops=False)
        self._sender = sender
        self._speech = speech

    def _step(self) -> None:
        self._sender.transmit(FRAME_SAMPLES)  # nobody listens for fax tones
        offset = (self._frames * FRAME_SAMPLES) % len(self._speech)
        self._sender.receive(self._speech[offset : offset + FRAME_SAMPLES])


async def run_in_thread(call: Call, frames: int) -> None:
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
