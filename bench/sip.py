"""CPU per real-time fax channel on SIP media (RTP G.711 and T.38 UDPTL), sending side alone.

Run by hand, from the repository root, with faxcast installed (editable) and gcc and
libspandsp-dev present:

    python bench/sip.py [--channels 8,32,64,128] [--modes g711,t38]

For each mode and channel count N, this process places N real-time fax calls on loopback UDP
(faxcast.lines.sip.media.FaxMedia, the production media path: the shared media clock, RTP
or UDPTL, SpanDSP inline on the event loop) sending one A4 page at "normal" quality (the
bundled sample's first page), while a second process (this script with --role receivers)
answers all N with real receiving fax machines. Only this process is measured, so the
figures are the sending side's. With --nice N both processes run at that niceness (negative
needs root), as a media server is usually run above the machine's other work; with
--receivers-nice M the receivers' process adds M to it, so the far ends (on other machines in
real life) do not take the sender's core at its deadlines on a small host. With --realtime P
this process runs as `FAXCAST_MEDIA_PRIORITY=P` runs a worker (faxcast.sip.pacing.
run_in_realtime: round-robin at priority P); the receivers' process stays ordinary:

    CPU s         time.process_time() of this process from the first start to the last end
    ms/ch-s       CPU ms per channel per second of line time (sum of the calls' line time)
    ch/core       line s / CPU s: how many such senders one core carries in real time
    vs C          our CPU per channel-second over SpanDSP's C sender alone: the sending end
                  of bench/engine_loopback.c (its modem, G.711 and T.30 work, thread CPU
                  around the sender's calls only, same document), measured in this run
    jitter        G.711: |interval between two RTP packets of one call - 20 ms|, p50 and p99
                  over every call; T.38 sends only when SpanDSP has an IFP, so it is the
                  pacer's lateness (tick run time - deadline) instead
    late          wake-ups of the shared media clock more than 2 ms after their deadline;
    skip          frames it gave up (more than 100 ms behind)
    load          the 1-minute load average when the point ended (the machine is shared)
    rx            the receivers' process: calls received in full, and its CPU ms per
                  channel-second (the receiving modem is the expensive side)

Targets: >= 500 G.711 channels per core on the sending side; p99 jitter < 2 ms at 64
channels. Exit 0 whatever the figures (a measurement), 1 if a call was not delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from faxcast.documents import FaxDocument, render_pdf, write_tiff_f
from faxcast.domain.codec import Codec
from faxcast.domain.quality import Quality
from faxcast.fax._spandsp_build import SOURCE as GLUE_SOURCE
from faxcast.fax.engine import AudioFaxSession, Incoming, Outgoing
from faxcast.lines.sip.media import FaxEnd, FaxMedia, MediaOutcome
from faxcast.sip import pacing
from faxcast.sip.media_port import MediaPort, open_media_port
from faxcast.sip.pacing import PERIOD_S, MediaClock
from faxcast.sip.rtp import PT_PCMA, RtpAudioChannel, RtpReceiver, RtpSender
from faxcast.sip.t38 import T38Params

HERE = Path(__file__).resolve().parent
C_SOURCE = HERE / "engine_loopback.c"
HOST = "127.0.0.1"
PROFILE = Quality.NORMAL.profile
# The one-page text fax takes about 30 line s: a call still going after 3 min is stuck.
CAP_S = 180.0
C_RUNS = 3
SUBPROCESS_TIMEOUT_S = 60.0
TARGET_CHANNELS = 500
TARGET_P99_MS = 2.0


@dataclass(frozen=True)
class Point:
    """One mode and channel count, measured on the sending side."""

    mode: str
    channels: int
    delivered: int
    cpu_s: float
    line_s: float
    jitter_p50_ms: float
    jitter_p99_ms: float
    late: int
    skipped: int
    load: float
    received: int  # by the receivers' process, which also says its own CPU:
    receiver_ms_per_channel_s: float

    @property
    def cpu_ms_per_channel_s(self) -> float:
        return 1000 * self.cpu_s / self.line_s

    @property
    def channels_per_core(self) -> float:
        return self.line_s / self.cpu_s


def make_document(workdir: Path) -> Path:
    """The bundled sample's first page, rendered for "normal" quality, as a TIFF-F."""
    pdf = resources.files("faxcast").joinpath("samples/demo.pdf").read_bytes()
    document = render_pdf(pdf, PROFILE.resolution)
    path = workdir / "page.tif"
    path.write_bytes(write_tiff_f(FaxDocument(document.pages[:1], document.resolution)))
    return path


# ------------------------------------------------------------------------------ the media


def start(media: FaxMedia, mode: str, port: MediaPort, remote: tuple[str, int]) -> None:
    if mode == "g711":
        media.start_audio(port, remote, Codec.PCMA)
    else:
        media.start_t38(port, remote, T38Params())


async def serve_receivers(mode: str, channels: int, workdir: Path) -> None:
    """The answering side (its own process): real receivers, told where the senders are."""
    ports = [open_media_port(HOST) for _ in range(channels)]
    print(json.dumps([port.local[1] for port in ports]), flush=True)
    senders = json.loads(await asyncio.to_thread(sys.stdin.readline))
    cpu = time.process_time()
    medias = []
    for number, (port, remote) in enumerate(zip(ports, senders, strict=True)):
        end = FaxEnd(Incoming(workdir / f"rx-{number}.tif"), PROFILE, calling=False)
        media = FaxMedia(end, cap_s=CAP_S)
        start(media, mode, port, (HOST, remote))
        medias.append(media)
    outcomes = await asyncio.gather(*(media.wait() for media in medias))
    received = sum(1 for o in outcomes if o.fax is not None and o.fax.success)
    cpu = time.process_time() - cpu
    line_s = sum(o.line_s for o in outcomes)
    print(json.dumps([received, round(1e6 * cpu / line_s)]), flush=True)


async def run_senders(mode: str, channels: int, document: Outgoing, child: Child) -> Point:
    ports = [TimedPort(HOST) for _ in range(channels)]
    theirs = await child.read_json()
    sends = [port.times for port in ports]
    loop = asyncio.get_running_loop()
    medias = [
        FaxMedia(FaxEnd(document, PROFILE, calling=True), cap_s=CAP_S) for _ in range(channels)
    ]
    gc.collect()
    await child.write_json([port.local[1] for port in ports])
    clock = MediaClock.of(loop).stats
    late0, skipped0 = clock.late, clock.skipped
    cpu = time.process_time()
    for media, port, remote in zip(medias, ports, theirs, strict=True):
        start(media, mode, port, (HOST, remote))
    outcomes: list[MediaOutcome] = await asyncio.gather(*(media.wait() for media in medias))
    cpu = time.process_time() - cpu
    received, receiver_us_per_channel_s = await child.read_json()
    delivered = sum(1 for o in outcomes if o.fax is not None and o.fax.success)
    if mode == "g711":
        jitter = [
            abs(b - a - PERIOD_S) * 1000
            for times in sends
            for a, b in itertools.pairwise(times[1:])  # from the second: the first may wait
        ]
    else:
        # How long after a deadline of the shared clock each IFP left (loop and probe share
        # the monotonic clock); a tick more than 20 ms late wraps round, and counts as early.
        origin = MediaClock.of(loop).deadline(0)
        jitter = [(sent - origin) % PERIOD_S * 1000 for times in sends for sent in times]
    quantiles = statistics.quantiles(jitter, n=100) if len(jitter) > 1 else [0.0] * 99
    return Point(
        mode=mode,
        channels=channels,
        delivered=delivered,
        cpu_s=cpu,
        line_s=sum(o.line_s for o in outcomes),
        jitter_p50_ms=quantiles[49],
        jitter_p99_ms=quantiles[98],
        late=clock.late - late0,
        skipped=clock.skipped - skipped0,
        load=os.getloadavg()[0],
        received=received,
        receiver_ms_per_channel_s=receiver_us_per_channel_s / 1000,
    )


class TimedPort(MediaPort):
    """A media port that records when each datagram leaves, on the event loop's clock."""

    def __init__(self, host: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        super().__init__(sock)
        self.times: list[float] = []

    def send(self, data: bytes | bytearray) -> None:
        self.times.append(time.monotonic())
        super().send(data)


class Child:
    """The receivers' process, spoken to in JSON lines."""

    def __init__(self, mode: str, channels: int, workdir: Path, nice: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                "receivers",
                "--modes",
                mode,
                "--channels",
                str(channels),
                "--workdir",
                str(workdir),
                "--nice",
                str(nice),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def read_json(self) -> list[int]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), CAP_S + 30)
        if not line:
            sys.exit("the receivers' process ended early")
        value: list[int] = json.loads(line)
        return value

    async def write_json(self, value: list[int]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(value) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        self.process.wait(timeout=30)


async def measure(
    mode: str, channels: int, document: Outgoing, workdir: Path, receivers_nice: int
) -> Point:
    child = Child(mode, channels, workdir, receivers_nice)
    try:
        return await run_senders(mode, channels, document, child)
    finally:
        child.close()


# ------------------------------------------------------------- where a frame's time goes


def breakdown(document: Outgoing, workdir: Path) -> dict[str, float]:
    """One G.711 call run flat out (no pacing, hot caches) through the production pieces:
    the sending end's CPU microseconds per 20 ms frame, piece by piece."""
    sender = AudioFaxSession(document, PROFILE, calling=True)
    receiver = AudioFaxSession(Incoming(workdir / "breakdown.tif"), PROFILE, calling=False)
    ours, theirs = open_media_port(HOST), open_media_port(HOST)
    ours.remote, theirs.remote = theirs.local, ours.local
    to_far: list[bytes | None] = []
    our_rtp = RtpAudioChannel(ours.send, sender.native_line(), PT_PCMA)
    far_rtp = RtpSender(theirs.send, receiver.transmit, PT_PCMA)
    far_jitter = RtpReceiver(to_far.append, PT_PCMA)
    ours.on_datagram, theirs.on_datagram = our_rtp.datagram, far_jitter.datagram
    clock = time.thread_time
    spent = dict.fromkeys(("modem rx + tx + RTP, send", "socket read + jitter buffer"), 0.0)
    frames = 0
    while not sender.done and frames < CAP_S * 50:
        t0 = clock()
        our_rtp.frame(frames)
        t1 = clock()
        far_rtp.frame(frames)
        theirs.read_one()  # in lockstep each end has exactly one packet waiting
        far_jitter.play()
        _hear(receiver, to_far.pop())
        t2 = clock()
        ours.read_one()
        t3 = clock()
        spent["modem rx + tx + RTP, send"] += t1 - t0
        spent["socket read + jitter buffer"] += t3 - t2
        frames += 1
    ours.close()
    theirs.close()
    return {piece: 1e6 * total / frames for piece, total in spent.items()}


def _hear(session: AudioFaxSession, frame: bytes | None) -> None:
    if frame is None:
        session.fill_in()
    else:
        session.receive(frame)


# --------------------------------------------------------------------- the C reference


def compile_c(workdir: Path) -> Path:
    """Build bench/engine_loopback.c with the binding's glue, as bench/engine.py does."""
    binary = workdir / "engine_loopback"
    source = workdir / C_SOURCE.name
    source.write_text(C_SOURCE.read_text())
    (workdir / "faxcast_glue.c").write_text(GLUE_SOURCE)
    subprocess.run(
        ["gcc", "-O2", "-o", str(binary), str(source), "-lspandsp", "-ltiff", "-lm"],
        check=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    return binary


def c_sender_ms_per_channel_s(binary: Path, mode: str, document: Path, workdir: Path) -> float:
    """The C sender's own CPU ms per second of line time, the least of C_RUNS calls."""
    best = float("inf")
    for _ in range(C_RUNS):
        done = subprocess.run(
            [str(binary), mode, str(document), str(workdir / "c-received.tif")],
            capture_output=True,
            text=True,
            check=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )
        out = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        if out["tx_code"] != "0":
            sys.exit(f"the C loopback did not deliver: {out['tx_code_text']}")
        best = min(best, 1000 * float(out["tx_cpu_s"]) / float(out["tx_line_s"]))
    return best


# ------------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--channels", default="8,32,64,128")
    parser.add_argument("--modes", default="g711,t38")
    parser.add_argument("--role", choices=("senders", "receivers"), default="senders")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--receivers-nice", type=int, default=0)
    parser.add_argument("--realtime", type=int, default=0, metavar="PRIORITY")
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)  # the receivers' process inherits it
    if args.realtime and args.role == "senders" and not pacing.run_in_realtime(args.realtime):
        sys.exit("--realtime needs root or CAP_SYS_NICE")
    counts = [int(n) for n in args.channels.split(",")]
    modes = args.modes.split(",")
    if args.role == "receivers":
        asyncio.run(serve_receivers(modes[0], counts[0], args.workdir))
        return 0

    with tempfile.TemporaryDirectory(prefix="faxcast-bench-sip-") as temp:
        workdir = Path(temp)
        path = make_document(workdir)
        document = Outgoing.from_file(path)
        binary = compile_c(workdir)
        c_modes = {"g711": "audio-ecm", "t38": "t38-paced"}
        reference = {m: c_sender_ms_per_channel_s(binary, c_modes[m], path, workdir) for m in modes}
        print(
            f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start, "
            f"niceness {os.nice(0)}, real-time priority {os.sched_getparam(0).sched_priority}"
        )
        for mode in modes:
            ms = reference[mode]
            print(f"C sender alone ({c_modes[mode]}): {ms:.3f} ms/ch-s, {1000 / ms:.0f} ch/core")
        pieces = breakdown(document, workdir)
        print(
            "a G.711 frame, flat out, sending end (us): "
            + ", ".join(f"{piece} {us:.1f}" for piece, us in pieces.items())
            + f"; total {sum(pieces.values()):.1f} = {sum(pieces.values()) * 0.05:.2f} ms/ch-s"
        )
        header = (
            f"{'mode':5} {'ch':>4} {'ok':>4} {'CPU s':>7} {'line s':>8} {'ms/ch-s':>8} "
            f"{'ch/core':>8} {'vs C':>6} {'jit p50':>8} {'jit p99':>8} {'late':>6} "
            f"{'skip':>5} {'load':>5} {'rx ok':>5} {'rx ms':>6}"
        )
        print(header)
        failed = False
        for mode in modes:
            for channels in counts:
                point = asyncio.run(measure(mode, channels, document, workdir, args.receivers_nice))
                ratio = point.cpu_ms_per_channel_s / reference[mode]
                miss = mode == "g711" and (
                    point.channels_per_core < TARGET_CHANNELS
                    or (channels == 64 and point.jitter_p99_ms >= TARGET_P99_MS)
                )
                print(
                    f"{mode:5} {channels:4d} {point.delivered:4d} {point.cpu_s:7.2f} "
                    f"{point.line_s:8.1f} {point.cpu_ms_per_channel_s:8.3f} "
                    f"{point.channels_per_core:8.0f} {ratio:6.2f} {point.jitter_p50_ms:8.3f} "
                    f"{point.jitter_p99_ms:8.3f} {point.late:6d} {point.skipped:5d} "
                    f"{point.load:5.1f} {point.received:5d} "
                    f"{point.receiver_ms_per_channel_s:6.3f}{' !' if miss else ''}",
                    flush=True,
                )
                failed |= point.delivered != channels
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
