"""Open line drivers: each line's driver is opened at its first call and kept for the next ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from faxcast.domain.models import Line
from faxcast.lines.base import FaxLine, LineDrivers

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Opened:
    """One driver, opened for one version of a line's settings, and the calls using it."""

    line: Line
    opening: asyncio.Task[tuple[FaxLine, contextlib.AsyncExitStack]]
    calls: int = 0
    retired: bool = False  # no new call will use it; it closes when `calls` falls to 0

    async def close(self) -> None:
        try:
            _, stack = await self.opening
        except Exception:
            return  # it never opened, so there is nothing to close
        try:
            await stack.aclose()
        except Exception:
            # Logged, not raised: the calls it carried have ended and their results stand.
            log.exception("closing the driver of line %d failed", self.line.id)


class LinePool:
    """The open driver of every line this worker calls from, each shared by the line's calls.

    A line whose settings changed gets a driver opened for the new ones; the old driver is
    closed once the calls it carries have ended. `aclose()` closes the rest.
    """

    def __init__(self, drivers: LineDrivers) -> None:
        self._drivers = drivers
        self._current: dict[int, _Opened] = {}

    @contextlib.asynccontextmanager
    async def driver(self, line: Line) -> AsyncIterator[FaxLine]:
        """The open driver for `line` as it is set now, held for one call."""
        stale = self._current.get(line.id)
        if stale is not None and stale.line == line:
            opened, stale = stale, None
        else:
            # In place before any await: calls starting meanwhile share this opening.
            opened = _Opened(line, asyncio.create_task(self._open(line)))
            self._current[line.id] = opened
        opened.calls += 1
        try:
            if stale is not None:
                await self._retire(stale)
            try:
                driver, _ = await asyncio.shield(opened.opening)
            except Exception:
                if self._current.get(line.id) is opened:
                    del self._current[line.id]  # the next call tries to open it again
                raise
            yield driver
        finally:
            opened.calls -= 1
            if opened.retired and opened.calls == 0:
                await opened.close()

    async def aclose(self) -> None:
        """Close every driver, each once its calls have ended (the worker has stopped)."""
        current, self._current = self._current, {}
        for opened in current.values():
            await self._retire(opened)

    async def _open(self, line: Line) -> tuple[FaxLine, contextlib.AsyncExitStack]:
        stack = contextlib.AsyncExitStack()
        return await stack.enter_async_context(self._drivers(line)), stack

    @staticmethod
    async def _retire(opened: _Opened) -> None:
        opened.retired = True
        if opened.calls == 0:
            await opened.close()
