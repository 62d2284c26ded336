"""A lossy UDP path for media tests: drops and delays datagrams between two ends, seeded.

Each end sends to its side of the relay; each direction has its own random generator, so the
datagrams a seed drops do not depend on how the two directions interleave. Jitter is a delay
drawn for every datagram, so packets can overtake each other as on a real network.
"""

from __future__ import annotations

import asyncio
import functools
import random
from dataclasses import dataclass
from typing import cast

Address = tuple[str, int]
MAX_PENDING = 2000  # datagrams in flight at once: beyond this the relay drops (bounded memory)


@dataclass
class PathStats:
    """What one direction did."""

    forwarded: int = 0
    dropped: int = 0
    overflow: int = 0


class _Side(asyncio.DatagramProtocol):
    def __init__(self, relay: LossyRelay, name: str) -> None:
        self.relay = relay
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.relay._forward(self.name, data)


class LossyRelay:
    """Datagrams sent to `a_side` go to end B, those sent to `b_side` to end A."""

    def __init__(self, *, drop: float = 0.01, jitter_s: float = 0.020, seed: int = 14) -> None:
        self.drop = drop
        self.jitter_s = jitter_s
        self._random = {"a": random.Random(seed), "b": random.Random(seed + 1)}
        self.stats = {"a": PathStats(), "b": PathStats()}  # by the side datagrams came in at
        self._sides: dict[str, _Side] = {}
        self._to: dict[str, Address] = {}
        self._pending = 0

    async def open(self, host: str = "127.0.0.1") -> None:
        """Bind both sides on `host`."""
        loop = asyncio.get_running_loop()
        for name in ("a", "b"):
            _, side = await loop.create_datagram_endpoint(
                functools.partial(_Side, self, name), local_addr=(host, 0)
            )
            self._sides[name] = side

    def address(self, side: str) -> Address:
        """Where the end on `side` ("a" or "b") must send."""
        transport = self._sides[side].transport
        assert transport is not None
        host, port = transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connect(self, a_end: Address, b_end: Address) -> None:
        """Where the two ends listen."""
        self._to = {"a": b_end, "b": a_end}  # what comes in at side a goes out to end B

    def close(self) -> None:
        """Release both sockets; datagrams still delayed are dropped."""
        for side in self._sides.values():
            if side.transport is not None:
                side.transport.close()
                side.transport = None

    def _forward(self, came_in: str, data: bytes) -> None:
        stats, rng = self.stats[came_in], self._random[came_in]
        destination = self._to.get(came_in)
        if destination is None or rng.random() < self.drop:
            stats.dropped += 1
            return
        if self._pending >= MAX_PENDING:
            stats.overflow += 1
            return
        out = self._sides["b" if came_in == "a" else "a"]
        self._pending += 1
        delay = rng.uniform(0.0, self.jitter_s)

        def send() -> None:
            self._pending -= 1
            if out.transport is not None:
                out.transport.sendto(data, destination)
                stats.forwarded += 1

        asyncio.get_running_loop().call_later(delay, send)
