"""Real fax calls over loopback UDP: two FaxMedia ends in one process, in real time.

Each call is a real T.30 exchange over RTP (G.711) or UDPTL (T.38) through real sockets,
paced by the event loop's clock; the received pages are compared with the sent ones pixel by
pixel. The lossy calls go through tests/peers/relay.py (1 % of datagrams dropped, up to 20 ms
of jitter, seeded).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path

import pytest

from faxcast.documents import FaxDocument, read_tiff_f, render_pdf, write_tiff_f
from faxcast.domain.codec import Codec
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import FaxProfile, Quality
from faxcast.domain.retry import call_cap_s
from faxcast.fax.engine import Incoming, Outgoing, T38FaxSession
from faxcast.lines.sip.media import AUDIO_SILENCE_S, Ending, FaxEnd, FaxMedia, MediaOutcome
from faxcast.sip.media_port import MediaPort, open_media_port
from faxcast.sip.t38 import ErrorCorrection, T38Params
from faxcast.sip.udptl import UdptlReceiver, UdptlSender
from tests import pdfs
from tests.faxpages import assert_identical
from tests.peers.relay import LossyRelay

HOST = "127.0.0.1"
NORMAL = Quality.NORMAL.profile
NORMAL_ECM = dataclasses.replace(NORMAL, ecm=True)
CALL_TIMEOUT_S = 90.0
LOSS = 0.10


@dataclasses.dataclass
class Call:
    """Both ends of one call, and the document they exchange."""

    sender: FaxMedia
    receiver: FaxMedia
    sent: FaxDocument
    received_path: Path

    async def outcomes(self) -> tuple[MediaOutcome, MediaOutcome]:
        both = asyncio.gather(self.sender.wait(), self.receiver.wait())
        return await asyncio.wait_for(both, CALL_TIMEOUT_S)

    def received(self) -> FaxDocument:
        return read_tiff_f(self.received_path.read_bytes())


def _call(
    tmp_path: Path,
    name: str,
    profile: FaxProfile = NORMAL,
    *,
    cap_s: float | None = None,
    audio_silence_s: float = AUDIO_SILENCE_S,
) -> Call:
    sent = render_pdf(pdfs.short_page_pdf(), profile.resolution)
    path = tmp_path / f"{name}-sent.tif"
    path.write_bytes(write_tiff_f(sent))
    document = Outgoing.from_file(path)
    received = tmp_path / f"{name}-received.tif"
    cap = call_cap_s(document.page_bits, profile) if cap_s is None else cap_s
    ends = (
        FaxEnd(document, profile, calling=True),
        FaxEnd(Incoming(received), profile, calling=False),
    )
    sender, receiver = (FaxMedia(end, cap_s=cap, audio_silence_s=audio_silence_s) for end in ends)
    return Call(sender, receiver, sent, received)


def _ports() -> tuple[MediaPort, MediaPort]:
    return open_media_port(HOST), open_media_port(HOST)


async def _audio(call: Call, codec: Codec, relay: LossyRelay | None = None) -> None:
    ours, theirs = _ports()
    if relay is None:
        call.sender.start_audio(ours, theirs.local, codec)
        call.receiver.start_audio(theirs, ours.local, codec)
        return
    relay.connect(ours.local, theirs.local)
    call.sender.start_audio(ours, relay.address("a"), codec)
    call.receiver.start_audio(theirs, relay.address("b"), codec)


async def _t38(
    call: Call, far: T38Params, relay: LossyRelay | None = None, *, switch: bool = False
) -> None:
    ours, theirs = _ports()
    sender_to, receiver_to = theirs.local, ours.local
    if relay is not None:
        relay.connect(ours.local, theirs.local)
        sender_to, receiver_to = relay.address("a"), relay.address("b")
    if switch:
        call.sender.switch_to_t38(ours, sender_to, far)
        call.receiver.switch_to_t38(theirs, receiver_to, far)
    else:
        call.sender.start_t38(ours, sender_to, far)
        call.receiver.start_t38(theirs, receiver_to, far)


def _assert_delivered(
    call: Call, sender: MediaOutcome, receiver: MediaOutcome, *, t38: bool
) -> None:
    for outcome in (sender, receiver):
        assert outcome.ending is Ending.PHASE_E
        assert outcome.fax is not None
        assert outcome.fax.success, outcome.fax.summary()
        assert outcome.t38 is t38
    assert sender.fax is not None
    assert sender.fax.pages_confirmed == sender.fax.pages_total == 1
    assert_identical(call.sent, call.received())


@pytest.mark.slow
def test_a_page_arrives_identical_over_pcma_pcmu_t38_and_audio_switched_to_t38(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        calls = {name: _call(tmp_path, name) for name in ("pcma", "pcmu", "t38", "switch")}
        await _audio(calls["pcma"], Codec.PCMA)
        await _audio(calls["pcmu"], Codec.PCMU)
        await _t38(calls["t38"], T38Params())
        await _audio(calls["switch"], Codec.PCMA)
        await asyncio.sleep(2.0)  # CNG and CED on the audio, then the re-INVITE to T.38
        assert not calls["switch"].sender.t38
        await _t38(calls["switch"], T38Params(), switch=True)
        outcomes = {name: await call.outcomes() for name, call in calls.items()}
        for name, (sender, receiver) in outcomes.items():
            _assert_delivered(calls[name], sender, receiver, t38=name in ("t38", "switch"))
        pcma = outcomes["pcma"][0].stats
        assert pcma.rtp is not None
        assert pcma.rtp.late == pcma.rtp.malformed == 0
        assert outcomes["switch"][0].line_s > outcomes["t38"][0].line_s  # audio came first

    asyncio.run(main())


@pytest.mark.slow
def test_t38_with_redundancy_delivers_intact_through_a_lossy_path(tmp_path: Path) -> None:
    async def main() -> None:
        call = _call(tmp_path, "lossy-t38")
        relay = LossyRelay(drop=0.01, jitter_s=0.020, seed=3)
        await relay.open(HOST)
        try:
            await _t38(call, T38Params(error_correction=ErrorCorrection.REDUNDANCY), relay)
            sender, receiver = await call.outcomes()
        finally:
            relay.close()
        _assert_delivered(call, sender, receiver, t38=True)
        assert sum(path.dropped for path in relay.stats.values()) >= 1
        recovered = 0
        for outcome in (sender, receiver):
            assert outcome.stats.udptl is not None
            assert outcome.stats.udptl.lost == 0  # every dropped IFP came back from redundancy
            recovered += outcome.stats.udptl.recovered
        assert recovered >= 1  # this seed drops a packet whose IFP only redundancy brings back

    asyncio.run(main())


@pytest.mark.slow
def test_g711_with_ecm_through_a_lossy_path_delivers_intact_or_fails_retryably(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        call = _call(tmp_path, "lossy-g711", NORMAL_ECM)
        relay = LossyRelay(drop=0.01, jitter_s=0.020, seed=14)
        await relay.open(HOST)
        try:
            await _audio(call, Codec.PCMA, relay)
            sender, receiver = await call.outcomes()
        finally:
            relay.close()
        assert sum(path.dropped for path in relay.stats.values()) >= 5
        assert receiver.stats.filled_in > 0
        assert sender.fax is not None
        assert sender.stats.filled_in > 0  # the modem coasted over lost packets
        if sender.fax.success:
            assert sender.fax.pages_confirmed == 1
            assert_identical(call.sent, call.received())
        else:
            # Never "delivered" with a page missing: a failure the retry policy redials.
            assert sender.fax.failure is FailureClass.TRANSFER_FAILED
            assert sender.fax.retryable

    asyncio.run(main())


def test_a_far_end_that_goes_silent_ends_the_call_as_a_retryable_failure(tmp_path: Path) -> None:
    async def main() -> None:
        call = _call(tmp_path, "silent", audio_silence_s=1.0)
        await _audio(call, Codec.PCMA)
        await asyncio.sleep(1.0)
        call.receiver.far_end_hung_up()  # it stops sending; no BYE reaches the sender
        receiver = await asyncio.wait_for(call.receiver.wait(), 5)
        sender = await asyncio.wait_for(call.sender.wait(), 5)
        assert receiver.ending is Ending.FAR_END_HUNG_UP
        assert sender.ending is Ending.FAR_END_SILENT
        assert 1.5 < sender.line_s < 4.0
        assert sender.fax is not None
        assert not sender.fax.success
        assert sender.fax.retryable

    asyncio.run(main())


def test_the_watchdog_ends_a_call_that_goes_on_too_long(tmp_path: Path) -> None:
    async def main() -> None:
        call = _call(tmp_path, "capped", cap_s=1.5)
        await _t38(call, T38Params())
        sender, receiver = await call.outcomes()
        for outcome in (sender, receiver):
            assert outcome.ending is Ending.WATCHDOG
            assert outcome.line_s == pytest.approx(1.5, abs=0.03)
            assert outcome.fax is not None
            assert not outcome.fax.success

    asyncio.run(main())


def test_media_ended_before_it_started_has_no_fax_result(tmp_path: Path) -> None:
    async def main() -> None:
        call = _call(tmp_path, "never")
        call.sender.far_end_hung_up()
        outcome = await asyncio.wait_for(call.sender.wait(), 1)
        assert outcome.ending is Ending.FAR_END_HUNG_UP
        assert outcome.fax is None

    asyncio.run(main())


def test_media_follows_a_far_end_that_moved_and_starts_only_once(tmp_path: Path) -> None:
    async def main() -> None:
        call = _call(tmp_path, "moved")
        ours, theirs = _ports()
        nowhere = open_media_port(HOST)  # where the first SDP pointed; nobody reads it
        call.sender.start_audio(ours, nowhere.local, Codec.PCMA)
        call.receiver.start_audio(theirs, ours.local, Codec.PCMA)
        spare = open_media_port(HOST)
        with pytest.raises(RuntimeError, match="started already"):
            call.sender.start_audio(spare, theirs.local, Codec.PCMA)
        spare.close()
        await asyncio.sleep(0.5)
        far = call.receiver.stats.rtp
        assert far is not None
        assert far.packets == 0
        call.sender.move_remote(theirs.local)  # a re-INVITE moved the far end's media
        await asyncio.sleep(0.5)
        assert far.packets > 15
        call.sender.far_end_hung_up()
        call.receiver.far_end_hung_up()
        nowhere.close()
        assert ours.closed
        assert theirs.closed

    asyncio.run(main())


@pytest.mark.parametrize(
    "correction", [ErrorCorrection.REDUNDANCY, ErrorCorrection.FEC], ids=["redundancy", "fec"]
)
def test_udptl_recovery_carries_a_t38_fax_through_loss(
    tmp_path: Path, correction: ErrorCorrection
) -> None:
    """Unpaced T.38 terminals through UDPTL in memory, 10 % of datagrams dropped (seeded): what
    redundancy or parity rebuilds (FEC pads an IFP with zeros, which SpanDSP takes) is enough."""
    sent = render_pdf(pdfs.short_page_pdf(), NORMAL.resolution)
    path = tmp_path / "sent.tif"
    path.write_bytes(write_tiff_f(sent))
    received = tmp_path / "received.tif"
    ends = (
        T38FaxSession(Outgoing.from_file(path), NORMAL, calling=True, paced=False),
        T38FaxSession(Incoming(received), NORMAL, calling=False, paced=False),
    )
    rng = random.Random(7)
    inboxes: tuple[list[bytes], list[bytes]] = ([], [])
    senders = [
        UdptlSender(inbox.append, error_correction=correction, max_datagram=1400)
        for inbox in reversed(inboxes)  # each end's packets land in the other's inbox
    ]
    receivers = [UdptlReceiver(end.receive) for end in ends]
    dropped = 0
    for _ in range(20_000):
        if all(end.done for end in ends):
            break
        for end, sender, inbox, receiver in zip(ends, senders, inboxes, receivers, strict=True):
            for ifp, repeats in end.advance_repeats():
                sender.send(ifp, repeats)
            for data in inbox:
                if rng.random() < LOSS:
                    dropped += 1
                else:
                    receiver.datagram(data)
            inbox.clear()
            receiver.tick()
    for end in ends:
        assert end.result().success, end.result().summary()
    assert dropped >= 5
    assert sum(receiver.stats.recovered for receiver in receivers) > 0
    assert sum(receiver.stats.lost for receiver in receivers) == 0
    assert_identical(sent, read_tiff_f(received.read_bytes()))
