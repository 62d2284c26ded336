"""What both ends of a SIP fax call share: ports, our SDP, and the switch to T.38 either way.

A `MediaSession` opens the call's media ports from the line's range, makes our audio offer or
answer, starts the `FaxMedia` on what the far end's SDP says, answers the far end's re-INVITE
(T.38 when allowed, a refresh or audio re-offer without touching the media, 488 otherwise)
and sends our own T.38 re-INVITE. The placing driver and the phone network both use it.
"""

from __future__ import annotations

import asyncio
import logging

from faxcast.domain.codec import Codec
from faxcast.domain.sip_line import SipLineSettings
from faxcast.lines.sip.media import FaxMedia, MediaOutcome
from faxcast.sip import sdp
from faxcast.sip.dialog import Call
from faxcast.sip.digest import Credentials
from faxcast.sip.media_port import MediaPort, open_media_port
from faxcast.sip.t38 import T38Params
from faxcast.sip.uri import SipUri

log = logging.getLogger(__name__)

NOT_ACCEPTABLE = 488
T38_OFFER_TIMEOUT_S = 10.0
MAX_DATAGRAM = 400  # what we announce; FreeSWITCH and Asterisk take this size


def port_range(settings: SipLineSettings) -> range:
    """The line's RTP/UDPTL ports."""
    return range(settings.rtp_port_min, settings.rtp_port_max + 1)


class MediaSession:
    """One call's SDP and media: our audio stream, and T.38 once a re-INVITE succeeds."""

    def __init__(
        self,
        media: FaxMedia,
        *,
        host: str,
        ports: range | None,
        codecs: tuple[Codec, ...],
        t38_allowed: bool,
    ) -> None:
        self.media = media
        self.host = host
        self.ports = ports
        self.codecs = codecs
        self.t38_allowed = t38_allowed
        self.origin = sdp.Origin(host)
        self.local_sdp: sdp.SessionDescription | None = None
        self.codec: Codec | None = None
        self.rtp: MediaPort | None = None  # the audio port, once the media has it
        self._audio: MediaPort | None = open_media_port(host, ports, even=True)

    @property
    def audio_port(self) -> int:
        """The port of our RTP stream."""
        assert self._audio is not None
        return self._audio.local[1]

    def offer(self) -> sdp.SessionDescription:
        """Our audio offer: every codec of the line, in its order."""
        self.local_sdp = sdp.offer(self.origin, sdp.audio_media(self.audio_port, self.codecs))
        return self.local_sdp

    def answer(self, remote: sdp.SessionDescription) -> sdp.SessionDescription | None:
        """Our audio answer to an INVITE's offer, started at once; None when nothing fits (488)."""
        answer = sdp.answer_audio(remote, self.origin, self.audio_port, self.codecs)
        if answer is None or not self.start(remote, answer):
            return None
        self.local_sdp = answer
        return answer

    def start(self, remote: sdp.SessionDescription, local: sdp.SessionDescription) -> bool:
        """Start the fax on the audio both SDPs agree on; False when they agree on none."""
        theirs, ours = sdp.audio_stream(remote), sdp.audio_stream(local)
        if theirs is None or ours is None or self._audio is None:
            return False
        codec = next((c for c in ours.codecs if c in theirs.codecs), None)
        if codec is None:
            return False
        self.codec = codec
        port, self._audio = self._audio, None
        self.rtp = port
        self.media.start_audio(port, (theirs.address, theirs.port), codec)
        return True

    def close(self) -> None:
        """Release a port the media never took (the call was not answered)."""
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    async def on_offer(self, offer: sdp.SessionDescription) -> sdp.SessionDescription | int:
        """Answer the far end's re-INVITE: T.38 if allowed, an audio re-offer as it stands."""
        if sdp.t38_stream(offer) is not None:
            return self._accept_t38(offer)
        audio = sdp.audio_stream(offer)
        current = self.local_sdp
        if current is None or audio is None or self.media.t38 or self.codec not in audio.codecs:
            return NOT_ACCEPTABLE
        self.follow(offer)
        return current  # our stream as it is: the fax goes on untouched

    def follow(self, remote: sdp.SessionDescription) -> None:
        """Send where the far end's new description puts the stream in use (a media relay or
        a transfer may move it mid-call)."""
        stream = sdp.t38_stream(remote) if self.media.t38 else sdp.audio_stream(remote)
        if stream is not None:
            self.media.move_remote((stream.address, stream.port))

    def _accept_t38(self, offer: sdp.SessionDescription) -> sdp.SessionDescription | int:
        if not self.t38_allowed or self.media.over:
            return NOT_ACCEPTABLE
        if self.media.t38 and self.local_sdp is not None:
            # Already on T.38 (a glare's late retry, a relay moving): T.30 must not start over.
            self.follow(offer)
            return self.local_sdp
        port = open_media_port(self.host, self.ports, even=True)
        self.origin = self.origin.next()
        answered = sdp.answer_t38(offer, self.origin, port.local[1], max_datagram=MAX_DATAGRAM)
        if answered is None:
            port.close()
            return NOT_ACCEPTABLE
        answer, peer = answered
        self.media.switch_to_t38(port, (peer.address, peer.port), peer.params)
        self.local_sdp = answer
        return answer

    async def offer_t38(self, call: Call) -> bool:
        """Re-INVITE to T.38 and switch if accepted; a refusal or failure leaves the audio on."""
        if not self.t38_allowed or self.media.t38 or self.media.over:
            return False
        port = open_media_port(self.host, self.ports, even=True)
        origin = self.origin.next()
        offer = sdp.offer(
            origin, sdp.t38_media(port.local[1], T38Params(max_datagram=MAX_DATAGRAM))
        )
        try:
            outcome = await call.reinvite(offer, timeout_s=T38_OFFER_TIMEOUT_S)
        except BaseException:
            port.close()
            raise
        peer = sdp.t38_stream(outcome.answer) if outcome.answer is not None else None
        if peer is None or self.media.over or self.media.t38:
            log.info(
                "T.38 not taken (%s %s): the fax stays on G.711", outcome.status, outcome.phrase
            )
            port.close()
            return False
        self.origin, self.local_sdp = origin, offer
        self.media.switch_to_t38(port, (peer.address, peer.port), peer.params)
        return True


async def end_media_when_hung_up(call: Call, media: FaxMedia) -> None:
    """End the fax's media when the call ends (the far end's BYE, or a lost dialog)."""
    await call.wait_ended()
    media.far_end_hung_up()


async def offer_t38_after(session: MediaSession, call: Call, after_s: float) -> None:
    """Offer T.38 once the call has been up `after_s` (a refusal leaves the fax on G.711)."""
    await asyncio.sleep(after_s)
    await session.offer_t38(call)


def credentials(sip: SipLineSettings) -> Credentials | None:
    """The line's digest credentials; None when the trunk trusts its address (no user name)."""
    return Credentials(sip.username, sip.password.reveal()) if sip.username else None


def address_of_record(sip: SipLineSettings) -> SipUri:
    """The line's own SIP address at its proxy, which REGISTER binds."""
    return SipUri(host=sip.proxy_host, user=sip.username or None, port=sip.proxy_port)


async def media_outcome(media: FaxMedia, watchers: list[asyncio.Task[None]]) -> MediaOutcome:
    """Wait for the media's end; the call's side tasks (`watchers`) end with it, however."""
    try:
        return await media.wait()
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
