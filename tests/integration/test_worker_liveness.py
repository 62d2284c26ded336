"""A worker's claims live by leases it renews; whatever happens to it, no call is placed twice.

Real worker and database (SQLite and PostgreSQL), a ManualClock the tests move, and a line whose
calls last until the test ends them (or the worker hangs them up). Faults are injected on the
real path, as SQLAlchemy events that refuse a statement.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, Engine, event, select, update
from sqlalchemy.exc import OperationalError

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker, host_identity
from faxcast.domain.campaign import SendType
from faxcast.domain.models import Claim, Line
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.retry import call_cap_s
from faxcast.errors import ConflictError
from faxcast.lines.base import CallResult, FaxJob, FaxLine
from faxcast.services import accounts, campaigns, documents, metrics, outcomes
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.services.outcomes import Finished
from faxcast.store import queue
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts, lines, recipients, workers
from faxcast.store.tables import campaigns as campaigns_table
from tests import calls, pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LEASE_S = 3.0  # dead_worker_s
BEAT_S = 0.1  # heartbeat_s: the keeper's period (real time) and its margin (clock time)
WAIT_S = 15.0


@dataclasses.dataclass
class Site:
    """An account, a one-page letter, a line whose calls the test holds, and a worker."""

    svc: Services
    clock: ManualClock
    account_id: int
    line: Line
    pdf_id: int
    worker: Worker
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    started: list[str] = dataclasses.field(default_factory=list)
    hung_up: list[str] = dataclasses.field(default_factory=list)

    def launch(self, count: int) -> int:
        numbers = ",".join(f"01 23 45 67 {n:02d}" for n in range(count))
        new = NewCampaign("Relance", self.pdf_id, Quality.HIGH, SendType.MANUAL, None, numbers)
        created = campaigns.create_campaign(self.svc, self.account_id, self.line.id, new)
        return campaigns.launch_campaign(self.svc, self.account_id, self.line.id, created.id).id

    def rows(self, table: Any) -> list[Any]:
        with self.svc.transaction() as conn:
            return list(conn.execute(select(table)).all())

    def recover(self) -> int:
        """Recovery as any other worker runs it, at the clock's time."""
        return outcomes.recover_abandoned(self.svc, rand=lambda: 0.5)


class HeldLine(FaxLine):
    """Each call lasts until `site.release` is set, then delivers; a hang-up is written down."""

    def __init__(self, site: list[Site]) -> None:
        self.site = site

    async def send(self, job: FaxJob) -> CallResult:
        site = self.site[0]
        site.started.append(job.number)
        try:
            await site.release.wait()
        except asyncio.CancelledError:
            site.hung_up.append(job.number)
            raise
        return calls.delivered(1, site.clock.now())

    async def aclose(self) -> None:
        """Nothing to give back."""


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    engine = create_engine_for(database_url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        channel_limit=4,
        worker_poll_s=0.02,
        dead_worker_s=LEASE_S,
        heartbeat_s=BEAT_S,
        record_retry_max_s=0.2,
    )
    clock = ManualClock(NOW)
    svc = Services(engine, DatabaseBlobStore(), clock, settings)
    account = accounts.create_account(svc, name="ACME Paris")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    holder: list[Site] = []
    worker = Worker(svc, lambda _: HeldLine(holder), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    holder.append(Site(svc, clock, account.id, line, pdf.id, worker))
    yield holder[0]
    engine.dispose()


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until `check()`, run in a thread since it may read the database."""
    for _ in range(int(WAIT_S / 0.01)):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def running(site: Site, scenario: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run the worker while `scenario(stop)` plays; the worker is stopped and awaited after."""
    stop = asyncio.Event()
    task = asyncio.create_task(site.worker.run(stop))
    try:
        await scenario(stop)
    finally:
        stop.set()
        site.release.set()
        await asyncio.wait_for(task, WAIT_S)


@contextmanager
def refused(engine: Engine, statement: str, *, times: int | None = None) -> Iterator[list[str]]:
    """Statements starting with `statement` fail (the first `times` only); yields those refused."""
    refusals: list[str] = []

    def refuse(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.lstrip().startswith(statement) and (times is None or len(refusals) < times):
            refusals.append(sql)
            raise RuntimeError(f"injected failure: {statement}")

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield refusals
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def _leases(site: Site) -> list[datetime]:
    return [r.lease_expires_at for r in site.rows(recipients) if r.state == "in_call"]


def _renewed_to(site: Site, leases: list[datetime]) -> bool:
    return _leases(site) == leases


def test_a_draining_worker_keeps_its_claims_past_the_lease_and_nobody_takes_them(
    site: Site,
) -> None:
    campaign_id = site.launch(3)

    async def scenario(stop: asyncio.Event) -> None:
        await until(lambda: len(site.started) == 3, "three calls in progress")
        stop.set()  # SIGTERM: the worker lets its calls end
        for _ in range(4 * int(LEASE_S)):  # four leases long, a second at a time
            site.clock.advance(timedelta(seconds=1))
            renewed = [site.clock.now() + timedelta(seconds=LEASE_S)] * 3
            await until(functools.partial(_renewed_to, site, renewed), "the leases renewed")
            assert await asyncio.to_thread(site.recover) == 0
        assert site.hung_up == []
        site.release.set()

    asyncio.run(running(site, scenario))

    made = site.rows(attempts)
    assert [(a.delivered, a.reason) for a in made] == [(True, "delivered")] * 3
    assert {r.state for r in site.rows(recipients)} == {"delivered"}
    campaign = campaigns.get_campaign(site.svc, site.account_id, site.line.id, campaign_id)
    assert (campaign.state.value, campaign.count_delivered) == ("finished", 3)


def test_a_worker_that_cannot_renew_hangs_up_before_anyone_may_take_its_calls(
    site: Site,
) -> None:
    site.launch(2)

    async def scenario(stop: asyncio.Event) -> None:
        await until(lambda: len(site.started) == 2, "two calls in progress")
        lease_end = min(_leases(site))
        assert lease_end == NOW + timedelta(seconds=LEASE_S)
        with refused(site.svc.engine, "UPDATE recipients SET lease_expires_at") as refusals:
            # Cut from the database for its renewals: two beats before the end, it still calls.
            site.clock.set(lease_end - timedelta(seconds=2 * BEAT_S))
            await until(lambda: len(refusals) >= 2, "renewals refused")
            assert site.hung_up == []
            # One beat before the lease ends, it hangs up: nobody may take the calls yet.
            site.clock.set(lease_end - timedelta(seconds=BEAT_S))
            await until(lambda: len(site.hung_up) == 2, "the calls hung up")
            assert site.clock.now() < lease_end
            assert await asyncio.to_thread(site.recover) == 0
            await until(lambda: not _leases(site), "the hung-up calls recorded")

    asyncio.run(running(site, scenario))

    made = site.rows(attempts)
    assert [(a.delivered, a.failure, a.reason) for a in made] == [
        (False, "transfer_failed", outcomes.HUNG_UP)
    ] * 2
    assert all(a.ended_at < NOW + timedelta(seconds=LEASE_S) for a in made)
    assert {r.state for r in site.rows(recipients)} == {"pending"}  # the retry policy decides


def test_a_refused_result_write_is_retried_and_the_fax_recorded_once(site: Site) -> None:
    campaign_id = site.launch(1)
    site.release.set()

    async def scenario(stop: asyncio.Event) -> None:
        def finished() -> bool:
            current = campaigns.get_campaign(site.svc, site.account_id, site.line.id, campaign_id)
            return current.state.value == "finished"

        await until(finished, "the campaign finished")

    with refused(site.svc.engine, "INSERT INTO attempts", times=1) as refusals:
        asyncio.run(running(site, scenario))

    assert len(refusals) == 1
    assert site.svc.metrics.registry.get_sample_value("faxcast_record_retries_total") == 1
    assert [(a.delivered, a.reason) for a in site.rows(attempts)] == [(True, "delivered")]
    assert [(r.state, r.worker_id) for r in site.rows(recipients)] == [("delivered", None)]
    campaign = campaigns.get_campaign(site.svc, site.account_id, site.line.id, campaign_id)
    assert (campaign.count_delivered, campaign.count_failed) == (1, 0)


_WROTE_ATTEMPT = "test: wrote an attempt"


@dataclasses.dataclass(frozen=True)
class CommitThenFail(Services):
    """The first transaction that writes an attempt commits, then reports an error.

    As when the connection drops just after COMMIT: the write took, its writer hears it failed.
    """

    reported: list[str] = dataclasses.field(default_factory=list)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with super().transaction() as conn:
            conn.info.pop(_WROTE_ATTEMPT, None)
            yield conn
            wrote = conn.info.pop(_WROTE_ATTEMPT, False)
        if wrote and not self.reported:
            self.reported.append("committed, reported failed")
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))


def test_a_result_write_that_committed_but_reported_an_error_is_recorded_once(
    site: Site, tmp_path: Path
) -> None:
    svc = CommitThenFail(site.svc.engine, site.svc.blobs, site.clock, site.svc.settings)
    holder: list[Site] = []
    worker = Worker(svc, lambda _: HeldLine(holder), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    flaky = dataclasses.replace(site, svc=svc, worker=worker)
    holder.append(flaky)
    campaign_id = flaky.launch(1)
    flaky.release.set()

    def note_attempts(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("INSERT INTO attempts"):
            conn.info[_WROTE_ATTEMPT] = True

    async def scenario(stop: asyncio.Event) -> None:
        await until(lambda: svc.reported != [], "a write committed and reported failed")
        await until(
            lambda: (
                svc.metrics.registry.get_sample_value("faxcast_attempts_total", _DELIVERED) == 1
            ),
            "the result written again",
        )

    event.listen(svc.engine, "before_cursor_execute", note_attempts)
    try:
        asyncio.run(running(flaky, scenario))
    finally:
        event.remove(svc.engine, "before_cursor_execute", note_attempts)

    assert svc.metrics.registry.get_sample_value("faxcast_record_retries_total") == 1
    assert [(a.delivered, a.reason) for a in flaky.rows(attempts)] == [(True, "delivered")]
    assert [(r.state, r.worker_id) for r in flaky.rows(recipients)] == [("delivered", None)]
    campaign = campaigns.get_campaign(svc, site.account_id, site.line.id, campaign_id)
    assert (campaign.state.value, campaign.count_delivered, campaign.count_failed) == (
        "finished",
        1,
        0,
    )


_DELIVERED = {"outcome": "delivered", "failure": "none"}


def test_a_restart_recovers_a_dead_same_host_predecessors_calls_at_once(site: Site) -> None:
    site.launch(3)
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait(timeout=60)
    alive = subprocess.Popen(["sleep", "60"])
    here = host_identity()
    # Same host name, another pid namespace (a container on the host's network): its pid
    # means nothing here, so it is judged by its lease only.
    elsewhere = f"{here.split()[0]} pid:[1]"
    try:
        with site.svc.transaction() as conn:
            for worker_id, host, pid in (
                ("gone", here, gone.pid),
                ("alive", here, alive.pid),
                ("elsewhere", elsewhere, gone.pid),
            ):
                queue.register_worker(conn, worker_id, hostname=host, pid=pid, now=NOW)
                queue.claim(
                    conn,
                    account_id=site.account_id,
                    line_id=site.line.id,
                    worker_id=worker_id,
                    now=NOW,
                    lease_s=LEASE_S,
                    most=1,
                )
        site.clock.advance(timedelta(seconds=1))  # leases and heartbeats all fresh

        assert asyncio.run(site.worker.tick()) == 0  # the recovered call's retry is not due

        by_worker = {r.worker_id: r for r in site.rows(recipients)}
        assert set(by_worker) == {None, "alive", "elsewhere"}
        assert [by_worker[w].state for w in (None, "alive", "elsewhere")] == [
            "pending",
            "in_call",
            "in_call",
        ]
        made = site.rows(attempts)
        assert [(a.recipient_id, a.reason) for a in made] == [
            (by_worker[None].id, outcomes.INTERRUPTED)
        ]
        assert made[0].ended_at == NOW + timedelta(seconds=1)
        assert {w.id for w in site.rows(workers)} == {"alive", "elsewhere", site.worker.id}
    finally:
        alive.kill()
        alive.wait(timeout=60)


def test_a_same_host_worker_killed_while_others_run_is_recovered_at_the_next_poll(
    site: Site,
) -> None:
    assert asyncio.run(site.worker.tick()) == 0  # registered long before the other dies
    site.launch(3)
    killed = subprocess.Popen([sys.executable, "-c", ""])
    killed.wait(timeout=60)
    with site.svc.transaction() as conn:
        queue.register_worker(conn, "killed", hostname=host_identity(), pid=killed.pid, now=NOW)
    taken = _claim(site, "killed", 3)
    site.clock.advance(timedelta(seconds=1))  # its leases are fresh: only its pid tells

    assert asyncio.run(site.worker.tick()) == 0  # the recovered calls' retries are not due

    rows = {r.id: r for r in _recipients(site)}
    assert [(rows[c.recipient_id].state, rows[c.recipient_id].held_until) for c in taken] == [
        ("pending", None)
    ] * len(taken)
    made = site.rows(attempts)
    assert sorted((a.recipient_id, a.reason) for a in made) == sorted(
        (c.recipient_id, outcomes.INTERRUPTED) for c in taken
    )


def test_a_delivery_recorded_after_recovery_replaces_the_interrupted_attempt(
    site: Site,
) -> None:
    campaign_id = site.launch(1)
    with site.svc.transaction() as conn:
        [claim] = queue.claim(
            conn,
            account_id=site.account_id,
            line_id=site.line.id,
            worker_id="paused",
            now=NOW,
            lease_s=LEASE_S,
            most=1,
        )
    site.clock.advance(timedelta(seconds=LEASE_S + 1))
    assert site.recover() == 1  # SIGSTOP outlived the lease
    [interrupted] = site.rows(attempts)
    assert interrupted.reason == outcomes.LEASE_LOST

    # The paused worker runs again; its call had delivered.
    late = Finished(claim, calls.delivered(1, site.clock.now()), "paused", 0.5)
    outcomes.record_outcomes(site.svc, [late])

    assert [(a.delivered, a.reason) for a in site.rows(attempts)] == [(True, "delivered")]
    assert [r.state for r in site.rows(recipients)] == ["delivered"]
    with site.svc.transaction() as conn:
        campaign = conn.execute(
            select(campaigns_table).where(campaigns_table.c.id == campaign_id)
        ).one()
    assert (campaign.state, campaign.count_delivered, campaign.count_failed) == (
        "finished",
        1,
        0,
    )


@pytest.mark.parametrize(
    ("other", "status_before", "status_after"),
    [(None, "error", "success"), (True, "partial", "success"), (False, "error", "partial")],
    ids=["alone", "beside-a-delivery", "beside-a-failure"],
)
def test_a_late_delivery_settles_a_recipient_failed_meanwhile_and_the_campaigns_status(
    site: Site, other: bool | None, status_before: str, status_after: str
) -> None:
    campaign_id = site.launch(1 if other is None else 2)
    [paused] = _claim(site, "paused", 1)
    if other is not None:
        [claim] = _claim(site, "other", 1)
        now = site.clock.now()
        result = (
            calls.delivered(1, now)
            if other
            else CallResult(now, None, now, 404, FailureClass.PERMANENT, "SIP 404", None)
        )
        outcomes.record_outcomes(site.svc, [Finished(claim, result, "other", 0.5)])
    # The paused worker outlives its lease and the kill time: recovery fails its recipient.
    site.clock.advance(timedelta(hours=4))
    assert site.recover() == 1
    failed = campaigns.get_campaign(site.svc, site.account_id, site.line.id, campaign_id)
    assert (failed.state.value, failed.outcome.value) == ("finished", status_before)
    row = {r.id: r for r in _recipients(site)}[paused.recipient_id]
    assert (row.state, row.reason.split(" (")[0]) == (
        "failed",
        "not delivered within 3 h of the first dial",
    )

    # It runs again: its call had delivered.
    late = Finished(paused, calls.delivered(1, site.clock.now()), "paused", 0.5)
    outcomes.record_outcomes(site.svc, [late])

    row = {r.id: r for r in _recipients(site)}[paused.recipient_id]
    assert (row.state, row.reason) == ("delivered", "delivered")
    # Its one call on record once, as delivered: the interrupted attempt was replaced.
    made = [a.delivered for a in site.rows(attempts) if a.recipient_id == paused.recipient_id]
    assert made == [True]
    after = campaigns.get_campaign(site.svc, site.account_id, site.line.id, campaign_id)
    assert (after.count_delivered, after.count_failed) == (
        failed.count_delivered + 1,
        failed.count_failed - 1,
    )
    assert (after.state.value, after.outcome.value) == ("finished", status_after)
    assert after.finished_at == failed.finished_at


def test_a_worker_whose_claim_was_taken_hangs_up_at_its_next_renewal(site: Site) -> None:
    site.launch(1)

    async def scenario(stop: asyncio.Event) -> None:
        await until(lambda: len(site.started) == 1, "a call in progress")
        with site.svc.transaction() as conn:  # as if another worker held it now
            conn.execute(update(recipients).values(worker_id="other"))
        await until(lambda: len(site.hung_up) == 1, "the call hung up")
        await until(lambda: len(site.rows(attempts)) == 1, "its attempt recorded")

    asyncio.run(running(site, scenario))

    assert [a.reason for a in site.rows(attempts)] == [outcomes.HUNG_UP]
    # The recipient is the other worker's to settle.
    assert [(r.state, r.worker_id) for r in site.rows(recipients)] == [("in_call", "other")]


def _claim(site: Site, worker_id: str, most: int) -> list[Claim]:
    """A claim on the site's line by `worker_id`, at the clock's time."""
    with site.svc.transaction() as conn:
        return queue.claim(
            conn,
            account_id=site.account_id,
            line_id=site.line.id,
            worker_id=worker_id,
            now=site.clock.now(),
            lease_s=LEASE_S,
            most=most,
        )


def _recipients(site: Site) -> list[Any]:
    return sorted(site.rows(recipients), key=lambda r: r.id)


def _set_channels(site: Site, channels: int) -> None:
    with site.svc.transaction() as conn:
        conn.execute(update(lines).where(lines.c.id == site.line.id).values(channel_limit=channels))


def _paused_and_recovered(site: Site) -> list[Claim]:
    """Five recipients; a worker claims four, pauses past their leases, and they are recovered."""
    site.launch(5)
    paused = _claim(site, "paused", 4)
    assert len(paused) == 4 == site.line.channel_limit
    site.clock.advance(timedelta(seconds=LEASE_S + 1))
    assert site.recover() == 4
    return paused


def test_a_recovered_call_holds_its_channel_and_number_until_its_longest_end(
    site: Site,
) -> None:
    paused = _paused_and_recovered(site)
    held_until = outcomes.longest_end(paused[0])
    assert held_until == NOW + timedelta(
        seconds=call_cap_s(paused[0].page_bits, paused[0].quality.profile) + outcomes.CAP_MARGIN_S
    )
    assert [r.held_until for r in _recipients(site)] == [held_until] * 4 + [None]

    # The paused worker may still be in its four calls: the line has no free channel.
    assert _claim(site, "other", 4) == []

    # More channels, and the recovered calls' retries due: their numbers are still held.
    _set_channels(site, 8)
    site.clock.set(held_until - timedelta(seconds=1))
    assert {r.state for r in _recipients(site)[:4]} == {"pending"}
    assert all(r.due_at < site.clock.now() for r in _recipients(site)[:4])
    [first] = _claim(site, "other", 8)
    assert first.recipient_id == _recipients(site)[4].id

    # By its longest end the watchdog has ended every call: channels and numbers are free.
    site.clock.set(held_until)
    retried = _claim(site, "other", 8)
    assert sorted(c.recipient_id for c in retried) == sorted(c.recipient_id for c in paused)


def _campaign_state(site: Site, campaign_id: int) -> str:
    return campaigns.get_campaign(site.svc, site.account_id, site.line.id, campaign_id).state.value


def test_a_stop_waits_for_held_calls_until_their_holds_expire(site: Site) -> None:
    paused = _paused_and_recovered(site)
    campaign_id = paused[0].campaign_id
    stopped = campaigns.stop_campaign(site.svc, site.account_id, site.line.id, campaign_id)
    # The paused worker may still be in its four calls: they are calls in progress.
    assert stopped.state.value == "stopping"
    with pytest.raises(ConflictError, match="it is stopping"):
        campaigns.delete_campaign(site.svc, site.account_id, site.line.id, campaign_id)

    held_until = outcomes.longest_end(paused[0])
    site.clock.set(held_until - timedelta(seconds=1))
    site.recover()
    assert _campaign_state(site, campaign_id) == "stopping"
    # By their longest end the calls have surely ended: the next recovery pass ends the stop.
    site.clock.set(held_until)
    site.recover()
    assert _campaign_state(site, campaign_id) == "waiting"
    assert [r.held_until for r in _recipients(site)] == [None] * 5
    campaigns.delete_campaign(site.svc, site.account_id, site.line.id, campaign_id)
    assert _recipients(site) == []


def test_a_stop_ends_when_the_held_calls_late_results_are_recorded(site: Site) -> None:
    paused = _paused_and_recovered(site)
    campaign_id = paused[0].campaign_id
    campaigns.stop_campaign(site.svc, site.account_id, site.line.id, campaign_id)

    *first, last = [
        Finished(claim, calls.delivered(1, site.clock.now()), "paused", 0.5) for claim in paused
    ]
    outcomes.record_outcomes(site.svc, first)
    assert _campaign_state(site, campaign_id) == "stopping"  # one call may still be up
    outcomes.record_outcomes(site.svc, [last])
    assert _campaign_state(site, campaign_id) == "waiting"


def test_a_finished_campaign_with_held_calls_cannot_be_deleted_until_they_end(
    site: Site,
) -> None:
    site.launch(1)
    # First dialled long ago: once recovered, its kill time has passed and it fails for good.
    with site.svc.transaction() as conn:
        conn.execute(update(recipients).values(first_dial_at=NOW - timedelta(hours=4)))
    [paused] = _claim(site, "paused", 1)
    campaign_id = paused.campaign_id
    site.clock.advance(timedelta(seconds=LEASE_S + 1))
    assert site.recover() == 1
    assert [r.state for r in _recipients(site)] == ["failed"]
    assert _campaign_state(site, campaign_id) == "finished"

    # Its paused worker may still be calling: no delete until the hold's end.
    with pytest.raises(ConflictError, match="1 call may still be in progress"):
        campaigns.delete_campaign(site.svc, site.account_id, site.line.id, campaign_id)
    site.clock.set(outcomes.longest_end(paused))
    campaigns.delete_campaign(site.svc, site.account_id, site.line.id, campaign_id)


def _calls_in_progress_gauge(site: Site) -> float | None:
    exposed, _ = metrics.exposition(site.svc, None)
    labels = {"account": str(site.account_id), "line": str(site.line.id)}
    for family in text_string_to_metric_families(exposed.decode()):
        for sample in family.samples:
            if sample.name == "faxcast_calls_in_progress" and sample.labels == labels:
                return sample.value
    return None


def test_the_calls_in_progress_gauge_counts_held_calls(site: Site) -> None:
    paused = _paused_and_recovered(site)
    _set_channels(site, 8)
    assert len(_claim(site, "other", 1)) == 1  # the first call not made yet

    # Four held calls (their worker may still be placing them) and one in a call.
    assert _calls_in_progress_gauge(site) == 5
    site.clock.set(outcomes.longest_end(paused[0]))
    assert _calls_in_progress_gauge(site) == 1


def test_a_late_result_ends_its_calls_hold(site: Site) -> None:
    paused = _paused_and_recovered(site)
    delivered, hung_up, *still_held = paused
    late = [
        Finished(delivered, calls.delivered(1, site.clock.now()), "paused", 0.5),
        Finished(
            hung_up,
            CallResult(
                hung_up.claimed_at,
                None,
                site.clock.now(),
                None,
                FailureClass.TRANSFER_FAILED,
                outcomes.HUNG_UP,
                None,
            ),
            "paused",
            0.5,
        ),
    ]
    outcomes.record_outcomes(site.svc, late)

    rows = {r.id: r for r in _recipients(site)}
    assert [rows[c.recipient_id].held_until for c in paused] == [None, None] + [
        outcomes.longest_end(c) for c in still_held
    ]
    assert rows[delivered.recipient_id].state == "delivered"
    # Two calls over, two still held: two channels free, for the first call not made yet.
    assert [c.recipient_id for c in _claim(site, "other", 4)] == [max(rows)]
    # Once its retry is due, the hung-up call's number is free again; the held ones are not.
    site.clock.advance(timedelta(seconds=100))
    _set_channels(site, 8)
    assert [c.recipient_id for c in _claim(site, "other", 8)] == [hung_up.recipient_id]


def test_a_dead_same_host_predecessors_calls_are_not_held(site: Site) -> None:
    site.launch(5)
    with site.svc.transaction() as conn:
        queue.register_worker(conn, "gone", hostname=host_identity(), pid=1, now=NOW)
    gone = _claim(site, "gone", 4)
    site.clock.advance(timedelta(seconds=1))

    # Its process is gone: it surely stopped calling, so nothing of its calls is held.
    assert outcomes.recover_abandoned(site.svc, rand=lambda: 0.5, gone=["gone"]) == 4
    assert [r.held_until for r in _recipients(site)] == [None] * 5
    assert len(_claim(site, "other", 4)) == 1  # the first call not made yet, on a free channel
    site.clock.advance(timedelta(seconds=100))
    retried = _claim(site, "other", 4)
    assert sorted(c.recipient_id for c in retried) == [c.recipient_id for c in gone][:3]
