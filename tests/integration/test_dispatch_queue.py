"""The queue's invariants under concurrency: racing workers on one database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.domain.campaign import CampaignState, SendType
from faxcast.domain.models import Claim, Line, LineKind, LineSettings
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.errors import ConflictError
from faxcast.lines.base import CallResult
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.services.outcomes import Finished, record
from faxcast.store import queue
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts, recipients
from faxcast.store.tables import campaigns as campaigns_table
from tests import calls, pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WORKERS = 6
CHANNELS = 3


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    yield Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    engine.dispose()


def test_racing_workers_never_claim_twice_nor_exceed_a_lines_channels(svc: Services) -> None:
    account = accounts.create_account(svc, name="Race")
    first = accounts.list_lines(svc, account.id)[0]
    second = accounts.create_line(
        svc, account.id, LineSettings("Second", LineKind.SANDBOX, "FR", "", "", CHANNELS)
    )
    accounts.update_line(
        svc, account.id, first.id, LineSettings("First", LineKind.SANDBOX, "FR", "", "", CHANNELS)
    )
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    shared = "01 23 45 67 00"  # in both campaigns: one call at a time to it, system-wide
    for line_id in (first.id, second.id):
        numbers = [f"01 23 45 {line_id:02d} {n:02d}" for n in range(20)] + [shared]
        created = campaigns.create_campaign(
            svc,
            account.id,
            line_id,
            NewCampaign("race", pdf.id, Quality.HIGH, SendType.MANUAL, None, ",".join(numbers)),
        )
        campaigns.launch_campaign(svc, account.id, line_id, created.id)

    claimed: list[Claim] = []
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def work(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for _ in range(3):
                for line_id in (first.id, second.id):
                    with svc.transaction() as conn:
                        claimed.extend(
                            queue.claim(
                                conn,
                                account_id=account.id,
                                line_id=line_id,
                                worker_id=f"worker-{worker}",
                                now=NOW,
                                lease_s=300,
                                most=2,
                            )
                        )
        except BaseException as error:  # reported below, with the thread's name
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    ids = [c.recipient_id for c in claimed]
    assert len(ids) == len(set(ids)), "a recipient was claimed twice"
    per_line = {
        line_id: sum(c.line.id == line_id for c in claimed) for line_id in (first.id, second.id)
    }
    assert per_line == {first.id: CHANNELS, second.id: CHANNELS}
    assert sum(c.number == "+33123456700" for c in claimed) <= 1
    with svc.transaction() as conn:
        in_call = conn.execute(
            select(recipients.c.line_id, func.count())
            .where(recipients.c.state == "in_call")
            .group_by(recipients.c.line_id)
        ).all()
    assert dict(in_call) == per_line


def test_the_database_refuses_a_second_call_to_a_number_in_call(svc: Services) -> None:
    account = accounts.create_account(svc, name="Index")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    for name in ("one", "two"):
        campaigns.create_campaign(
            svc,
            account.id,
            line.id,
            NewCampaign(name, pdf.id, Quality.HIGH, SendType.MANUAL, None, "01 23 45 67 89"),
        )

    with pytest.raises(IntegrityError), svc.transaction() as conn:
        conn.execute(update(recipients).values(state="in_call"))


def _run(svc: Services, account_id: int, line_id: int, pdf_id: int, numbers: list[str]) -> int:
    """A new campaign of `numbers` on the line, launched; its id."""
    created = campaigns.create_campaign(
        svc,
        account_id,
        line_id,
        NewCampaign("batch", pdf_id, Quality.HIGH, SendType.MANUAL, None, ",".join(numbers)),
    )
    campaigns.launch_campaign(svc, account_id, line_id, created.id)
    return created.id


def _claim(svc: Services, line: Line, most: int, now: datetime = NOW) -> list[Claim]:
    with svc.transaction() as conn:
        return queue.claim(
            conn,
            account_id=line.account_id,
            line_id=line.id,
            worker_id="worker-1",
            now=now,
            lease_s=300,
            most=most,
        )


def _launched(svc: Services, numbers: list[str]) -> tuple[int, list[Claim]]:
    """A running campaign of `numbers`, every one claimed by worker-1; its id and the claims."""
    account = accounts.create_account(svc, name="Batch")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    campaign_id = _run(svc, account.id, line.id, pdf.id, numbers)
    claims = _claim(svc, line, len(numbers))
    assert len(claims) == len(numbers)
    return campaign_id, claims


def _delivered(claim: Claim) -> Finished:
    return Finished(claim, calls.delivered(claim.pages, NOW), "worker-1", 0.5)


def _failed(claim: Claim, failure: FailureClass, sip: int) -> Finished:
    return Finished(
        claim, CallResult(NOW, None, NOW, sip, failure, f"SIP {sip}", None), "worker-1", 0.5
    )


def _states(svc: Services, campaign_id: int) -> dict[str, tuple[str, str | None]]:
    with svc.transaction() as conn:
        rows = conn.execute(
            select(recipients.c.number, recipients.c.state, recipients.c.worker_id).where(
                recipients.c.campaign_id == campaign_id
            )
        ).all()
    return {row.number: (row.state, row.worker_id) for row in rows}


def test_a_batch_of_results_moves_each_recipient_and_keeps_the_counts(svc: Services) -> None:
    numbers = ["01 23 45 67 01", "01 23 45 67 02", "01 23 45 04 86", "01 23 45 67 04"]
    campaign_id, claims = _launched(svc, numbers)
    good, also_good, busy, taken = claims
    # Meanwhile the last call's lease expired and another worker holds its recipient.
    with svc.transaction() as conn:
        conn.execute(
            update(recipients)
            .where(recipients.c.id == taken.recipient_id)
            .values(worker_id="worker-2")
        )

    with svc.transaction() as conn:
        states = record(
            conn,
            [
                _delivered(good),
                _failed(busy, FailureClass.BUSY, 486),
                _delivered(also_good),
                _delivered(taken),
            ],
            policy=svc.settings.retry_policy,
            now=NOW,
        )

    assert [s.value for s in states] == ["delivered", "pending", "delivered", "delivered"]
    assert _states(svc, campaign_id) == {
        good.number: ("delivered", None),
        also_good.number: ("delivered", None),
        busy.number: ("pending", None),
        taken.number: ("in_call", "worker-2"),
    }
    with svc.transaction() as conn:
        campaign = conn.execute(
            select(campaigns_table).where(campaigns_table.c.id == campaign_id)
        ).one()
        made = conn.execute(
            select(attempts.c.number, attempts.c.delivered).order_by(attempts.c.id)
        ).all()
        busy_row = conn.execute(
            select(recipients).where(recipients.c.id == busy.recipient_id)
        ).one()
    assert (campaign.state, campaign.count_delivered, campaign.count_failed) == ("running", 2, 0)
    # Every call that took place is on record, the one whose recipient moved on too.
    assert made == [
        (good.number, True),
        (busy.number, False),
        (also_good.number, True),
        (taken.number, True),
    ]
    assert (busy_row.dials, busy_row.lease_expires_at) == (1, None)
    assert busy_row.due_at > NOW


def test_a_batch_that_settles_the_last_recipients_finishes_the_campaign(svc: Services) -> None:
    campaign_id, claims = _launched(svc, ["01 23 45 67 01", "01 23 45 04 04", "01 23 45 67 03"])
    first, unallocated, last = claims

    with svc.transaction() as conn:
        record(
            conn,
            [
                _delivered(first),
                _failed(unallocated, FailureClass.PERMANENT, 404),
                _delivered(last),
            ],
            policy=svc.settings.retry_policy,
            now=NOW,
        )

    with svc.transaction() as conn:
        campaign = conn.execute(
            select(campaigns_table).where(campaigns_table.c.id == campaign_id)
        ).one()
    assert (campaign.state, campaign.outcome) == ("finished", "partial")
    assert (campaign.count_delivered, campaign.count_failed) == (2, 1)
    assert _states(svc, campaign_id)[unallocated.number] == ("failed", None)


def test_a_result_written_again_after_its_commit_is_on_record_once(svc: Services) -> None:
    # The first write committed but its writer was told it failed: it writes the results again.
    campaign_id, claims = _launched(svc, ["01 23 45 67 01", "01 23 45 04 86"])
    good, busy = claims
    results = [_delivered(good), _failed(busy, FailureClass.BUSY, 486)]
    for _ in range(2):
        with svc.transaction() as conn:
            states = record(conn, results, policy=svc.settings.retry_policy, now=NOW)
        assert [s.value for s in states] == ["delivered", "pending"]

    with svc.transaction() as conn:
        made = conn.execute(select(attempts.c.number, attempts.c.claimed_at)).all()
        busy_row = conn.execute(
            select(recipients).where(recipients.c.id == busy.recipient_id)
        ).one()
        campaign = conn.execute(
            select(campaigns_table).where(campaigns_table.c.id == campaign_id)
        ).one()
    assert sorted(made) == sorted((c.number, c.claimed_at) for c in claims)
    assert (busy_row.state, busy_row.dials) == ("pending", 1)
    assert (campaign.count_delivered, campaign.count_failed) == (1, 0)


def test_the_database_refuses_a_second_attempt_for_one_claim(svc: Services) -> None:
    _, [claim] = _launched(svc, ["01 23 45 67 01"])
    with svc.transaction() as conn:
        record(conn, [_delivered(claim)], policy=svc.settings.retry_policy, now=NOW)
    with svc.transaction() as conn:
        [made] = conn.execute(select(attempts)).mappings().all()

    with pytest.raises(IntegrityError), svc.transaction() as conn:
        conn.execute(attempts.insert().values({**made, "id": made["id"] + 1}))


def test_a_campaign_that_could_not_run_is_not_deleted_while_its_calls_end(
    svc: Services,
) -> None:
    campaign_id, claims = _launched(svc, ["01 23 45 67 01", "01 23 45 67 02"])
    unusable, still_up = claims
    document = CallResult(NOW, None, NOW, None, FailureClass.DOCUMENT, "bad TIFF", None)
    with svc.transaction() as conn:
        record(
            conn,
            [Finished(unusable, document, "worker-1", 0.5)],
            policy=svc.settings.retry_policy,
            now=NOW,
        )
    account_id, line_id = unusable.account_id, unusable.line.id
    failed = campaigns.get_campaign(svc, account_id, line_id, campaign_id)
    assert failed.state is CampaignState.ERROR

    # The other call goes on: its result needs its recipient's row.
    with pytest.raises(ConflictError, match="1 call may still be in progress"):
        campaigns.delete_campaign(svc, account_id, line_id, campaign_id)
    with svc.transaction() as conn:
        record(conn, [_delivered(still_up)], policy=svc.settings.retry_policy, now=NOW)
    campaigns.delete_campaign(svc, account_id, line_id, campaign_id)
    with svc.transaction() as conn:
        assert conn.execute(select(func.count()).select_from(attempts)).scalar_one() == 0


def test_due_retries_share_the_channels_with_first_calls(svc: Services) -> None:
    # Two running campaigns on one line of 4 channels, three busy numbers that get retries.
    account = accounts.create_account(svc, name="Order")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    lists = {
        "older": ["01 23 45 11 01", "01 23 45 11 02", "01 23 45 11 03"],
        "newer": ["01 23 45 22 01", "01 23 45 22 02", "01 23 45 22 03"],
    }
    for listed in lists.values():
        _run(svc, account.id, line.id, pdf.id, listed)
    older, newer = ([e164(n) for n in listed] for listed in lists.values())

    def record_at(finished: list[Finished], now: datetime) -> None:
        with svc.transaction() as conn:
            record(conn, finished, policy=svc.settings.retry_policy, now=now)

    def numbers(claims: list[Claim]) -> list[str]:
        return [c.number for c in claims]

    older_first = _claim(svc, line, 1)
    assert numbers(older_first) == older[:1]
    taken = _claim(svc, line, 3)
    # No retry is due yet: first calls across the line's campaigns, in list order.
    assert numbers(taken) == older[1:] + newer[:1]
    busy = {c.number: c for c in older_first + taken}
    record_at([_failed(busy[newer[0]], FailureClass.BUSY, 486)], NOW)
    # The older campaign's busy numbers fail later: their retries are due later.
    record_at([_failed(busy[older[0]], FailureClass.BUSY, 486)], NOW + timedelta(minutes=1))
    record_at([_failed(busy[older[1]], FailureClass.BUSY, 486)], NOW + timedelta(minutes=2))
    record_at([_delivered(busy[older[2]])], NOW + timedelta(minutes=2))

    # Long after the three retries are due, with two first calls still waiting.
    later = NOW + timedelta(hours=1)
    # Retries take up to half the channels, soonest due first (listed first or not); first
    # calls fill the rest in list order; the third retry waits.
    first_claim = _claim(svc, line, 3, later)
    assert numbers(first_claim) == [older[0], newer[0], newer[1]]
    # Two retries are in a call: the next channel goes to the last first call, not a retry.
    assert numbers(_claim(svc, line, 1, later)) == newer[2:]
    # A first call ends and none is left: the retry takes the channel first calls leave.
    record_at([_delivered(c) for c in first_claim if c.number == newer[1]], later)
    assert numbers(_claim(svc, line, 1, later)) == older[1:2]


def test_a_due_retry_gets_a_channel_while_first_calls_wait(svc: Services) -> None:
    numbers = [f"01 23 45 33 {n:02d}" for n in range(10)]
    account = accounts.create_account(svc, name="Busy line")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    _run(svc, account.id, line.id, pdf.id, numbers)
    busy = _claim(svc, line, 4)[0]
    with svc.transaction() as conn:
        policy = svc.settings.retry_policy
        record(conn, [_failed(busy, FailureClass.BUSY, 486)], policy=policy, now=NOW)

    # Three calls are still up and six first calls wait: the one free channel goes to the retry.
    retry = _claim(svc, line, 4, NOW + timedelta(hours=1))
    assert [c.number for c in retry] == [busy.number]
    assert retry[0].history.dials == 1


def test_a_busy_number_gets_all_its_dials_while_the_first_pass_outlasts_the_kill_time(
    database_url: str, tmp_path: Path
) -> None:
    # DESIGN.md's case scaled down: one-minute calls on 2 channels, a busy number redialled
    # after a minute, a 25-minute kill time, and a first pass of over an hour. Three busy
    # numbers take turns on the retries' one channel, so each waits for it too.
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, retry_busy_s=60, kill_time_s=25 * 60
    )
    engine = create_engine_for(database_url)
    svc = Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    account = accounts.create_account(svc, name="Long pass")
    line = accounts.list_lines(svc, account.id)[0]
    accounts.update_line(
        svc, account.id, line.id, LineSettings("Two", LineKind.SANDBOX, "FR", "", "", 2)
    )
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    busy = [f"01 23 45 44 0{n}" for n in range(3)]
    others = [f"01 23 46 {n // 100:02d} {n % 100:02d}" for n in range(80)]
    campaign_id = _run(svc, account.id, line.id, pdf.id, busy + others)
    busy_numbers = {e164(n) for n in busy}

    def ended(claim: Claim, now: datetime) -> Finished:
        if claim.number in busy_numbers:
            result = CallResult(claim.claimed_at, None, now, 486, FailureClass.BUSY, "busy", None)
            return Finished(claim, result, "worker-1", 0.5)
        return _delivered(claim)

    now, in_call, last_first_call = NOW, list[Claim](), NOW
    for _ in range(300):  # the campaign takes about 90 one-minute rounds
        with svc.transaction() as conn:
            record(conn, [ended(c, now) for c in in_call], policy=settings.retry_policy, now=now)
        in_call = _claim(svc, line, 2, now)
        if not in_call:
            break
        if any(c.due_at is None for c in in_call):
            last_first_call = now
        now += timedelta(minutes=1)
    with svc.transaction() as conn:
        rows = conn.execute(
            select(recipients.c.state, recipients.c.dials, recipients.c.reason).where(
                recipients.c.campaign_id == campaign_id,
                recipients.c.number.in_(busy_numbers),
            )
        ).all()
    engine.dispose()

    assert not in_call, "the campaign did not finish"
    assert last_first_call - NOW > timedelta(minutes=25)
    assert [(row.state, row.dials) for row in rows] == [("failed", 12)] * 3
    assert all(row.reason.startswith("busy or no answer after 12 dials") for row in rows)


def e164(national: str) -> str:
    return "+33" + national.replace(" ", "")[1:]


def test_stop_waits_for_a_claim_under_way_and_counts_its_calls(svc: Services) -> None:
    account = accounts.create_account(svc, name="Stop race")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
    campaign_id = _run(svc, account.id, line.id, pdf.id, ["01 23 45 67 01", "01 23 45 67 02"])
    claimed, release = threading.Event(), threading.Event()
    stopped: list[CampaignState] = []
    errors: list[BaseException] = []

    def claim_then_commit_late() -> None:
        try:
            with svc.transaction() as conn:
                taken = queue.claim(
                    conn,
                    account_id=account.id,
                    line_id=line.id,
                    worker_id="worker-1",
                    now=NOW,
                    lease_s=300,
                    most=2,
                )
                assert len(taken) == 2
                claimed.set()
                release.wait(timeout=10)
        except BaseException as error:
            errors.append(error)
            claimed.set()

    def stop() -> None:
        try:
            stopped.append(campaigns.stop_campaign(svc, account.id, line.id, campaign_id).state)
        except BaseException as error:
            errors.append(error)

    claimer = threading.Thread(target=claim_then_commit_late)
    claimer.start()
    assert claimed.wait(timeout=10)
    stopper = threading.Thread(target=stop)
    stopper.start()
    stopper.join(timeout=0.5)
    still_waiting = stopper.is_alive()
    release.set()
    claimer.join(timeout=10)
    stopper.join(timeout=10)

    assert errors == []
    # The stop took the line's lock after the claim committed: it saw both calls and waits for
    # them, rather than counting none and letting them start after it.
    assert still_waiting
    assert stopped == [CampaignState.STOPPING]


def test_a_lease_renewal_and_a_result_write_lock_rows_in_one_order_on_postgresql(
    postgresql_database_url: str, tmp_path: Path
) -> None:
    # Only PostgreSQL locks rows (SQLite has one writer at a time). A worker's keeper renews
    # the leases of two calls while its group commit records their results (lock_holders,
    # in id order). The table holds the lower id's row after the higher's, as after any
    # update, and the renewal reads the table in that order, as a large renewal's plan does.
    engine = create_engine_for(postgresql_database_url)
    settings = Settings(data_dir=tmp_path, database_url=postgresql_database_url)
    svc = Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    try:
        _, claims = _launched(svc, ["01 23 45 67 01", "01 23 45 67 02"])
        low, high = sorted(c.recipient_id for c in claims)
        with svc.transaction() as conn:
            conn.execute(update(recipients).where(recipients.c.id == low).values(reason="moved"))
            in_table = conn.exec_driver_sql("SELECT id FROM recipients ORDER BY ctid").scalars()
            assert list(in_table) == [high, low]

        renewed: list[set[int]] = []
        errors: list[BaseException] = []

        def renew() -> None:
            try:
                with svc.transaction() as conn:
                    conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
                    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
                    held = [low, high]
                    renewed.append(queue.renew_leases(conn, "worker-1", held, now=NOW, lease_s=60))
            except BaseException as error:
                errors.append(error)

        with svc.transaction() as recording:
            queue.lock_holders(recording, [low])
            renewal = threading.Thread(target=renew)
            renewal.start()
            _wait_for_a_lock_wait(engine)
            # A renewal that took the higher row first would now wait for us while we wait
            # for it: PostgreSQL would abort one of the two as a deadlock.
            recording.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            queue.lock_holders(recording, [high])
        renewal.join(timeout=30)

        assert errors == []
        assert renewed == [{low, high}]
    finally:
        engine.dispose()


def _wait_for_a_lock_wait(engine: Engine) -> None:
    """Return once a transaction waits for a row lock (bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the renewal never waited for the row the recording holds")
