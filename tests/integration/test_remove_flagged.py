"""Removing a campaign's flagged numbers (issue 16), on SQLite and PostgreSQL: what it removes,
what refuses it and changes nothing, who may, and a race with the dispatcher's start and claim."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.domain.access import AuditAction, Caller, Role
from faxcast.domain.campaign import Campaign, CampaignState, SendType
from faxcast.domain.models import Claim, Line
from faxcast.domain.quality import Quality
from faxcast.errors import ConflictError, NotFoundError
from faxcast.services import accounts, audit, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.store import queue, repository
from faxcast.store.blobs import DatabaseBlobStore, FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts, audit_events, recipients
from faxcast.store.tables import campaigns as campaigns_table
from tests import pdfs
from tests.asgi import api_client
from tests.identity import new_user
from tests.integration.test_api import create as create_by_api
from tests.integration.test_api import new_tenant, problem, upload_ok

NOW = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
# Five numbers, two of them flagged (the 2nd and 4th): positions 1 to 3 are left.
MIXED = "01 23 45 67 89\n123456\n01 98 76 54 32\n01 23 45\n+33 6 12 34 56 78"
LEFT = ["+33123456789", "+33198765432", "+33612345678"]
FLAGGED = ["123456", "012345"]
RACES = 8


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services on this test's database, at NOW."""
    engine = create_engine_for(database_url)
    postgresql = engine.dialect.name == "postgresql"
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore() if postgresql else FileBlobStore(tmp_path / "blobs"),
        clock=ManualClock(NOW),
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )
    engine.dispose()


@pytest.fixture
def line(svc: Services) -> Line:
    """The sandbox line of a new account."""
    account = accounts.create_account(svc, name="Acme")
    return accounts.list_lines(svc, account.id)[0]


def create(
    svc: Services, line: Line, numbers: str = MIXED, *, send_at: datetime | None = None
) -> Campaign:
    """A campaign of `numbers`, manual, or scheduled at `send_at`."""
    pdf = documents.upload_document(svc, line.account_id, name="a.pdf", data=pdfs.text_pdf())
    send_type = SendType.MANUAL if send_at is None else SendType.SCHEDULED
    return campaigns.create_campaign(
        svc,
        line.account_id,
        line.id,
        NewCampaign("Prices", pdf.id, Quality.NORMAL, send_type, send_at, numbers),
    )


def stored(engine: Engine, campaign_id: int) -> list[tuple[int, str]]:
    """(position, number) of the campaign's recipients, by position."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(recipients.c.position, recipients.c.number)
            .where(recipients.c.campaign_id == campaign_id)
            .order_by(recipients.c.position)
        )
        return [(row.position, row.number) for row in rows]


def snapshot(engine: Engine) -> tuple[Any, ...]:
    """Everything a refused removal must leave as it was: every recipient and campaign row, the
    attempts and the audit log's length."""
    with engine.connect() as conn:
        return (
            conn.execute(select(recipients).order_by(recipients.c.id)).all(),
            conn.execute(select(campaigns_table).order_by(campaigns_table.c.id)).all(),
            conn.execute(select(func.count()).select_from(attempts)).scalar_one(),
            conn.execute(select(func.count()).select_from(audit_events)).scalar_one(),
        )


def claim(svc: Services, line: Line, *, most: int = 1, worker: str = "w1") -> list[Claim]:
    """Claim as the dispatcher does, in a transaction of its own."""
    with svc.transaction() as conn:
        return queue.claim(
            conn,
            account_id=line.account_id,
            line_id=line.id,
            worker_id=worker,
            now=svc.clock.now(),
            lease_s=300,
            most=most,
        )


def test_the_flagged_numbers_leave_at_once_and_the_others_close_up(
    svc: Services, line: Line
) -> None:
    made = create(svc, line)
    assert campaigns.flagged_count(svc, line.account_id, line.id, made.id) == 2

    removed = campaigns.remove_flagged(svc, line.account_id, line.id, made.id)

    assert removed.count == 2
    assert removed.campaign.count_total == removed.campaign.counts.todo == 3
    assert stored(svc.engine, made.id) == list(enumerate(LEFT, start=1))
    # The details' pages follow the positions: the first page of two holds the first two.
    page = campaigns.campaign_detail(svc, line.account_id, line.id, made.id, page=2, page_size=2)
    assert [(r.position, r.number) for r in page.recipients] == [(3, LEFT[2])]
    assert campaigns.flagged_count(svc, line.account_id, line.id, made.id) == 0
    event = audit.list_events(svc, line.account_id, limit=1)[0]
    assert (event.action, event.subject) == (
        AuditAction.FLAGGED_REMOVED,
        f"{made.reference} Prices (2)",
    )
    # Nothing flagged is left: a second removal is refused and changes nothing.
    before = snapshot(svc.engine)
    with pytest.raises(ConflictError) as refused:
        campaigns.remove_flagged(svc, line.account_id, line.id, made.id)
    assert refused.value.message.code == "campaign.flagged_none"
    assert snapshot(svc.engine) == before
    # The numbers left are the campaign's: it runs them all, and only them.
    campaigns.launch_campaign(svc, line.account_id, line.id, made.id)
    assert sorted(c.number for c in claim(svc, line, most=5)) == sorted(LEFT)


def test_thousands_of_flagged_numbers_leave_and_the_order_stays(svc: Services, line: Line) -> None:
    # More flagged numbers than one batch of the deletion holds, between the good ones.
    good = [f"+33 1 23 {n // 100:02d} {n % 100:02d} 00" for n in range(40)]
    entries = [f"{100_000 + n}" for n in range(2_500)]
    for index, number in enumerate(good):
        entries.insert(index * 60, number)
    made = create(svc, line, "\n".join(entries))
    assert made.count_total == 2_540

    removed = campaigns.remove_flagged(svc, line.account_id, line.id, made.id)

    assert (removed.count, removed.campaign.count_total) == (2_500, 40)
    expected = [number.replace(" ", "") for number in good]
    assert stored(svc.engine, made.id) == list(enumerate(expected, start=1))


def test_a_scheduled_campaign_not_started_yet_loses_them_too(svc: Services, line: Line) -> None:
    made = create(svc, line, send_at=NOW + timedelta(hours=1))
    removed = campaigns.remove_flagged(svc, line.account_id, line.id, made.id)
    assert (removed.count, removed.campaign.state) == (2, CampaignState.SCHEDULED)
    assert [number for _, number in stored(svc.engine, made.id)] == LEFT


def test_refused_once_a_recipient_is_claimed_and_nothing_changes(svc: Services, line: Line) -> None:
    made = create(svc, line)
    campaigns.launch_campaign(svc, line.account_id, line.id, made.id)
    assert len(claim(svc, line)) == 1
    before = snapshot(svc.engine)

    with pytest.raises(ConflictError) as running:
        campaigns.remove_flagged(svc, line.account_id, line.id, made.id)
    assert running.value.message.code == "campaign.cannot_remove_flagged"
    assert "it is running" in str(running.value.message)
    assert snapshot(svc.engine) == before
    assert campaigns.flagged_count(svc, line.account_id, line.id, made.id) == 0


def test_refused_after_a_stop_though_the_campaign_waits_again(svc: Services, line: Line) -> None:
    made = create(svc, line)
    campaigns.launch_campaign(svc, line.account_id, line.id, made.id)
    stopped = campaigns.stop_campaign(svc, line.account_id, line.id, made.id)
    assert stopped.state is CampaignState.WAITING
    before = snapshot(svc.engine)

    with pytest.raises(ConflictError) as refused:
        campaigns.remove_flagged(svc, line.account_id, line.id, made.id)
    assert refused.value.message.code == "campaign.flagged_after_start"
    assert snapshot(svc.engine) == before


def test_refused_when_every_number_is_flagged_delete_it_instead(svc: Services, line: Line) -> None:
    made = create(svc, line, "123456, 01 23 45")
    assert campaigns.flagged_count(svc, line.account_id, line.id, made.id) == 2
    before = snapshot(svc.engine)

    with pytest.raises(ConflictError) as refused:
        campaigns.remove_flagged(svc, line.account_id, line.id, made.id)
    assert refused.value.message.code == "campaign.flagged_all"
    assert "delete the campaign instead" in str(refused.value.message)
    assert snapshot(svc.engine) == before


def test_refused_when_no_number_is_flagged(svc: Services, line: Line) -> None:
    made = create(svc, line, "01 23 45 67 89, 01 98 76 54 32")
    before = snapshot(svc.engine)
    with pytest.raises(ConflictError) as refused:
        campaigns.remove_flagged(svc, line.account_id, line.id, made.id)
    assert refused.value.message.code == "campaign.flagged_none"
    assert snapshot(svc.engine) == before


def test_members_and_admins_may_another_account_finds_nothing(svc: Services, line: Line) -> None:
    account = line.account_id
    other = accounts.create_account(svc, name="Other")
    as_member = svc.acting_for(Caller(101, "member", MappingProxyType({account: Role.MEMBER})))
    as_admin = svc.acting_for(Caller(102, "admin", MappingProxyType({account: Role.ADMIN})))
    stranger = svc.acting_for(Caller(103, "stranger", MappingProxyType({other.id: Role.ADMIN})))
    first, second = create(svc, line), create(svc, line)
    before = snapshot(svc.engine)

    for use_case in (campaigns.remove_flagged, campaigns.flagged_count):
        with pytest.raises(NotFoundError):
            use_case(stranger, account, line.id, first.id)
    assert snapshot(svc.engine) == before

    assert campaigns.remove_flagged(as_member, account, line.id, first.id).count == 2
    assert campaigns.remove_flagged(as_admin, account, line.id, second.id).count == 2
    events = audit.list_events(svc, account, limit=2)
    assert [(e.actor, e.action) for e in events] == [
        ("admin", AuditAction.FLAGGED_REMOVED),
        ("member", AuditAction.FLAGGED_REMOVED),
    ]


def test_a_removal_racing_the_start_and_first_claim_is_all_or_nothing(
    postgresql_database_url: str, tmp_path: Path
) -> None:
    """The scheduler starts a due campaign and a worker claims, while a user removes: either the
    removal came first (the claims find only the numbers left) or it is refused and nothing left
    the campaign; never a removal after a claim."""
    engine = create_engine_for(postgresql_database_url)
    clock = ManualClock(NOW)
    svc = Services(engine, DatabaseBlobStore(), clock, Settings(data_dir=tmp_path))
    try:
        account = accounts.create_account(svc, name="Race")
        line = accounts.list_lines(svc, account.id)[0]
        for race in range(RACES):
            clock.set(NOW + timedelta(days=race))
            made = create(svc, line, send_at=clock.now() + timedelta(minutes=1))
            clock.advance(timedelta(minutes=2))
            _race(svc, line, made)
    finally:
        engine.dispose()


def test_a_removal_waits_for_a_start_under_way_then_is_refused(
    postgresql_database_url: str, tmp_path: Path
) -> None:
    """The scheduler has locked and started the campaign but not committed: the removal waits
    for it (it does not read the campaign as it was), then finds it running and refuses."""
    engine = create_engine_for(postgresql_database_url)
    clock = ManualClock(NOW)
    svc = Services(engine, DatabaseBlobStore(), clock, Settings(data_dir=tmp_path))
    try:
        account = accounts.create_account(svc, name="Wait")
        line = accounts.list_lines(svc, account.id)[0]
        made = create(svc, line, send_at=NOW + timedelta(minutes=1))
        clock.advance(timedelta(minutes=2))
        before = stored(engine, made.id)
        results: list[object] = []

        def user() -> None:
            try:
                results.append(campaigns.remove_flagged(svc, account.id, line.id, made.id))
            except ConflictError as error:
                results.append(error)

        removal = threading.Thread(target=user)
        with svc.transaction() as conn:
            [due] = queue.due_campaigns(conn, now=clock.now())
            scheduled = repository.get_campaign(conn, *due)
            repository.save_campaign(conn, scheduled, scheduled.started(now=clock.now()))
            removal.start()
            removal.join(timeout=1.0)
            assert removal.is_alive(), "the removal did not wait for the start under way"
        removal.join(timeout=30)
        assert not removal.is_alive()
        [result] = results
        assert isinstance(result, ConflictError), result
        assert result.message.code == "campaign.cannot_remove_flagged"
        assert stored(engine, made.id) == before
    finally:
        engine.dispose()


def _race(svc: Services, line: Line, made: Campaign) -> None:
    start = threading.Barrier(2)
    claimed: list[Claim] = []
    results: list[object] = []

    def dispatcher() -> None:
        start.wait(timeout=30)
        campaigns.start_due_campaigns(svc)
        claimed.extend(claim(svc, line, most=5, worker=f"w{made.id}"))

    def user() -> None:
        start.wait(timeout=30)
        try:
            results.append(campaigns.remove_flagged(svc, line.account_id, line.id, made.id))
        except ConflictError as error:
            results.append(error)

    threads = [threading.Thread(target=dispatcher), threading.Thread(target=user)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    [result] = results
    now_stored = [number for _, number in stored(svc.engine, made.id)]
    claimed_numbers = {c.number for c in claimed}
    # Claims run after the start: the dispatcher claims from the campaign it started.
    if isinstance(result, campaigns.Removed):
        assert now_stored == LEFT
        assert result.campaign.count_total == 3
        assert claimed_numbers <= set(LEFT)
        return
    assert isinstance(result, ConflictError), result
    assert result.message.code in {"campaign.cannot_remove_flagged", "campaign.flagged_after_start"}
    assert now_stored == [LEFT[0], FLAGGED[0], LEFT[1], FLAGGED[1], LEFT[2]]


# --- the API ---------------------------------------------------------------------------------


def test_the_api_removes_them_and_answers_how_many(svc: Services) -> None:
    with api_client(svc) as client:
        tenant = new_tenant(client)
        pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
        created = create_by_api(client, tenant, pdf, recipientsList=MIXED)
        assert (created["warningsTotal"], created["countTotal"]) == (2, 5)
        path = f"{tenant.campaigns}/{created['id']}/recipients/remove-flagged"

        answer = client.post(path)

        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["removed"], body["countTotal"], body["countTodo"]) == (2, 3, 3)
        assert (body["id"], body["state"]) == (created["id"], "waiting")
        detail = client.get(f"{tenant.campaigns}/{created['id']}/detail").json()
        assert [r["number"] for r in detail["recipients"]] == LEFT

        before = snapshot(svc.engine)
        again = problem(client.post(path, headers={"Accept-Language": "fr"}), 409)
        assert again["code"] == "campaign.flagged_none"
        assert again["detail"] == (
            "la campagne « Spring prices » n'a aucun numéro signalé comme probablement invalide :"
            " rien à retirer"
        )
        assert snapshot(svc.engine) == before


def test_the_api_refuses_a_started_campaign_and_hides_another_accounts(svc: Services) -> None:
    with api_client(svc) as client:
        tenant = new_tenant(client)
        other = new_tenant(client, "Other")
        pdf = upload_ok(client, tenant, "prices.pdf", pdfs.text_pdf())
        created = create_by_api(client, tenant, pdf, recipientsList=MIXED)
        path = f"{tenant.campaigns}/{created['id']}/recipients/remove-flagged"
        assert client.post(f"{tenant.campaigns}/{created['id']}/start").status_code == 200
        stranger = new_user(svc, "stranger", {other.account: Role.ADMIN})
        before = snapshot(svc.engine)

        refused = problem(client.post(path), 409)
        assert refused["code"] == "campaign.cannot_remove_flagged"
        assert "it is running" in refused["detail"]
        # Another account's admin, and another account's path, find no such campaign.
        hidden = problem(client.post(path, headers=stranger.bearer), 404)
        assert hidden["code"] == "not_found.account"
        elsewhere = f"{other.campaigns}/{created['id']}/recipients/remove-flagged"
        assert problem(client.post(elsewhere), 404)["code"] == "not_found.campaign_on_line"
        assert snapshot(svc.engine) == before


def test_a_removal_racing_a_deletion_never_deadlocks(
    postgresql_database_url: str, tmp_path: Path
) -> None:
    """A deletion and a removal of the same campaign at once: one after the other, whichever
    first (the removal then finds no campaign, or the deletion deletes what is left)."""
    engine = create_engine_for(postgresql_database_url)
    svc = Services(engine, DatabaseBlobStore(), ManualClock(NOW), Settings(data_dir=tmp_path))
    try:
        account = accounts.create_account(svc, name="Delete")
        line = accounts.list_lines(svc, account.id)[0]
        for _ in range(RACES):
            made = create(svc, line)
            assert _delete_and_remove(svc, line, made) == []
            assert stored(engine, made.id) == []
    finally:
        engine.dispose()


def _delete_and_remove(svc: Services, line: Line, made: Campaign) -> list[BaseException]:
    """Delete and remove the flagged numbers of `made` at once; what failed but "not found"."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def act(use_case: Any) -> None:
        start.wait(timeout=30)
        try:
            use_case(svc, line.account_id, line.id, made.id)
        except NotFoundError:
            pass  # the deletion came first
        except BaseException as error:  # a deadlock, or anything else, fails the test
            errors.append(error)

    threads = [
        threading.Thread(target=act, args=(use_case,))
        for use_case in (campaigns.delete_campaign, campaigns.remove_flagged)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return errors
