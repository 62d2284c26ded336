"""The media pacer on a real event loop: absolute deadlines, bounded catch-up, no drift."""

from __future__ import annotations

import asyncio
import collections
import time

import pytest

from faxcast.sip.pacing import Pacer

PERIOD_S = 0.002  # 500 frames in a second: the 20 ms logic, ten times faster


async def _run(
    frames: int, *, max_lag: int, stall_at: int | None = None, stall_s: float = 0.0
) -> tuple[Pacer, dict[int, tuple[float, int]]]:
    """Run `frames` frames; the pacer, and when (loop clock) and in which wake-up each ran."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    ran: dict[int, tuple[float, int]] = {}

    def tick(frame: int) -> None:
        ran[frame] = (loop.time(), pacer.stats.wakes)
        if frame == stall_at:
            time.sleep(stall_s)  # the loop is blocked, as by a slow neighbour
        if frame + 1 >= frames:
            pacer.stop()
            done.set_result(None)

    pacer = Pacer(tick, period_s=PERIOD_S, max_burst=2, max_lag=max_lag, loop=loop)
    pacer.start()
    await asyncio.wait_for(done, timeout=10)
    return pacer, ran


def test_five_hundred_frames_keep_to_their_deadlines() -> None:
    # A lag of 100 ms, as in production (5 frames of 20 ms): a busy machine stays within it.
    pacer, ran = asyncio.run(_run(500, max_lag=50))
    assert sorted(ran) == list(range(500))  # none skipped, none twice
    # No frame runs before its deadline, and the last is as close to it as the first were:
    # lateness does not build up from frame to frame.
    lateness = [ran[n][0] - pacer.deadline(n) for n in range(500)]
    assert min(lateness) >= -1e-6
    assert lateness[-1] < 0.050
    assert pacer.stats.frames == 500
    assert pacer.stats.skipped == 0


def test_frames_run_at_their_deadline_not_a_rounded_millisecond_later() -> None:
    # asyncio's timers wake up to 1 ms late (its poll timeout is rounded up to milliseconds),
    # 0.5 ms in the middle; the pacer's timer descriptor wakes at the deadline itself.
    pacer, ran = asyncio.run(_run(200, max_lag=50))
    lateness = sorted(ran[n][0] - pacer.deadline(n) for n in range(200))
    assert lateness[0] >= -1e-6
    assert lateness[100] < 0.0003


def test_a_stalled_loop_is_caught_up_in_bounded_bursts_beyond_which_frames_are_skipped() -> None:
    # Blocked for 12 periods at frame 100: at most 5 are caught up (max_lag), the rest skipped.
    pacer, ran = asyncio.run(_run(300, max_lag=5, stall_at=100, stall_s=12 * PERIOD_S))
    assert pacer.stats.skipped >= 12 - 5
    assert pacer.stats.late >= 1
    assert max(ran) == 299
    assert len(ran) + pacer.stats.skipped == 300  # every deadline: run or counted as skipped
    per_wake = collections.Counter(wake for _, wake in ran.values())
    assert max(per_wake.values()) == 2  # caught up, two frames at a time, never more
    assert pacer.stats.wakes == len(per_wake)


@pytest.mark.parametrize(("burst", "lag"), [(0, 5), (3, 2)])
def test_burst_and_lag_bounds_must_make_sense(burst: int, lag: int) -> None:
    async def make() -> None:
        Pacer(lambda _n: None, max_burst=burst, max_lag=lag)

    with pytest.raises(ValueError, match="max_burst"):
        asyncio.run(make())
