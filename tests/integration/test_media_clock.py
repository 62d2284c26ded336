"""The shared media clock and media ports on loopback: one wake-up steps every stream, and the
sockets are read (only from the far end's host) once every stream has sent."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import time

import pytest

from faxcast.errors import ConfigError
from faxcast.i18n import codes
from faxcast.sip.media_port import open_media_port
from faxcast.sip.pacing import MediaClock

HOST = "127.0.0.1"


def test_streams_share_wake_ups_and_the_clock_stops_with_the_last() -> None:
    async def main() -> None:
        clock = MediaClock(period_s=0.002)
        seen: list[tuple[str, int, int]] = []
        first = clock.join(lambda frame: seen.append(("a", frame, clock.stats.wakes)))
        await asyncio.sleep(0.011)
        second = clock.join(lambda frame: seen.append(("b", frame, clock.stats.wakes)))
        await asyncio.sleep(0.011)
        clock.leave(first)
        clock.leave(second)
        wakes = clock.stats.wakes
        await asyncio.sleep(0.011)
        assert clock.stats.wakes == wakes  # no member, no wake-up
        assert clock.members == 0
        a_wakes = {wake for name, _, wake in seen if name == "a"}
        b_wakes = {wake for name, _, wake in seen if name == "b"}
        assert b_wakes  # b joined the running clock, and each of its frames ran in a
        assert b_wakes <= a_wakes  # wake-up that also ran a's: one wake-up for both

    asyncio.run(main())


def test_the_clock_reads_every_waiting_datagram_after_the_sends_before_the_thens() -> None:
    async def main() -> None:
        clock = MediaClock(period_s=0.002)
        port = open_media_port(HOST)
        got: list[bytes] = []
        port.on_datagram = got.append
        clock.watch(port.fileno(), port.read_one)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as far:
            for n in range(3):
                far.sendto(bytes([n]), port.local)
            sends: list[int] = []
            thens: list[int] = []
            token = clock.join(
                lambda _frame: sends.append(len(got)), lambda _frame: thens.append(len(got))
            )
            await asyncio.sleep(0.005)
            clock.leave(token)
        clock.unwatch(port.fileno())
        port.close()
        assert got == [b"\x00", b"\x01", b"\x02"]
        assert sends[0] == 0  # the first send did not wait for the reads
        assert thens[0] == 3  # all three were read in that same tick, before its thens
        assert sends[1] == 3  # and the next tick's send has them

    asyncio.run(main())


def test_ports_watched_first_are_read_before_the_sends() -> None:
    async def main() -> None:
        clock = MediaClock(period_s=0.002)
        early, late = open_media_port(HOST), open_media_port(HOST)
        got: list[bytes] = []
        early.on_datagram = late.on_datagram = got.append
        clock.watch(early.fileno(), early.read_one, first=True)
        clock.watch(late.fileno(), late.read_one)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as far:
            far.sendto(b"late", late.local)
            far.sendto(b"early", early.local)
            sends: list[list[bytes]] = []
            token = clock.join(lambda _frame: sends.append(list(got)))
            await asyncio.sleep(0.005)
            clock.leave(token)
        for port in (early, late):
            clock.unwatch(port.fileno())
            port.close()
        assert sends[0] == [b"early"]  # what a T.38 terminal answers is in before it steps
        assert sends[1] == [b"early", b"late"]

    asyncio.run(main())


def test_after_a_stall_the_sockets_are_read_before_the_sends() -> None:
    async def main() -> None:
        clock = MediaClock(period_s=0.002)
        port = open_media_port(HOST)
        got: list[bytes] = []
        port.on_datagram = got.append
        clock.watch(port.fileno(), port.read_one)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as far:
            sends: list[tuple[int, int]] = []

            def then(frame: int) -> None:
                if frame == 0:  # after frame 0's reads, a datagram comes during a stall
                    far.sendto(b"x", port.local)
                    time.sleep(0.008)  # four periods

            token = clock.join(lambda frame: sends.append((frame, len(got))), then)
            await asyncio.sleep(0.012)
            clock.leave(token)
        clock.unwatch(port.fileno())
        port.close()
        assert sends[:2] == [(0, 0), (1, 1)]  # frame 1, run late, had it before sending

    asyncio.run(main())


def test_a_port_takes_datagrams_from_the_far_host_only() -> None:
    port = open_media_port(HOST)
    got: list[bytes] = []
    port.on_datagram = got.append
    port.remote = ("127.0.0.2", 9)  # the SDP's address; 127.0.0.1 is someone else
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.sendto(b"x", port.local)
        for _ in range(100):
            if port.read_one():
                break
    port.close()
    assert got == []
    assert port.refused == 1
    assert not port.read_one()  # closed


def test_ports_come_from_the_range_even_for_rtp_until_none_is_free() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        base = probe.getsockname()[1] & ~1
    ports = range(base + 2, base + 6)  # two even ports: base+2, base+4
    taken = [open_media_port(HOST, ports, even=True) for _ in range(2)]
    try:
        assert sorted(port.local[1] for port in taken) == [base + 2, base + 4]
        with pytest.raises(ConfigError) as raised:
            open_media_port(HOST, ports, even=True)
        assert raised.value.message == codes.MEDIA_NO_FREE_PORT(
            host=HOST, first=base + 2, last=base + 5
        )
    finally:
        for port in taken:
            port.close()


def test_an_idle_clock_goes_with_its_event_loop() -> None:
    async def call() -> None:
        clock = MediaClock.of()
        token = clock.join(lambda _frame: None)
        await asyncio.sleep(0.05)
        clock.leave(token)

    asyncio.run(call())
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        asyncio.run(call())
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before  # no epoll left open per loop


def test_every_stream_sends_before_any_receives() -> None:
    async def main() -> None:
        clock = MediaClock(period_s=0.002)
        order: list[str] = []

        def stream(name: str) -> int:
            return clock.join(
                lambda _frame: order.append(f"send {name}"),
                lambda _frame: order.append(f"then {name}"),
            )

        tokens = [stream("a"), stream("b")]
        await asyncio.sleep(0.003)
        for token in tokens:
            clock.leave(token)
        assert order[:4] == ["send a", "send b", "then a", "then b"]

    asyncio.run(main())


def test_streams_joining_together_start_a_few_at_a_tick_and_each_then_every_tick() -> None:
    # Started in one tick, calls stay in step and reach SpanDSP's costly steps together.
    async def main() -> None:
        clock = MediaClock(period_s=0.002, starts_per_tick=2)
        ran: dict[int, list[int]] = {n: [] for n in range(5)}
        tokens = [clock.join(ran[n].append) for n in range(5)]
        assert clock.members == 5
        await asyncio.sleep(0.03)
        for token in tokens:
            clock.leave(token)
        assert clock.members == 0
        firsts = [ran[n][0] for n in range(5)]
        start = firsts[0]
        assert firsts == [start, start, start + 1, start + 1, start + 2]
        for frames in ran.values():  # once started, a stream runs in every tick
            assert frames == list(range(frames[0], frames[0] + len(frames)))

    asyncio.run(main())


def test_a_stream_that_leaves_before_its_start_never_runs() -> None:
    async def main() -> None:
        clock = MediaClock(period_s=0.002, starts_per_tick=1)
        ran: list[str] = []
        first = clock.join(lambda _frame: ran.append("first"))
        second = clock.join(lambda _frame: ran.append("second"))
        clock.leave(second)  # still waiting its turn
        await asyncio.sleep(0.01)
        clock.leave(first)
        assert set(ran) == {"first"}
        assert clock.members == 0

    asyncio.run(main())
