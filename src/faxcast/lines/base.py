"""The seam between the dispatcher and a way of placing fax calls."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from faxcast.documents.header import HeaderLine
from faxcast.domain.models import Line
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import FaxProfile
from faxcast.domain.retry import call_cap_s
from faxcast.domain.station import StationIdentity
from faxcast.fax.engine import Outgoing
from faxcast.fax.result import FaxResult


@dataclass(frozen=True)
class FaxJob:
    """One call to place: a number, the validated document (from its start page) and how;
    `header` is the line the call draws on top of each page (None: the pages as they are)."""

    number: str
    document: Outgoing
    profile: FaxProfile
    identity: StationIdentity
    t38_allowed: bool = True
    header: HeaderLine | None = None

    @property
    def cap_s(self) -> float:
        """The watchdog's cap on this call, for the pages it sends."""
        return call_cap_s(self.document.bits_to_send, self.profile)


@contextlib.asynccontextmanager
async def sent_document(job: FaxJob, sent_at: datetime) -> AsyncIterator[Outgoing]:
    """The document as this call sends it: the job's with its header line drawn in, a copy
    made in a thread before the call's media starts (its header has the time of sending),
    removed after the call; the job's own when it has no header."""
    if job.header is None:
        yield job.document
        return
    # A call cancelled while its copy is made leaves the thread writing it: its removal must
    # not fail the cancellation.
    with tempfile.TemporaryDirectory(prefix="faxcast-call-", ignore_cleanup_errors=True) as folder:
        path = Path(folder) / "sent.tif"
        yield await asyncio.to_thread(job.document.with_header, job.header, sent_at, path)


@dataclass(frozen=True)
class CallResult:
    """What one call achieved; `fax` is None when no fax session took place."""

    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    sip_status: int | None
    failure: FailureClass | None
    reason: str
    fax: FaxResult | None
    received_tiff: bytes | None = None

    @property
    def delivered(self) -> bool:
        """True when the far end confirmed every page of the document."""
        return self.failure is None and self.fax is not None and self.fax.success


class FaxLine(abc.ABC):
    """Places fax calls from one line, between being opened (`async with`) and `aclose()`.

    Opening is where a driver takes what it holds for the line's lifetime (sockets, a SIP
    registration). A call's failure is a result, never an exception.
    """

    async def __aenter__(self) -> Self:
        """Open the line: a driver takes here what it keeps until `aclose()`."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the line (`aclose()`)."""
        await self.aclose()

    @abc.abstractmethod
    async def send(self, job: FaxJob) -> CallResult:
        """Call `job.number` and fax the document; returns when the call has ended."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Give back what the line holds; its calls have ended."""


LineDrivers = Callable[[Line], FaxLine]
"""Makes the (not yet opened) driver for a line as its settings are now."""
