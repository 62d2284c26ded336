"""The asyncio worker: claims due recipients, places their calls, records every result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

from faxcast.dispatch.group_commit import GroupCommit
from faxcast.domain.models import Claim, Line
from faxcast.domain.outcome import FailureClass
from faxcast.domain.retry import StepDown, call_cap_s, degraded_profile
from faxcast.domain.station import StationIdentity
from faxcast.errors import DocumentError
from faxcast.fax.engine import Outgoing
from faxcast.lines.base import CallResult, FaxJob, LineDrivers
from faxcast.lines.pool import LinePool
from faxcast.services import campaigns, metrics, outcomes
from faxcast.services.context import Services
from faxcast.services.outcomes import Finished
from faxcast.store import queue

log = logging.getLogger(__name__)

_LEASE_MARGIN_S = 60.0


class Worker:
    """One dispatcher process's worker; many may share a PostgreSQL database."""

    def __init__(
        self,
        svc: Services,
        drivers: LineDrivers,
        *,
        cache_dir: Path,
        max_calls: int | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.svc = svc
        self.lines = LinePool(drivers)  # each line's driver stays open until the worker stops
        self.id = str(uuid.uuid4())
        self.cache_dir = cache_dir
        self.max_calls = max_calls or svc.settings.worker_max_calls
        self._rand = rand
        self._calls: set[asyncio.Task[None]] = set()
        self._registered = False
        self._documents: dict[str, Outgoing] = {}
        self._results = GroupCommit(self._record)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then let the calls in progress finish and close the lines."""
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("dispatcher tick failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.svc.settings.worker_poll_s)
        finally:
            await self.idle()
            await self.lines.aclose()
            if self._registered:
                await asyncio.to_thread(self._unregister)

    async def tick(self) -> int:
        """One pass: heartbeat, start due campaigns, recover lost calls, start new calls."""
        claims = await asyncio.to_thread(self._claim_all)
        for claim in claims:
            task = asyncio.create_task(self._call(claim), name=f"call-{claim.recipient_id}")
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        return len(claims)

    async def idle(self) -> None:
        """Wait until every call this worker started has ended and been recorded."""
        while self._calls:
            await asyncio.gather(*list(self._calls), return_exceptions=True)

    def _claim_all(self) -> list[Claim]:
        svc = self.svc
        now = svc.clock.now()
        with svc.transaction() as conn:
            if self._registered:
                queue.heartbeat(conn, self.id, now=now)
            else:
                queue.register_worker(
                    conn, self.id, hostname=socket.gethostname(), pid=os.getpid(), now=now
                )
                self._registered = True
        campaigns.start_due_campaigns(svc)
        outcomes.recover_abandoned(svc, rand=self._rand)
        claims: list[Claim] = []
        with svc.transaction() as conn:
            work = queue.lines_with_work(conn, now=now)
        for account_id, line_id in work:
            room = self.max_calls - len(self._calls) - len(claims)
            if room <= 0:
                break
            with svc.transaction() as conn:
                claims += queue.claim(
                    conn,
                    account_id=account_id,
                    line_id=line_id,
                    worker_id=self.id,
                    # The claim's own time, not the tick's: a slot freed since the tick began
                    # belongs to a call that has ended, and a claim must not seem to overlap it.
                    now=svc.clock.now(),
                    lease_s=self._lease_s(),
                    most=room,
                )
        metrics.claimed(svc, claims)
        return claims

    def _lease_s(self) -> float:
        return call_cap_s(self.svc.settings.max_pages) + _LEASE_MARGIN_S

    async def _call(self, claim: Claim) -> None:
        try:
            await self._place(claim)
        except Exception:
            # The claim stays in the database: its lease expiring brings it back as an
            # interrupted attempt, so nothing is lost, but say why it happened.
            log.exception("call to %s (recipient %d) failed", claim.number, claim.recipient_id)

    async def _place(self, claim: Claim) -> None:
        svc = self.svc
        try:
            job = await asyncio.to_thread(self._job, claim)
        except DocumentError as error:
            now = svc.clock.now()
            result = CallResult(now, None, now, None, FailureClass.DOCUMENT, str(error), None)
        else:
            try:
                result = await asyncio.wait_for(
                    self._send(claim.line, job), call_cap_s(claim.pages) + _LEASE_MARGIN_S
                )
            except TimeoutError:
                now = svc.clock.now()
                result = CallResult(
                    claim.claimed_at,
                    None,
                    now,
                    None,
                    FailureClass.TRANSFER_FAILED,
                    "the call lasted longer than its cap and was ended",
                    None,
                )
        await self._results.submit(Finished(claim, result, self.id, self._rand()))

    async def _send(self, line: Line, job: FaxJob) -> CallResult:
        """Place the call through the line's open driver (opened now if it is the first)."""
        async with self.lines.driver(line) as driver:
            return await driver.send(job)

    def _job(self, claim: Claim) -> FaxJob:
        document = self._documents.get(claim.tiff_sha256)
        if document is None:
            document = self._documents[claim.tiff_sha256] = self._validated(claim.tiff_sha256)
        if claim.history.pages_confirmed:
            document = Outgoing.from_validated(document, start_page=claim.history.pages_confirmed)
        step = StepDown.after(claim.history.tries)
        return FaxJob(
            number=claim.number,
            document=document,
            profile=degraded_profile(claim.quality.profile, step),
            identity=StationIdentity(claim.line.ident, claim.line.header),
            t38_allowed=step.t38_allowed,
        )

    def _validated(self, sha256: str) -> Outgoing:
        """The blob as a local, checked TIFF-F: SpanDSP reads files, blobs may not be files."""
        path = self.cache_dir / f"{sha256}.tif"
        if not path.exists():
            with self.svc.transaction() as conn:
                data = self.svc.blobs.get(conn, sha256)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            # Unique per write: two calls of this worker may fetch the same document at once.
            partial = path.with_suffix(f".{uuid.uuid4()}.part")
            partial.write_bytes(data)
            partial.replace(path)
        return Outgoing.from_file(path)

    def _record(self, calls: list[Finished]) -> None:
        metrics.recorded(self.svc, calls, outcomes.record_outcomes(self.svc, calls))

    def _unregister(self) -> None:
        with self.svc.transaction() as conn:
            queue.unregister_worker(conn, self.id)
