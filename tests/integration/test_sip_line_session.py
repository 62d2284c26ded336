"""The offer/answer glue both ends share: what a far end's re-INVITE gets, and what it changes.

Real ports and a real FaxMedia (its fax session idles: nobody sends it anything); only the
signalling is left out, so each answer is checked as the dialog would send it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faxcast.domain.codec import Codec
from faxcast.fax.engine import Incoming
from faxcast.lines.sandbox.network import MACHINE_PROFILE
from faxcast.lines.sip.media import Ending, FaxEnd, FaxMedia
from faxcast.lines.sip.session import NOT_ACCEPTABLE, MediaSession
from faxcast.sip import sdp
from faxcast.sip.media_port import open_media_port
from faxcast.sip.t38 import T38Params

HOST = "127.0.0.1"
CODECS = (Codec.PCMA, Codec.PCMU)


def _far_offer(*media: sdp.Media, version: int = 1) -> sdp.SessionDescription:
    return sdp.offer(sdp.Origin(HOST, session_id=7, version=version, username="far"), *media)


def _session(tmp_path: Path, *, t38_allowed: bool) -> MediaSession:
    end = FaxEnd(Incoming(tmp_path / "in.tif"), MACHINE_PROFILE, calling=False)
    media = FaxMedia(end, cap_s=30.0)
    return MediaSession(media, host=HOST, ports=None, codecs=CODECS, t38_allowed=t38_allowed)


def test_an_audio_reoffer_is_answered_as_it_stands_and_other_offers_get_488(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        far = open_media_port(HOST)
        session = _session(tmp_path, t38_allowed=False)
        answer = session.answer(_far_offer(sdp.audio_media(far.local[1], (Codec.PCMU,))))
        assert answer is not None
        assert session.codec is Codec.PCMU
        # A changed audio offer (new version, codecs in another order): our SDP, untouched.
        reoffer = _far_offer(sdp.audio_media(far.local[1], CODECS), version=2)
        assert await session.on_offer(reoffer) is answer
        t38 = _far_offer(sdp.t38_media(far.local[1], T38Params()), version=3)
        assert await session.on_offer(t38) == NOT_ACCEPTABLE  # T.38 not allowed on this call
        pcma_only = _far_offer(sdp.audio_media(far.local[1], (Codec.PCMA,)), version=4)
        assert await session.on_offer(pcma_only) == NOT_ACCEPTABLE  # would change the codec
        video = sdp.Media("video", far.local[1], "RTP/AVP", ("96",))
        assert await session.on_offer(_far_offer(video, version=5)) == NOT_ACCEPTABLE
        assert not session.media.t38
        assert not session.media.over
        session.media.far_end_hung_up()
        assert (await session.media.wait()).ending is Ending.FAR_END_HUNG_UP
        far.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_t38_reinvite_is_answered_in_the_peers_style_and_the_media_switches(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        far = open_media_port(HOST)
        session = _session(tmp_path, t38_allowed=True)
        assert session.answer(_far_offer(sdp.audio_media(far.local[1], CODECS))) is not None
        image = sdp.t38_media(far.local[1], T38Params(max_datagram=300), numeric_booleans=True)
        answer = await session.on_offer(_far_offer(image, version=2))
        assert isinstance(answer, sdp.SessionDescription)
        ours = sdp.t38_stream(answer)
        assert ours is not None
        assert ours.numeric_booleans  # the peer wrote :0/:1, so do we
        assert answer.origin.version == 2  # a changed description: version + 1
        assert session.media.t38
        session.media.far_end_hung_up()
        outcome = await session.media.wait()
        assert outcome.t38
        far.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
