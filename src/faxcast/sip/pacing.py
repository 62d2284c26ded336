"""A 20 ms ticker on the event loop's clock with absolute deadlines, so media never drifts.

Frame n is due at `start + n * period`: a late wake-up shifts no later deadline. A late
ticker catches up at most `max_burst` frames per wake-up (a far end's jitter buffer would
drop a long burst anyway), and gives up frames more than `max_lag` behind.

The wake-ups come from a Linux timer descriptor set to the absolute deadline, watched by the
event loop: asyncio's own timers round the loop's poll timeout up to the next millisecond,
which made every packet leave up to 1 ms late, a different amount each time.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import math
import os
import select
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

PERIOD_S = 0.020  # 20 ms: 160 samples at 8 kHz, the usual G.711 packetisation
LATE_S = 0.002  # a frame sent this much after its deadline counts as late
MAX_READ_PASSES = 8  # datagrams read per socket and tick at most: a flood cannot stall the loop
# Streams that start in one tick at most. Calls started in the same tick stay in step, and
# reach SpanDSP's costly steps (a page's set-up: 0.6 ms) in the same tick too: 64 of them
# made one tick 40 ms late. Two at a time keep such a tick within 2 ms.
STARTS_PER_TICK = 2


_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


_libc = ctypes.CDLL(None, use_errno=True)
_timerfd_create = _libc.timerfd_create
_timerfd_create.argtypes = (ctypes.c_int, ctypes.c_int)
_timerfd_settime = _libc.timerfd_settime
_timerfd_settime.argtypes = (
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(_Itimerspec),
    ctypes.POINTER(_Itimerspec),
)


class _Alarm:
    """A one-shot timerfd on CLOCK_MONOTONIC (the event loop's clock) that calls `ring()`."""

    __slots__ = ("__weakref__", "_fd", "_loop", "_release", "_spec")

    def __init__(self, loop: asyncio.AbstractEventLoop, ring: Callable[[], None]) -> None:
        fd = _timerfd_create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd = fd
        self._loop = loop
        self._spec = _Itimerspec()
        # A pacer dropped with its loop, never stopped, still gives its descriptor back.
        self._release = weakref.finalize(self, os.close, fd)
        loop.add_reader(fd, self._fired, ring)

    def at(self, when: float) -> None:
        """Ring once at `when` (loop clock, absolute; at once if it has passed)."""
        value = self._spec.it_value
        fraction, seconds = math.modf(max(when, 1e-9))
        value.tv_sec, value.tv_nsec = int(seconds), int(fraction * 1e9)
        if _timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, self._spec, None) < 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def close(self) -> None:
        """Ring no more; release the descriptor."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            self._release()
            self._fd = -1

    def _fired(self, ring: Callable[[], None]) -> None:
        try:
            os.read(self._fd, 8)  # the expiry count: reading it clears the readiness
        except BlockingIOError:
            return  # already read, or re-armed to a later time since it fired
        ring()


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
        "_alarm",
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
        self._alarm: _Alarm | None = None
        self.stats = PacerStats()

    @property
    def running(self) -> bool:
        """Whether a wake-up is scheduled."""
        return self._alarm is not None

    @property
    def next_frame(self) -> int:
        """The index of the next frame to run."""
        return self._next

    def deadline(self, frame: int) -> float:
        """When frame `frame` is due, on the loop's clock."""
        return self._start + frame * self._period

    def start(self, at: float | None = None) -> None:
        """Run frame 0 at `at` (now by default) and every period after it."""
        if self._alarm is not None:
            return
        self._start = self._loop.time() if at is None else at
        self._next = 0
        self._alarm = _Alarm(self._loop, self._wake)
        self._alarm.at(self._start)

    def stop(self) -> None:
        """Run no more frames; the frame being run (if any) completes."""
        if self._alarm is not None:
            self._alarm.close()
            self._alarm = None

    def _wake(self) -> None:
        alarm = self._alarm
        assert alarm is not None  # it is what rang
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
            if self._alarm is not alarm:  # the tick stopped the pacer
                return
        # Catch up at the next deadline to come, not at once: a backlog never leaves as a burst.
        alarm.at(start + max(due, self._next) * period)


def run_in_realtime(priority: int) -> bool:
    """Schedule the calling thread round-robin at `priority` (1-99), above every ordinary
    process, as media servers are run; False if the system does not permit it.

    A media clock on a shared host wakes late when other processes hold the cores at its
    deadlines; under SCHED_RR it takes a core at once. Threads and processes it starts from
    then on run at the ordinary priority (SCHED_RESET_ON_FORK).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except PermissionError:
        return False
    return True


def _nothing(_frame: int) -> None:
    return None


def _read(poller: select.epoll, readers: dict[int, Callable[[], object]]) -> None:
    poll = poller.poll
    # One datagram per ready socket a pass; a second pass finds what a burst left.
    for _ in range(MAX_READ_PASSES):
        ready = poll(0)
        if not ready:
            break
        for fileno, _events in ready:
            reader = readers.get(fileno)
            if reader is not None:
                reader()


class MediaClock:
    """One pacer for every stream on an event loop: a single wake-up runs all their frames.

    Waking once per 20 ms for every call, instead of once per call, is what lets one core
    carry hundreds of them: the loop's own cost per wake-up dwarfs a frame's work. Each
    stream's frames stay 20 ms apart on the shared absolute deadlines. Streams joining
    together start a few at a tick (`starts_per_tick`), so that they do not stay in step.
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
        starts_per_tick: int = STARTS_PER_TICK,
    ) -> None:
        # Only a running pacer holds the loop: an idle clock lets its loop (and so itself, in
        # the per-loop registry) be collected.
        self._loop = weakref.ref(loop or asyncio.get_running_loop())
        self._period = period_s
        self._bounds = (max_burst, max_lag)
        self._pacer: Pacer | None = None
        self._origin = 0.0
        self.stats = PacerStats()  # wake-ups, late and skipped frames, for every stream
        self._members: dict[int, tuple[Callable[[int], None], Callable[[int], None]]] = {}
        self._waiting: dict[int, tuple[Callable[[int], None], Callable[[int], None]]] = {}
        self._starts_per_tick = starts_per_tick
        self._sends: tuple[Callable[[int], None], ...] = ()
        self._thens: tuple[Callable[[int], None], ...] = ()
        self._tokens = itertools.count()
        # The streams' sockets, read at each tick: one poll tells which have datagrams, so
        # an empty socket costs no system call. Those read first have their own poll.
        self._poller = select.epoll()
        self._readers: dict[int, Callable[[], object]] = {}
        self._first_poller = select.epoll()
        self._first_readers: dict[int, Callable[[], object]] = {}
        weakref.finalize(self, self._poller.close)
        weakref.finalize(self, self._first_poller.close)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop | None = None) -> MediaClock:
        """The clock every stream on `loop` (the running one by default) shares."""
        loop = loop or asyncio.get_running_loop()
        clock = cls._clocks.get(loop)
        if clock is None:
            clock = cls._clocks[loop] = cls(loop)
        return clock

    def deadline(self, frame: int) -> float:
        """When frame `frame` of the clock's last run (from its first stream) is or was due."""
        return self._origin + frame * self._period

    @property
    def members(self) -> int:
        """How many streams are running or waiting to start."""
        return len(self._members) + len(self._waiting)

    def join(self, send: Callable[[int], None], then: Callable[[int], None] = _nothing) -> int:
        """Run `send(frame)` every 20 ms from a coming deadline (the next one unless others
        start there), and `then(frame)` once every stream's `send` has run and the sockets
        have been read; the token is for `leave`.

        Sending first for all streams keeps each stream's packets at the same place in the
        tick whatever the others' receiving work costs: their intervals stay even.
        """
        token = next(self._tokens)
        self._waiting[token] = (send, then)
        if self._pacer is None:
            loop = self._loop()
            assert loop is not None  # a stream joins from code running on the loop
            max_burst, max_lag = self._bounds
            pacer = Pacer(
                self._tick, period_s=self._period, max_burst=max_burst, max_lag=max_lag, loop=loop
            )
            pacer.stats = self.stats
            pacer.start()
            self._pacer, self._origin = pacer, pacer.deadline(0)
        return token

    def leave(self, token: int) -> None:
        """Stop running that stream's steps (the clock stops with its last stream)."""
        if self._members.pop(token, None) is not None:
            self._snapshot()
        elif self._waiting.pop(token, None) is None:
            return
        if not self.members and self._pacer is not None:
            self._pacer.stop()
            self._pacer = None

    def watch(self, fileno: int, read_one: Callable[[], object], *, first: bool = False) -> None:
        """Call `read_one()` for each datagram waiting on `fileno`, each tick after the sends;
        before them if `first` (input the stream answers at once, such as T.38's)."""
        if first:
            self._first_poller.register(fileno, select.EPOLLIN)
            self._first_readers[fileno] = read_one
        else:
            self._poller.register(fileno, select.EPOLLIN)
            self._readers[fileno] = read_one

    def unwatch(self, fileno: int) -> None:
        """Stop reading `fileno` (before it is closed)."""
        if self._readers.pop(fileno, None) is not None:
            self._poller.unregister(fileno)
        elif self._first_readers.pop(fileno, None) is not None:
            self._first_poller.unregister(fileno)

    def _tick(self, frame: int) -> None:
        if self._waiting:
            for token in list(itertools.islice(self._waiting, self._starts_per_tick)):
                self._members[token] = self._waiting.pop(token)
            self._snapshot()
        sends, thens = self._sends, self._thens  # those who join now start next tick
        if self._first_readers:
            _read(self._first_poller, self._first_readers)
        if self._readers and time.monotonic() - self.deadline(frame) > self._period:
            # A frame run late, after a stall: what came meanwhile is read first, or the
            # frames played now would miss packets that are waiting in the sockets.
            _read(self._poller, self._readers)
        # Then every stream sends: how many datagrams came (and what reading them costs)
        # moves no stream's packet within the tick, so their intervals stay even. What is
        # read after the sends is used from the next tick on (a jitter buffer delays it
        # anyway).
        for send in sends:
            send(frame)
        if self._readers:
            _read(self._poller, self._readers)
        for then in thens:
            then(frame)

    def _snapshot(self) -> None:
        # Tuples to iterate: a stream may leave (or join) while a tick runs.
        self._sends = tuple(send for send, _ in self._members.values())
        self._thens = tuple(then for _, then in self._members.values() if then is not _nothing)
