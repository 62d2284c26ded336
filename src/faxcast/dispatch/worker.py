"""The asyncio worker: claims due recipients, places their calls, records every result."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from faxcast.dispatch.group_commit import GroupCommit
from faxcast.documents.header import HeaderLine
from faxcast.domain.models import Claim, Line
from faxcast.domain.outcome import FailureClass
from faxcast.domain.retry import StepDown, degraded_profile
from faxcast.domain.station import StationIdentity
from faxcast.errors import DocumentError
from faxcast.fax.engine import Outgoing
from faxcast.lines.base import CallResult, FaxJob, LineDrivers
from faxcast.lines.pool import LinePool
from faxcast.services import campaigns, metrics, outcomes
from faxcast.services.context import Services
from faxcast.services.outcomes import HUNG_UP, Finished
from faxcast.store import queue

log = logging.getLogger(__name__)


class Worker:
    """One dispatcher process's worker; many may share a PostgreSQL database.

    Liveness, and when a claim may pass to another worker, is decided here and nowhere else:

    - a claim is leased for `dead_worker_s`; a side task (`keep-claims`), not the tick, renews
      the leases of the worker's calls every beat (`heartbeat_s`, at most a third of the lease),
      while it claims and while it drains after a stop, as long as a call runs or its result
      waits to be written;
    - recovery (`outcomes.recover_abandoned`) takes only a claim whose lease has expired, or
      whose worker is known gone (a dead process on the same host, checked every poll);
    - a worker that has not renewed a claim one beat before its lease expires hangs that call
      up itself (self-fencing), so by the time others may take it, it is no longer calling.
      Its result, like any result recorded after its claim was recovered, is still written:
      it replaces the interrupted attempt, and a delivery still settles its recipient;
    - a process paused longer than its lease (SIGSTOP) cannot fence itself while paused, and
      hangs up the moment it runs again. So a call recovered because its lease expired (not a
      dead process's) stays held: its channel busy for claims on its line, its number skipped
      and its retry not due, until its late result is recorded or its longest end (claim time
      + the watchdog's cap for its pages + `outcomes.CAP_MARGIN_S`), whichever comes first.

    Hosts' clocks must agree to better than a beat.
    """

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
        # Every claim this worker holds, by recipient: its call, then the writing of its result.
        self._calls: dict[int, asyncio.Task[None]] = {}
        self._lease_until: dict[int, datetime] = {}  # as far as this worker knows
        self._ended: set[int] = set()  # calls over, results waiting to be written
        self._hung_up: set[int] = set()  # calls this worker ended because it lost their claim
        self._registered = False
        self._host = host_identity()
        self._next_poll = 0.0  # the event loop's time of the next poll pass (run sets it)
        # Set when a call's task is over (its result written): its channel may be claimed again.
        self._wake = asyncio.Event()
        self._documents: dict[str, Outgoing] = {}
        self._results = GroupCommit(
            self._record,
            retry_max_s=svc.settings.record_retry_max_s,
            on_retry=self._record_failed,
        )

    @property
    def lease_s(self) -> float:
        """How long a claim stays this worker's without a renewal."""
        return self.svc.settings.dead_worker_s

    @property
    def beat_s(self) -> float:
        """How often the worker renews its leases; also how early it hangs up an unrenewed call."""
        return min(self.svc.settings.heartbeat_s, self.lease_s / 3)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then let the calls in progress finish and close the lines."""
        drained = asyncio.Event()
        keeper = asyncio.create_task(self._keep_claims(drained), name="keep-claims")
        poll_s = self.svc.settings.worker_poll_s
        loop = asyncio.get_running_loop()
        self._next_poll = loop.time()
        try:
            while not stop.is_set():
                if keeper.done():
                    # Nothing renews the leases any more: stop claiming, hang up what runs.
                    log.error("the worker's lease keeper died (%r); it stops", keeper.exception())
                    self._hang_up(list(self._calls))
                    break
                # Calls ending during the tick wake the next one; a wake that claims nothing
                # waits for the next call to end or the poll: no spin while nothing is due.
                self._wake.clear()
                # The scheduler and recovery run on the poll, every poll_s however often
                # calls end: a woken pass only claims the channels they freed.
                polled = loop.time() >= self._next_poll
                if polled:
                    self._next_poll = loop.time() + poll_s
                try:
                    await self.tick(maintain=polled)
                except Exception:
                    log.exception("dispatcher tick failed; trying again")
                await self._nap(stop)
        finally:
            await self.idle()
            drained.set()
            # Its failure, if it died, was logged above; the lines are closed all the same.
            await asyncio.gather(keeper, return_exceptions=True)
            await self.lines.aclose()
            if self._registered:
                await asyncio.to_thread(self._unregister)

    async def _nap(self, stop: asyncio.Event) -> None:
        """Wait for a stop, a call's end, or the poll (work other processes create)."""
        timeout_s = max(0.0, self._next_poll - asyncio.get_running_loop().time())
        waits = [
            asyncio.create_task(stop.wait(), name="wait-stop"),
            asyncio.create_task(self._wake.wait(), name="wait-call-end"),
        ]
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def tick(self, *, maintain: bool = True) -> int:
        """One pass: start due campaigns and recover lost calls (unless `maintain` is False: a
        pass woken to claim freed channels), then start new calls; how many."""
        if maintain or not self._registered:
            await asyncio.to_thread(self._maintain)
        claims = await asyncio.to_thread(self._claim_all)
        for claim in claims:
            task = asyncio.create_task(self._call(claim), name=f"call-{claim.recipient_id}")
            self._calls[claim.recipient_id] = task
            # queue.claim leased it for lease_s from its claim time.
            self._lease_until[claim.recipient_id] = claim.claimed_at + timedelta(
                seconds=self.lease_s
            )
            task.add_done_callback(functools.partial(self._forget, claim.recipient_id))
        return len(claims)

    async def idle(self) -> None:
        """Wait until every call this worker started has ended and been recorded."""
        while self._calls:
            await asyncio.gather(*list(self._calls.values()), return_exceptions=True)

    def _forget(self, recipient_id: int, _: asyncio.Task[None]) -> None:
        self._calls.pop(recipient_id, None)
        self._lease_until.pop(recipient_id, None)
        self._ended.discard(recipient_id)
        self._hung_up.discard(recipient_id)
        self._wake.set()

    async def _keep_claims(self, drained: asyncio.Event) -> None:
        """The side task that keeps the worker's claims: renew their leases, fence the late.

        A renewal runs in a thread and may hang (the database unreachable): the fence check
        does not wait for it.
        """
        renewal: asyncio.Task[None] | None = None
        while True:
            if renewal is None or renewal.done():
                renewal = asyncio.create_task(self._renew(), name="renew-leases")
            self._hang_up_overdue()
            if drained.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drained.wait(), self.beat_s)
        await renewal

    async def _renew(self) -> None:
        held = sorted(self._calls)
        now = self.svc.clock.now()
        try:
            renewed = await asyncio.to_thread(self._renew_leases, held, now)
        except Exception as error:
            log.warning("could not renew the leases of %d calls: %s", len(held), error)
            return
        until = now + timedelta(seconds=self.lease_s)
        # A call whose result was written (or is being written) while renewing is over, not lost.
        lost = [
            recipient_id
            for recipient_id in held
            if recipient_id not in renewed
            and recipient_id in self._calls
            and recipient_id not in self._ended
        ]
        for recipient_id in renewed:
            if recipient_id in self._lease_until:
                self._lease_until[recipient_id] = until
        if lost:
            log.warning("the claims on recipients %s were lost; hanging up their calls", lost)
            self._hang_up(lost)

    def _renew_leases(self, held: list[int], now: datetime) -> set[int]:
        with self.svc.transaction() as conn:
            if self._registered:
                queue.heartbeat(conn, self.id, now=now)
            return queue.renew_leases(conn, self.id, held, now=now, lease_s=self.lease_s)

    def _hang_up_overdue(self) -> None:
        """Hang up every call whose lease ends within a beat and was not renewed."""
        fence = self.svc.clock.now() + timedelta(seconds=self.beat_s)
        overdue = [rid for rid, until in self._lease_until.items() if until <= fence]
        if overdue:
            log.warning("could not renew the claims on recipients %s; hanging up", overdue)
            self._hang_up(overdue)

    def _hang_up(self, recipient_ids: list[int]) -> None:
        for recipient_id in recipient_ids:
            task = self._calls.get(recipient_id)
            calling = recipient_id not in self._ended and recipient_id not in self._hung_up
            if task is not None and calling:
                self._hung_up.add(recipient_id)
                task.cancel()

    def _maintain(self) -> None:
        """Register (the first time), start due campaigns, recover lost calls."""
        svc = self.svc
        now = svc.clock.now()
        host = self._host
        with svc.transaction() as conn:
            if not self._registered:
                queue.register_worker(conn, self.id, hostname=host, pid=os.getpid(), now=now)
            # A worker of this host whose process is gone (a predecessor, or a neighbour
            # killed while this one runs) is calling no more: its calls are recovered now,
            # and not held as a paused process's must be.
            gone = [
                worker_id
                for worker_id, pid in queue.workers_on_host(conn, host, self.id)
                if pid != os.getpid() and not _alive(pid)
            ]
        self._registered = True
        campaigns.start_due_campaigns(svc)
        outcomes.recover_abandoned(svc, rand=self._rand, gone=gone)

    def _claim_all(self) -> list[Claim]:
        svc = self.svc
        claims: list[Claim] = []
        with svc.transaction() as conn:
            work = queue.lines_with_work(conn, now=svc.clock.now())
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
                    lease_s=self.lease_s,
                    most=room,
                )
        metrics.claimed(svc, claims)
        return claims

    async def _call(self, claim: Claim) -> None:
        try:
            await self._place(claim)
        except Exception:
            # Its lease, no longer renewed, expires and brings it back as an interrupted
            # attempt, so nothing is lost; but say why it happened.
            log.exception("call to %s (recipient %d) failed", claim.number, claim.recipient_id)

    async def _place(self, claim: Claim) -> None:
        try:
            result = await self._dial(claim)
        except asyncio.CancelledError:
            if claim.recipient_id not in self._hung_up:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            now = self.svc.clock.now()
            result = CallResult(
                claim.claimed_at, None, now, None, FailureClass.TRANSFER_FAILED, HUNG_UP, None
            )
        self._ended.add(claim.recipient_id)
        await self._results.submit(Finished(claim, result, self.id, self._rand()))

    async def _dial(self, claim: Claim) -> CallResult:
        svc = self.svc
        try:
            # A document checked before needs no file or database work: its job is built here
            # (microseconds), not in a thread, which costs more than the job itself.
            if claim.tiff_sha256 in self._documents:
                job = self._job(claim)
            else:
                job = await asyncio.to_thread(self._job, claim)
        except DocumentError as error:
            now = svc.clock.now()
            return CallResult(now, None, now, None, FailureClass.DOCUMENT, str(error), None)
        # DESIGN.md's watchdog, counted from the claim: recovery holds the call's channel and
        # number until then at most.
        cap_s = (outcomes.longest_end(claim) - svc.clock.now()).total_seconds()
        try:
            return await asyncio.wait_for(self._send(claim.line, job), cap_s)
        except TimeoutError:
            now = svc.clock.now()
            return CallResult(
                claim.claimed_at,
                None,
                now,
                None,
                FailureClass.TRANSFER_FAILED,
                "the call lasted longer than its cap and was ended",
                None,
            )

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
        identity = StationIdentity(claim.line.ident, claim.line.header)
        return FaxJob(
            number=claim.number,
            document=document,
            profile=degraded_profile(claim.quality.profile, step),
            identity=identity,
            t38_allowed=step.t38_allowed,
            header=HeaderLine.of(identity, claim.timezone, claim.language),
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

    def _record_failed(self, error: Exception, failures: int, delay_s: float) -> None:
        """A result could not be written: it is kept and tried again (the record retries)."""
        self.svc.metrics.record_retried()
        log.warning(
            "recording a call's result failed (%s, %d times); trying again in %.2f s",
            error,
            failures,
            delay_s,
        )

    def _unregister(self) -> None:
        with self.svc.transaction() as conn:
            queue.unregister_worker(conn, self.id)


def host_identity() -> str:
    """Where this process's pid means something: the host name and its pid namespace.

    Containers may share a host name (host networking) yet not their pids: a worker judges
    only the processes it can see.
    """
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux: the host name alone
        return socket.gethostname()
    return f"{socket.gethostname()} {namespace}"


def _alive(pid: int) -> bool:
    """Whether a process of this host with this pid exists (signal 0 only asks)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True
