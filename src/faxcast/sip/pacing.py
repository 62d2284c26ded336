"""A 20 ms ticker on the event loop's clock with absolute deadlines, so media never drifts.

Frame n is due at `start + n * period`: a late wake-up shifts no later deadline. A late
ticker catches up at most `max_burst` frames per wake-up (a far end's jitter buffer would
drop a long burst anyway), and gives up frames more than `max_lag` behind.
"""

from __future__ import annotations

import asyncio
import itertools
import select
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

PERIOD_S = 0.020  # 20 ms: 160 samples at 8 kHz, the usual G.711 packetisation
LATE_S = 0.002  # a frame sent this much after its deadline counts as late
MAX_READ_PASSES = 8  # datagrams read per socket and tick at most: a flood cannot stall the loop


@dataclass
class PacerStats:
    """What a pacer did: wake-ups, frames run, those run late or given up, the worst lateness."""

    wakes: int = 0
    frames: int = 0
    late: int = 0
    skipped: int = 0
    max_late_s: float = 0.0


class Pacer:
    """Calls `tick(n)` for frame n at its deadline, until `stop()`."""

    __slots__ = (
        "_handle",
        "_loop",
        "_next",
        "_period",
        "_start",
        "_tick",
        "max_burst",
        "max_lag",
        "stats",
    )

    def __init__(
        self,
        tick: Callable[[int], None],
        *,
        period_s: float = PERIOD_S,
        max_burst: int = 2,
        max_lag: int = 5,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if max_burst < 1 or max_lag < max_burst:
            raise ValueError("a pacer needs 1 <= max_burst <= max_lag")
        self._tick = tick
        self._period = period_s
        self.max_burst = max_burst
        self.max_lag = max_lag
        self._loop = loop or asyncio.get_running_loop()
        self._start = 0.0
        self._next = 0
        self._handle: asyncio.TimerHandle | None = None
        self.stats = PacerStats()

    @property
    def running(self) -> bool:
        """Whether a wake-up is scheduled."""
        return self._handle is not None

    @property
    def next_frame(self) -> int:
        """The index of the next frame to run."""
        return self._next

    def deadline(self, frame: int) -> float:
        """When frame `frame` is due, on the loop's clock."""
        return self._start + frame * self._period

    def start(self, at: float | None = None) -> None:
        """Run frame 0 at `at` (now by default) and every period after it."""
        if self._handle is not None:
            return
        self._start = self._loop.time() if at is None else at
        self._next = 0
        self._handle = self._loop.call_at(self._start, self._wake)

    def stop(self) -> None:
        """Run no more frames; the frame being run (if any) completes."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _wake(self) -> None:
        now = self._loop.time()
        start, period, stats = self._start, self._period, self.stats
        stats.wakes += 1
        due = int((now - start) / period) + 1  # frames whose deadline has passed
        behind = due - self._next
        if behind > self.max_lag:
            # Too far behind to be worth sending: those frames' time is gone for good.
            stats.skipped += behind - self.max_lag
            self._next = due - self.max_lag
        late = now - (start + self._next * period)
        if late > LATE_S:
            stats.late += 1
            stats.max_late_s = max(stats.max_late_s, late)
        tick = self._tick
        for _ in range(min(max(behind, 1), self.max_burst)):
            frame = self._next
            self._next = frame + 1
            stats.frames += 1
            tick(frame)
            if self._handle is None:  # the tick stopped the pacer
                return
        # Catch up at the next deadline to come, not at once: a backlog never leaves as a burst.
        self._handle = self._loop.call_at(start + max(due, self._next) * period, self._wake)


class MediaClock:
    """One pacer for every stream on an event loop: a single wake-up runs all their frames.

    Waking once per 20 ms for every call, instead of once per call, is what lets one core
    carry hundreds of them: the loop's own cost per wake-up dwarfs a frame's work. Each
    stream's frames stay 20 ms apart on the shared absolute deadlines.
    """

    _clocks: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        period_s: float = PERIOD_S,
        max_burst: int = 2,
        max_lag: int = 5,
    ) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._pacer = Pacer(
            self._tick, period_s=period_s, max_burst=max_burst, max_lag=max_lag, loop=self._loop
        )
        self._members: dict[int, Callable[[int], None]] = {}
        self._snapshot: tuple[Callable[[int], None], ...] = ()
        self._tokens = itertools.count()
        # The streams' sockets, read at each tick: one poll tells which have datagrams, so
        # an empty socket costs no system call.
        self._poller = select.epoll()
        self._readers: dict[int, Callable[[], object]] = {}
        weakref.finalize(self, self._poller.close)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop | None = None) -> MediaClock:
        """The clock every stream on `loop` (the running one by default) shares."""
        loop = loop or asyncio.get_running_loop()
        clock = cls._clocks.get(loop)
        if clock is None:
            clock = cls._clocks[loop] = cls(loop)
        return clock

    @property
    def stats(self) -> PacerStats:
        """The shared pacer's figures (wake-ups, late and skipped frames), for every stream."""
        return self._pacer.stats

    @property
    def members(self) -> int:
        """How many streams are running."""
        return len(self._members)

    def join(self, step: Callable[[int], None]) -> int:
        """Run `step(frame)` every 20 ms from the next deadline; the token is for `leave`."""
        token = next(self._tokens)
        self._members[token] = step
        self._snapshot = tuple(self._members.values())
        self._pacer.start()  # a no-op while it runs
        return token

    def leave(self, token: int) -> None:
        """Stop running that stream's steps (the clock stops with its last stream)."""
        if self._members.pop(token, None) is not None:
            self._snapshot = tuple(self._members.values())
            if not self._members:
                self._pacer.stop()

    def watch(self, fileno: int, read_one: Callable[[], object]) -> None:
        """Call `read_one()` for each datagram waiting on `fileno`, before each tick's steps."""
        self._poller.register(fileno, select.EPOLLIN)
        self._readers[fileno] = read_one

    def unwatch(self, fileno: int) -> None:
        """Stop reading `fileno` (before it is closed)."""
        if self._readers.pop(fileno, None) is not None:
            self._poller.unregister(fileno)

    def _tick(self, frame: int) -> None:
        if self._readers:
            poll, readers = self._poller.poll, self._readers
            # One datagram per ready socket a pass; a second pass finds what a burst left.
            for _ in range(MAX_READ_PASSES):
                ready = poll(0)
                if not ready:
                    break
                for fileno, _events in ready:
                    reader = readers.get(fileno)
                    if reader is not None:
                        reader()
        for step in self._snapshot:
            step(frame)
