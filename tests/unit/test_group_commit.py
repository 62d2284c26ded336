"""Group commit: batches gather while a write is under way, and one bad item spoils nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from faxcast.dispatch.group_commit import GroupCommit


class Recorder:
    """A write function that records its batches and can be held or made to fail.

    `bad` maps an item to how many of its writes fail before one succeeds.
    """

    def __init__(self, *, bad: dict[int, int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.bad = dict(bad or {})
        self.release = threading.Event()
        self.release.set()

    def write(self, items: list[int]) -> None:
        self.release.wait(timeout=10)
        failing = sorted(item for item in items if self.bad.get(item, 0) > 0)
        if failing:
            for item in failing:
                self.bad[item] -= 1
            raise ValueError(f"cannot write {failing}")
        self.batches.append(list(items))


def test_an_item_alone_is_written_at_once() -> None:
    recorder = Recorder()

    async def main() -> None:
        await asyncio.wait_for(GroupCommit(recorder.write).submit(1), timeout=10)

    asyncio.run(main())
    assert recorder.batches == [[1]]


def test_items_that_arrive_during_a_write_go_together_in_the_next() -> None:
    recorder = Recorder()
    recorder.release.clear()

    async def main() -> None:
        group = GroupCommit(recorder.write)
        first = asyncio.create_task(group.submit(0))
        await asyncio.sleep(0.05)  # the first write has begun and is held
        rest = [asyncio.create_task(group.submit(n)) for n in range(1, 6)]
        await asyncio.sleep(0.05)
        recorder.release.set()
        await asyncio.wait_for(asyncio.gather(first, *rest), timeout=10)

    asyncio.run(main())
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]


def test_a_failed_item_is_tried_again_alone_until_written_and_the_others_go_on() -> None:
    recorder = Recorder(bad={3: 3})
    recorder.release.clear()
    retries: list[tuple[str, int, float]] = []

    async def main() -> None:
        group = GroupCommit(
            recorder.write,
            retry_first_s=0.01,
            retry_max_s=0.02,
            on_retry=lambda error, failures, delay: retries.append((str(error), failures, delay)),
        )
        first = asyncio.create_task(group.submit(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(group.submit(n)) for n in range(1, 6)]
        await asyncio.sleep(0.05)
        recorder.release.set()
        await asyncio.wait_for(asyncio.gather(first, *rest), timeout=10)

    asyncio.run(main())
    # The batch fails (first failure of 3), then 3 alone fails twice more, backing off.
    assert retries == [("cannot write [3]", 1, 0.01), ("cannot write [3]", 2, 0.02)]
    assert recorder.batches == [[0], [1], [2], [4], [5], [3]]


def test_a_group_serves_one_event_loop_after_another() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.write)
    for n in range(3):
        asyncio.run(asyncio.wait_for(group.submit(n), timeout=10))
    assert recorder.batches == [[0], [1], [2]]


@pytest.mark.parametrize("count", [1, 64])
def test_every_submitter_returns_once_its_item_is_written(count: int) -> None:
    recorder = Recorder()

    async def main() -> None:
        group = GroupCommit(recorder.write)
        await asyncio.wait_for(asyncio.gather(*(group.submit(n) for n in range(count))), timeout=10)

    asyncio.run(main())
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(count))
