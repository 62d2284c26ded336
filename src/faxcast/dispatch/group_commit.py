"""Group commit: what many tasks want written goes to the database in few transactions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

OnRetry = Callable[[Exception, int, float], None]
"""Told of each failed write before it is tried again: (error, failures so far, delay in s)."""


@dataclass
class _Entry(Generic[T]):
    item: T
    future: asyncio.Future[None]
    failures: int = 0


class GroupCommit(Generic[T]):
    """Writes items in batches, in a thread: while one batch is written, the next one gathers.

    Nothing waits for a batch to fill: an item alone is written at once, and items that arrive
    while a write is under way go together in the next one. An item whose write fails is kept
    and tried again, alone, after a back-off that doubles up to `retry_max_s`, until it is
    written or its submitter is cancelled: a result is never dropped while the process lives.
    """

    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        retry_first_s: float = 0.05,
        retry_max_s: float = 5.0,
        on_retry: OnRetry | None = None,
    ) -> None:
        self._write = write
        self._retry_first_s = retry_first_s
        self._retry_max_s = retry_max_s
        self._on_retry = on_retry
        self._waiting: list[_Entry[T]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once `item` has been written (after as many tries as that takes)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(_Entry(item, future))
        await future

    def _enqueue(self, entry: _Entry[T]) -> None:
        if entry.future.done():  # its submitter was cancelled meanwhile
            return
        self._waiting.append(entry)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="group-commit")

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[_Entry[T]]) -> None:
        try:
            await asyncio.to_thread(self._write, [entry.item for entry in batch])
        except Exception as error:
            if len(batch) == 1:
                self._retry_later(batch[0], error)
                return
            # One bad item must not cost the others their write: each is tried alone.
            log.warning(
                "a batch of %d writes failed (%s); writing them one by one", len(batch), error
            )
            for entry in batch:
                await self._write_batch([entry])
        else:
            for entry in batch:
                if not entry.future.done():  # its submitter was cancelled
                    entry.future.set_result(None)

    def _retry_later(self, entry: _Entry[T], error: Exception) -> None:
        """The one place a failed write is scheduled again (other items go on meanwhile)."""
        entry.failures += 1
        delay = min(self._retry_max_s, self._retry_first_s * 2 ** (entry.failures - 1))
        if self._on_retry is not None:
            self._on_retry(error, entry.failures, delay)
        asyncio.get_running_loop().call_later(delay, self._enqueue, entry)
