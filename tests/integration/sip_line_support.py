"""What the `sip` line tests share: a line pointing at a phone network, jobs, bounded waits."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faxcast.clock import SystemClock
from faxcast.documents import FaxDocument, render_pdf, write_tiff_f
from faxcast.domain.models import Line, LineKind
from faxcast.domain.quality import Quality
from faxcast.domain.sip_line import SipLineSettings
from faxcast.domain.station import StationIdentity
from faxcast.fax.engine import Outgoing
from faxcast.lines.base import FaxJob
from faxcast.lines.phonenet import PhoneNetwork, ReceivedCall
from faxcast.lines.sip.line import SipLine
from faxcast.sip.transaction import Timers
from tests import pdfs

HOST = "127.0.0.1"
NORMAL = Quality.NORMAL.profile
HEALTHY = "+33123456789"
CALL_TIMEOUT_S = 120.0
# Timer B (64*T1) at 6.4 s: a peer that never answers fails the call in seconds, not 32 s.
FAST_TIMERS = Timers(t1=0.1, t2=0.4)


def sip_line(address: tuple[str, int], channels: int = 1, **settings: Any) -> Line:
    """A `sip` line whose trunk is `address` (on loopback), with `settings` changed."""
    defaults: dict[str, Any] = {
        "local_address": HOST,
        "rtp_port_min": 30000,
        "rtp_port_max": 30999,
        "ring_timeout_s": 10,
    }
    sip = SipLineSettings(address[0], address[1], **(defaults | settings))
    created = datetime(2026, 12, 1, tzinfo=UTC)
    return Line(1, 1, "Trunk", LineKind.SIP, "FR", "", "", channels, created, sip=sip)


@dataclasses.dataclass(frozen=True)
class Document:
    """A rendered document, as sent, and its job."""

    sent: FaxDocument
    outgoing: Outgoing

    def job(self, number: str = HEALTHY, *, t38_allowed: bool = True) -> FaxJob:
        identity = StationIdentity("+33 1 00 00 00 00")  # no header line: pages compare whole
        return FaxJob(number, self.outgoing, NORMAL, identity, t38_allowed)


def document(folder: Path, pdf: bytes | None = None) -> Document:
    """A short page at normal quality (or `pdf`), rendered and written as TIFF-F."""
    sent = render_pdf(pdf or pdfs.short_page_pdf(), NORMAL.resolution)
    path = folder / "sent.tif"
    path.write_bytes(write_tiff_f(sent))
    return Document(sent, Outgoing.from_file(path))


@asynccontextmanager
async def phone_network(folder: Path, **options: Any) -> AsyncIterator[PhoneNetwork]:
    network = PhoneNetwork(folder, **options)
    await network.start(HOST, 0)
    try:
        yield network
    finally:
        await network.close()


@asynccontextmanager
async def opened(line: Line, timers: Timers | None = None) -> AsyncIterator[SipLine]:
    async with SipLine(line, SystemClock(), timers=timers) as driver:
        yield driver


async def received_by(
    network: PhoneNetwork, count: int, timeout_s: float = 15.0
) -> list[ReceivedCall]:
    """The network's first `count` received calls, once it has finished them (bounded)."""
    async with asyncio.timeout(timeout_s):
        while len(network.received) < count:
            await asyncio.sleep(0.05)
    return network.received
