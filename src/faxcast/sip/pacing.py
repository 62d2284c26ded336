"""A 20 ms ticker on the event loop's clock with absolute deadlines, so media never drifts.

Frame n is due at `start + n * period`: a late wake-up shifts no later deadline. A late
ticker catches up at most `max_burst` frames per wake-up (a far end's jitter buffer would
drop a long burst anyway), and gives up frames more than `max_lag` behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

PERIOD_S = 0.020  # 20 ms: 160 samples at 8 kHz, the usual G.711 packetisation
LATE_S = 0.002  # a frame sent this much after its deadline counts as late


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
