"""Group commit: batches gather while a write is under way, and one bad item spoils nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from faxcast.dispatch.group_commit import GroupCommit


class Recorder:
    """A write function that records its batches and can be held or made to fail."""

    def __init__(self, *, bad: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.bad = bad
        self.release = threading.Event()
        self.release.set()

    def write(self, items: list[int]) -> None:
        self.release.wait(timeout=10)
        if self.bad.intersection(items):
            raise ValueError(f"cannot write {sorted(self.bad.intersection(items))}")
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


def test_a_bad_item_fails_alone_and_the_others_are_written() -> None:
    recorder = Recorder(bad=frozenset({3}))
    recorder.release.clear()

    async def main() -> list[BaseException | None]:
        group = GroupCommit(recorder.write)
        first = asyncio.create_task(group.submit(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(group.submit(n)) for n in range(1, 6)]
        await asyncio.sleep(0.05)
        recorder.release.set()
        results = await asyncio.wait_for(
            asyncio.gather(first, *rest, return_exceptions=True), timeout=10
        )
        return list(results)

    results = asyncio.run(main())
    assert [type(r).__name__ if r else None for r in results] == [
        None,
        None,
        None,
        "ValueError",
        None,
        None,
    ]
    assert recorder.batches == [[0], [1], [2], [4], [5]]


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
