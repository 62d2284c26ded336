"""The offer/answer glue both ends share: what a far end's re-INVITE gets, and what it changes.

Real ports and a real FaxMedia (its fax session idles: nobody sends it anything); only the
signalling is left out, so each answer is checked as the dialog would send it.
"""

from __future__ import annotations

import asyncio
import socket
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


def port(sock: socket.socket) -> int:
    number: int = sock.getsockname()[1]
    return number


def _far_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    return sock


async def _heard(sock: socket.socket, timeout_s: float = 2.0) -> bool:
    """Whether a datagram reaches `sock` within `timeout_s`."""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_recv(sock, 2048), timeout_s)
    except TimeoutError:
        return False
    return True


def test_a_reoffer_or_an_acks_answer_that_moves_the_far_end_moves_our_stream(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        first, second, third = _far_socket(), _far_socket(), _far_socket()
        session = _session(tmp_path, t38_allowed=True)
        answer = session.answer(_far_offer(sdp.audio_media(port(first), CODECS)))
        assert answer is not None
        assert await _heard(first)
        # A re-INVITE from a relay that moved the far end's RTP: the same answer, sent there.
        moved = _far_offer(sdp.audio_media(port(second), CODECS), version=2)
        assert await session.on_offer(moved) is answer
        while await _heard(first, 0.1):  # what was in flight before the move
            pass
        assert await _heard(second)
        assert not await _heard(first, 0.2)
        # The answer an ACK carries (to the offer our 200 made): followed the same way.
        session.follow(_far_offer(sdp.audio_media(port(third), CODECS), version=3))
        while await _heard(second, 0.1):
            pass
        assert await _heard(third)
        # On T.38, a T.38 re-offer (a relay moving, a glare's late retry) keeps the session.
        image = sdp.t38_media(port(first), T38Params())
        t38_answer = await session.on_offer(_far_offer(image, version=4))
        assert isinstance(t38_answer, sdp.SessionDescription)
        assert session.media.t38
        again = sdp.t38_media(port(second), T38Params())
        assert await session.on_offer(_far_offer(again, version=5)) is t38_answer
        assert session.media.t38
        assert not session.media.over
        session.media.far_end_hung_up()
        await session.media.wait()
        for sock in (first, second, third):
            sock.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
