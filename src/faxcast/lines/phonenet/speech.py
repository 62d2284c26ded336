"""A person on the phone network's voice number: speech over RTP, whatever the caller sends."""

from __future__ import annotations

from faxcast.domain.codec import Codec
from faxcast.fax.g711 import G711
from faxcast.lines.sandbox.speech import speech_alaw
from faxcast.sip.media_port import Address, MediaPort
from faxcast.sip.pacing import MediaClock
from faxcast.sip.rtp import FRAME_SAMPLES, PAYLOAD_TYPES, RtpSender


def speech_in(codec: Codec) -> bytes:
    """The sandbox's speech in the call's G.711 law."""
    alaw = speech_alaw()
    if codec is Codec.PCMA:
        return alaw
    return G711(Codec.PCMU).encode(G711(Codec.PCMA).decode(alaw))


class SpeechPlayer:
    """Talks into the call every 20 ms on the shared media clock until `stop()`."""

    def __init__(self, port: MediaPort, remote: Address, codec: Codec) -> None:
        self._port = port
        self._speech = speech_in(codec)
        self._offset = 0
        self._clock = MediaClock.of()
        port.remote = remote
        sender = RtpSender(port.send, self._next_payload, PAYLOAD_TYPES[codec])
        self._clock.watch(port.fileno(), port.read_one)  # what the caller sends is not heard
        self._token: int | None = self._clock.join(sender.frame)

    def _next_payload(self) -> bytes:
        speech, start = self._speech, self._offset
        self._offset = (start + FRAME_SAMPLES) % (len(speech) - FRAME_SAMPLES)
        return speech[start : start + FRAME_SAMPLES]

    def stop(self) -> None:
        """Stop talking and close the port."""
        if self._token is not None:
            self._clock.leave(self._token)
            self._token = None
            self._clock.unwatch(self._port.fileno())
            self._port.close()
