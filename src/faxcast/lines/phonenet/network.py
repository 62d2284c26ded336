"""The virtual phone network: a SIP endpoint answering every number as the sandbox table says.

The documented test numbers (faxcast.lines.testnumbers) are refused with their SIP status, ring
until CANCEL, or answer with speech; every other number is a fax machine that really receives
over RTP, and as a receiving gateway re-INVITEs to T.38 when the network is told to. What a
machine receives is kept as a TIFF in the network's folder, one per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from faxcast.clock import Clock, SystemClock
from faxcast.domain.codec import Codec
from faxcast.domain.retry import RetryPolicy
from faxcast.domain.station import MAX_IDENT_LEN, StationIdentity
from faxcast.errors import ProtocolError
from faxcast.fax.engine import Incoming
from faxcast.fax.result import FaxResult
from faxcast.lines.phonenet.speech import SpeechPlayer
from faxcast.lines.sandbox.impairment import PhaseJitter
from faxcast.lines.sandbox.network import MACHINE_PROFILE
from faxcast.lines.sip.media import FaxEnd, FaxMedia
from faxcast.lines.sip.session import (
    MediaSession,
    end_media_when_hung_up,
    media_outcome,
    offer_t38_after,
)
from faxcast.lines.testnumbers import Behaviour, digits_of, sandbox_number
from faxcast.sip import sdp
from faxcast.sip.dialog import Call
from faxcast.sip.digest import DigestVerifier
from faxcast.sip.incoming import IncomingCall
from faxcast.sip.media_port import MediaPort, open_media_port
from faxcast.sip.rtp import RtpPacket
from faxcast.sip.transport import Address
from faxcast.sip.ua import UserAgent

log = logging.getLogger(__name__)

T38_AFTER_S = 1.5  # a receiving gateway re-INVITEs once it has heard the caller's CNG
RING_S = 30.0  # then 408, as the sandbox's no-answer number
ANSWER_AFTER_S = 0.2  # a ring before any answer or refusal
VOICE_CAP_S = 120.0  # the person gives up talking
DROP_AFTER_S = 2.0  # the dropping machine cuts this long after its first page came in
# A machine's watchdog: it cannot know how long the pages coming will take, so it cuts only a
# call longer than faxcast keeps trying a recipient (the retry policy's kill time).
MAX_CALL_S = RetryPolicy().kill_time_s
_EMPTY_TIFF = 64  # bytes: a TIFF holding no page yet (its header only)


@dataclass(frozen=True)
class ReceivedCall:
    """A fax call the network answered: who was called, what came in, how it travelled."""

    number: str
    behaviour: Behaviour
    fax: FaxResult | None
    t38: bool
    codec: Codec | None
    path: Path | None  # the received TIFF; None when no page came in


class PhoneNetwork:
    """A SIP endpoint standing for a whole phone network; `start()` it, `close()` it."""

    def __init__(
        self,
        folder: Path,
        *,
        offer_t38: bool = False,
        t38_after_s: float = T38_AFTER_S,
        auth: DigestVerifier | None = None,
        clock: Clock | None = None,
        ring_s: float = RING_S,
    ) -> None:
        """`auth` makes callers sign in (digest) before any number answers."""
        self.folder = folder
        self.offer_t38 = offer_t38
        self.t38_after_s = t38_after_s
        self.auth = auth
        self.ring_s = ring_s
        self.calls = 0
        self.received: list[ReceivedCall] = []
        self._clock = clock or SystemClock()
        self._ua: UserAgent | None = None
        self._ringing = 0

    @property
    def address(self) -> Address:
        """Where the network listens for INVITEs."""
        assert self._ua is not None
        return self._ua.address

    @property
    def ringing(self) -> int:
        """Calls ringing now (nobody answers them)."""
        return self._ringing

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host:port` (0: any free port)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._ua = await UserAgent.start(
            host, port, on_invite=self._invited, auth=self.auth, user_agent="faxcast-phonenet"
        )

    async def close(self) -> None:
        """Drop every call and stop listening."""
        if self._ua is not None:
            await self._ua.close()

    async def _invited(self, incoming: IncomingCall) -> None:
        self.calls += 1
        number = incoming.target.user or ""
        entry = sandbox_number(number)
        behaviour = Behaviour.HEALTHY if entry is None else entry.behaviour
        incoming.ring()
        await asyncio.sleep(ANSWER_AFTER_S)
        if incoming.cancelled.is_set():
            return
        if behaviour is Behaviour.NO_ANSWER:
            await self._ring_until_cancelled(incoming)
        elif entry is not None and entry.sip_status >= 300:
            incoming.reject(entry.sip_status)
        elif behaviour is Behaviour.VOICE:
            await self._talk(incoming)
        else:
            await self._receive_fax(incoming, number, behaviour)

    async def _ring_until_cancelled(self, incoming: IncomingCall) -> None:
        self._ringing += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(incoming.cancelled.wait(), self.ring_s)
            incoming.reject(408)  # nothing if the CANCEL already ended it with 487
        finally:
            self._ringing -= 1

    async def _talk(self, incoming: IncomingCall) -> None:
        host = self.address[0]
        theirs = sdp.audio_stream(incoming.offer)
        port = open_media_port(host, even=True)
        codecs = theirs.codecs if theirs is not None else ()
        answer = sdp.answer_audio(incoming.offer, sdp.Origin(host), port.local[1], codecs)
        if theirs is None or answer is None:
            port.close()
            incoming.reject(488)
            return
        player = SpeechPlayer(port, (theirs.address, theirs.port), codecs[0])
        try:
            call = incoming.answer(answer)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.wait_ended(), VOICE_CAP_S)
        finally:
            player.stop()
        await _hang_up(call)

    async def _receive_fax(self, incoming: IncomingCall, number: str, behaviour: Behaviour) -> None:
        path = self.folder / f"{digits_of(number) or 'unknown'}-{self._stamp()}.tif"
        identity = StationIdentity(_ident_for(number))
        end = FaxEnd(Incoming(path), MACHINE_PROFILE, identity, calling=False)
        media = FaxMedia(end, cap_s=MAX_CALL_S)
        noisy = behaviour is Behaviour.NOISY_LINE
        theirs = sdp.audio_stream(incoming.offer)
        codecs = theirs.codecs if theirs is not None else ()  # the caller's first choice
        session = MediaSession(
            media,
            host=self.address[0],
            ports=None,
            # The noisy line is an A-law analogue stretch whose gateway declines T.38.
            codecs=(Codec.PCMA,) if noisy else codecs,
            t38_allowed=not noisy,
        )
        answer = session.answer(incoming.offer)
        if answer is None:
            session.close()
            incoming.reject(488)
            return
        if noisy and session.rtp is not None:
            _impair(session.rtp)
        call = incoming.answer(answer, on_offer=session.on_offer)
        call.on_answer = session.follow
        watchers = [asyncio.ensure_future(end_media_when_hung_up(call, media))]
        if self.offer_t38 and not noisy:
            watchers.append(asyncio.ensure_future(offer_t38_after(session, call, self.t38_after_s)))
        if behaviour is Behaviour.DROPPED:
            watchers.append(asyncio.ensure_future(_drop_after_first_page(call, media, path)))
        outcome = await media_outcome(media, watchers)
        await _hang_up(call)
        fax = outcome.fax
        kept = fax is not None and fax.pages_transferred > 0 and path.exists()
        if not kept:
            path.unlink(missing_ok=True)
        self.received.append(
            ReceivedCall(number, behaviour, fax, outcome.t38, session.codec, path if kept else None)
        )
        log.info("call to %s: %s", number, fax.summary() if fax is not None else "no fax")

    def _stamp(self) -> str:
        return self._clock.now().strftime("%Y%m%dT%H%M%S.%fZ")


def _impair(port: MediaPort) -> None:
    """Put the noisy line's phase jitter on what the machine hears (the A-law it receives)."""
    jitter = PhaseJitter()
    hear = port.on_datagram

    def through_the_line(data: bytes) -> None:
        try:
            packet = RtpPacket.parse(data)
        except ProtocolError:
            hear(data)  # the machine's own receiver counts it as malformed
            return
        hear(bytes(dataclasses.replace(packet, payload=jitter(packet.payload))))

    port.on_datagram = through_the_line


async def _drop_after_first_page(call: Call, media: FaxMedia, path: Path) -> None:
    # The receiving engine tells no page count before phase E; its TIFF grows at each page.
    while not media.over and (not path.exists() or path.stat().st_size <= _EMPTY_TIFF):
        await asyncio.sleep(0.1)
    await asyncio.sleep(DROP_AFTER_S)
    if not media.over:
        media.far_end_hung_up()
        await _hang_up(call, "dropped")


async def _hang_up(call: Call, reason: str = "hung up") -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(call.hangup(reason), 5.0)


def _ident_for(number: str) -> str:
    """A machine's CSI: its number in E.164 form, as fax machines are set up."""
    plus = "+" if number.lstrip().startswith("+") else ""
    return (plus + digits_of(number))[-MAX_IDENT_LEN:]
