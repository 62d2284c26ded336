"""A sandbox line's driver: the FaxLine that places one line's calls on the sandbox network."""

from __future__ import annotations

import enum
from typing import Self

from faxcast.errors import ConflictError
from faxcast.i18n import codes
from faxcast.lines.base import CallResult, FaxJob, FaxLine
from faxcast.lines.sandbox.network import SandboxNetwork


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class SandboxLine(FaxLine):
    """One line's driver: places its calls on the shared network while it is open, as a SIP
    line does while it is registered."""

    def __init__(self, network: SandboxNetwork) -> None:
        self.network = network
        self._state = _State.NEW

    async def __aenter__(self) -> Self:
        if self._state is not _State.NEW:
            raise ConflictError(codes.LINE_OPENED_BEFORE())
        self._state = _State.OPEN
        return self

    async def send(self, job: FaxJob) -> CallResult:
        """Call `job.number` on the sandbox network; only while the line is open."""
        if self._state is _State.NEW:
            raise ConflictError(codes.LINE_NOT_OPEN_YET())
        if self._state is _State.CLOSED:
            raise ConflictError(codes.LINE_CLOSED())
        return await self.network.call(job)

    async def aclose(self) -> None:
        """The line places no more calls."""
        self._state = _State.CLOSED
