"""Two fax sessions wired back to back in memory: a sender calling a receiver."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from faxcast.domain.codec import Codec
from faxcast.domain.quality import FaxProfile
from faxcast.domain.retry import call_cap_s
from faxcast.domain.station import StationIdentity
from faxcast.fax.engine import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioFaxSession,
    Incoming,
    Outgoing,
    T38FaxSession,
)
from faxcast.fax.result import FaxResult


@dataclass(frozen=True)
class LoopbackResult:
    """Both ends' view of one call."""

    sender: FaxResult
    receiver: FaxResult


def run_audio(sender: AudioFaxSession, receiver: AudioFaxSession, *, max_line_s: float) -> None:
    """Exchange 20 ms frames both ways until both ends finish or the cap is reached."""
    frames = int(max_line_s * SAMPLE_RATE / FRAME_SAMPLES)
    sender_transmit, sender_receive = sender.transmit, sender.receive
    receiver_transmit, receiver_receive = receiver.transmit, receiver.receive
    for _ in range(frames):
        if sender.done and receiver.done:
            return
        to_receiver = sender_transmit(FRAME_SAMPLES)
        to_sender = receiver_transmit(FRAME_SAMPLES)
        receiver_receive(to_receiver)
        sender_receive(to_sender)
    sender.hang_up()
    receiver.hang_up()


def run_t38(sender: T38FaxSession, receiver: T38FaxSession, *, max_line_s: float) -> None:
    """Pass IFP packets both ways, 20 ms of time a step, until both ends finish or the cap."""
    steps = int(max_line_s * SAMPLE_RATE / FRAME_SAMPLES)
    seq_to_receiver = seq_to_sender = 0
    # Bound methods held in locals: most steps carry no packet, so lookups would dominate.
    sender_advance, sender_receive = sender.advance, sender.receive
    receiver_advance, receiver_receive = receiver.advance, receiver.receive
    for _ in range(steps):
        if sender.done and receiver.done:
            return
        for packet in sender_advance(FRAME_SAMPLES):
            receiver_receive(packet, seq_to_receiver)
            seq_to_receiver += 1
        for packet in receiver_advance(FRAME_SAMPLES):
            sender_receive(packet, seq_to_sender)
            seq_to_sender += 1
    sender.hang_up()
    receiver.hang_up()


def loopback(
    document: Outgoing,
    received: Path,
    profile: FaxProfile,
    *,
    t38: bool = False,
    paced: bool = False,
    sender_identity: StationIdentity = StationIdentity(),
    receiver_identity: StationIdentity = StationIdentity(),
    receiver_profile: FaxProfile | None = None,
    codec: Codec = Codec.PCMA,
) -> LoopbackResult:
    """Fax `document` to an in-memory receiver that writes `received`; both results."""
    far_profile = receiver_profile or profile
    cap = call_cap_s(document.bits_to_send, profile)
    if t38:
        t38_sender = T38FaxSession(document, profile, sender_identity, calling=True, paced=paced)
        t38_receiver = T38FaxSession(
            Incoming(received), far_profile, receiver_identity, calling=False, paced=paced
        )
        run_t38(t38_sender, t38_receiver, max_line_s=cap)
        return LoopbackResult(t38_sender.result(), t38_receiver.result())
    sender = AudioFaxSession(document, profile, sender_identity, calling=True, codec=codec)
    receiver = AudioFaxSession(
        Incoming(received), far_profile, receiver_identity, calling=False, codec=codec
    )
    run_audio(sender, receiver, max_line_s=cap)
    return LoopbackResult(sender.result(), receiver.result())
