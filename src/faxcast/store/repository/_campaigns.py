"""Campaigns, their recipients and attempts; the one write of a campaign's lifecycle."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Insert,
    Integer,
    Row,
    Text,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from faxcast.domain.campaign import Campaign, CampaignOutcome, CampaignState, SendType
from faxcast.domain.models import (
    Attempt,
    CampaignSort,
    Page,
    Recipient,
)
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.domain.retry import RecipientHistory
from faxcast.errors import ConflictError, NotFoundError
from faxcast.i18n import codes
from faxcast.store import sql
from faxcast.store.repository._ids import storable
from faxcast.store.tables import (
    attempts,
    campaigns,
    recipients,
    renditions,
)

# ---------------------------------------------------------------------------- campaigns

_CAMPAIGN_COLUMNS = (*campaigns.c, renditions.c.pages, renditions.c.tiff_sha256)


def _campaigns_query() -> Any:
    return select(*_CAMPAIGN_COLUMNS).join(renditions, renditions.c.id == campaigns.c.rendition_id)


def reference_exists(conn: Connection, reference: str) -> bool:
    """Whether a campaign of any account already uses `reference`."""
    return (
        conn.execute(select(campaigns.c.id).where(campaigns.c.reference == reference)).first()
        is not None
    )


def insert_campaign(
    conn: Connection,
    *,
    values: dict[str, Any],
    numbers: Sequence[str],
    line_id: int,
    typed: Sequence[str] = (),
) -> int:
    """A new campaign and its recipients, in list order; the campaign's id. `typed` holds each
    number's entry as typed (none stored where it is the number itself)."""
    new_id = conn.execute(
        insert(campaigns).values(count_total=len(numbers), **values)
    ).inserted_primary_key
    assert new_id is not None
    campaign_id = int(new_id[0])
    conn.execute(_insert_recipients(conn.dialect.name, campaign_id, line_id, numbers, typed))
    return campaign_id


def _insert_recipients(
    dialect: str, campaign_id: int, line_id: int, numbers: Sequence[str], typed: Sequence[str]
) -> Insert:
    # One statement that expands the list in the database: an executemany is one round trip and
    # one statement execution per recipient (psycopg sends 100 000 single-row inserts). The list
    # goes as one JSON text to both: SQLite has no arrays, and psycopg dumps one item by item.
    # Each item is [number, typed], typed null where it is the number itself.
    items = [
        (number, None if entry == number else entry)
        for number, entry in zip(numbers, typed or numbers, strict=True)
    ]
    listed_json = literal(json.dumps(items), Text)
    position: ColumnElement[int]
    number: ColumnElement[str]
    as_typed: ColumnElement[str]
    if dialect == "postgresql":
        listed = (
            func.json_array_elements(cast(listed_json, JSON))
            .table_valued("value", with_ordinality="position")
            .render_derived()
        )
        position = listed.c.position
        number, as_typed = listed.c.value.op("->>")(0), listed.c.value.op("->>")(1)
    else:
        listed = func.json_each(listed_json).table_valued("key", "value")
        position = listed.c.key + 1
        number = func.json_extract(listed.c.value, "$[0]")
        as_typed = func.json_extract(listed.c.value, "$[1]")
    rows = select(
        literal(campaign_id, Integer),
        literal(line_id, Integer),
        position,
        number,
        as_typed,
        literal(RecipientState.PENDING.value, Text),
    ).order_by(position)  # ids follow the list: claims take the lowest id first
    return insert(recipients).from_select(
        ["campaign_id", "line_id", "position", "number", "typed", "state"], rows
    )


def get_campaign(
    conn: Connection, account_id: int, line_id: int, campaign_id: int, *, lock: bool = False
) -> Campaign:
    """The line's campaign, or NotFoundError (also for another account's campaign).

    With `lock`, the row stays locked until the transaction ends (PostgreSQL; SQLite
    transactions hold the write lock from their start).
    """
    query = _campaigns_query().where(
        campaigns.c.id == campaign_id,
        campaigns.c.account_id == account_id,
        campaigns.c.line_id == line_id,
    )
    row = (
        conn.execute(query.with_for_update(of=campaigns) if lock else query).first()
        if storable(account_id, line_id, campaign_id)
        else None
    )
    if row is None:
        raise NotFoundError(codes.NO_CAMPAIGN_ON_LINE(campaign=campaign_id, line=line_id))
    return campaign_of(row)


def campaign_tiff(conn: Connection, campaign_id: int) -> str:
    """The SHA-256 of the TIFF-F a campaign sends."""
    sha: str | None = conn.execute(
        select(renditions.c.tiff_sha256)
        .join(campaigns, campaigns.c.rendition_id == renditions.c.id)
        .where(campaigns.c.id == campaign_id)
    ).scalar()
    if sha is None:
        raise NotFoundError(codes.NO_CAMPAIGN(campaign=campaign_id))
    return sha


def list_campaigns(
    conn: Connection,
    account_id: int,
    line_id: int,
    *,
    states: Iterable[CampaignState] = (),
    sort: CampaignSort = CampaignSort.CREATED_AT,
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> Page[Campaign]:
    """The line's campaigns, filtered by state, sorted and paginated."""
    where = [campaigns.c.account_id == account_id, campaigns.c.line_id == line_id]
    wanted = [s.value for s in states]
    if wanted:
        where.append(campaigns.c.state.in_(wanted))
    total = conn.execute(select(func.count()).select_from(campaigns).where(*where)).scalar_one()
    column = campaigns.c[sort.field]
    # Empty dates (manual or unstarted campaigns) last either way, on both databases.
    order = (column.desc() if descending else column.asc()).nulls_last()
    tie = campaigns.c.id.desc() if descending else campaigns.c.id.asc()
    rows = conn.execute(
        _campaigns_query()
        .where(*where)
        .order_by(order, tie)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return Page([campaign_of(r) for r in rows], total, page, page_size)


def save_campaign(conn: Connection, before: Campaign, after: Campaign) -> None:
    """Write the lifecycle `after` decided from `before`; ConflictError if it moved meanwhile.

    The one place a campaign's state is written (a test keeps it so).
    """
    moved = conn.execute(
        sql.statement(conn.dialect.name, "save_campaign"),
        {
            "id": before.id,
            "expected_state": before.state.value,
            "state": after.state.value,
            "outcome": after.outcome.value,
            "error": after.error,
            "started_at": after.started_at,
            "finished_at": after.finished_at,
        },
    ).rowcount
    if moved != 1:
        raise ConflictError(codes.CHANGED_MEANWHILE(name=before.name))


def delete_campaign(conn: Connection, campaign: Campaign) -> bool:
    """Remove the campaign, its recipients and attempts; False if its state changed."""
    conn.execute(recipients.delete().where(recipients.c.campaign_id == campaign.id))
    result = conn.execute(
        campaigns.delete().where(
            campaigns.c.id == campaign.id, campaigns.c.state == campaign.state.value
        )
    )
    return result.rowcount == 1


def campaign_numbers(conn: Connection, campaign_id: int) -> list[tuple[int, str]]:
    """(id, number) of each of the campaign's recipients, in list order."""
    rows = conn.execute(
        select(recipients.c.id, recipients.c.number)
        .where(recipients.c.campaign_id == campaign_id)
        .order_by(recipients.c.position)
    )
    return [(row.id, row.number) for row in rows]


def called_recipients(conn: Connection, campaign_id: int) -> int:
    """How many of the campaign's recipients were ever claimed, called, settled or held."""
    count: int = conn.execute(
        select(func.count())
        .select_from(recipients)
        .where(
            recipients.c.campaign_id == campaign_id,
            or_(
                recipients.c.state != RecipientState.PENDING.value,
                recipients.c.calls > 0,
                recipients.c.claimed_at.is_not(None),
                recipients.c.held_until.is_not(None),
            ),
        )
    ).scalar_one()
    return count


_DELETE_BATCH: Final = 1000


def remove_recipients(
    conn: Connection, before: Campaign, after: Campaign, ids: Sequence[int]
) -> None:
    """Take recipients out of a campaign `after` decided they may leave: the others' positions
    close up (the details page by position), and its total follows."""
    deleted = 0
    # A batch at a time: a statement takes at most 32 766 parameters on SQLite, 65 535 on
    # PostgreSQL, and a list may hold more flagged numbers than that.
    for start in range(0, len(ids), _DELETE_BATCH):
        batch = ids[start : start + _DELETE_BATCH]
        deleted += conn.execute(recipients.delete().where(recipients.c.id.in_(batch))).rowcount
    if deleted != len(ids):
        raise ConflictError(codes.CHANGED_MEANWHILE(name=before.name))
    # Positions are unique in a campaign and checked row by row: the new ones are written
    # negative first, then turned round, so that no row ever takes a position still held.
    renumbered = (
        select(
            recipients.c.id,
            func.row_number().over(order_by=recipients.c.position).label("position"),
        )
        .where(recipients.c.campaign_id == before.id)
        .subquery()
    )
    conn.execute(
        update(recipients)
        .where(recipients.c.id == renumbered.c.id, recipients.c.position != renumbered.c.position)
        .values(position=-renumbered.c.position)
    )
    conn.execute(
        update(recipients)
        .where(recipients.c.campaign_id == before.id, recipients.c.position < 0)
        .values(position=-recipients.c.position)
    )
    moved = conn.execute(
        sql.statement(conn.dialect.name, "count_removed"),
        {
            "id": before.id,
            "expected_total": before.count_total,
            "count_total": after.count_total,
        },
    ).rowcount
    if moved != 1:
        raise ConflictError(codes.CHANGED_MEANWHILE(name=before.name))


def campaign_recipients(
    conn: Connection, campaign_id: int, *, first: int = 1, count: int | None = None
) -> list[Recipient]:
    """The campaign's recipients from list position `first` (`count` of them, else all), with
    their attempts, in list order."""
    where = [recipients.c.campaign_id == campaign_id, recipients.c.position >= first]
    if count is not None:
        where.append(recipients.c.position < first + count)
    rows = conn.execute(select(recipients).where(*where).order_by(recipients.c.position)).all()
    calls: dict[int, list[Attempt]] = {}
    if count is None:
        chosen = attempts.c.campaign_id == campaign_id
    else:
        chosen = attempts.c.recipient_id.in_([r.id for r in rows])
    for row in conn.execute(select(attempts).where(chosen).order_by(attempts.c.id)):
        calls.setdefault(row.recipient_id, []).append(_attempt(row))
    return [
        Recipient(
            r.id,
            r.position,
            r.number,
            r.typed,
            RecipientState(r.state),
            r.calls,
            r.pages_confirmed,
            r.reason,
            r.due_at,
            r.settled_at,
            tuple(calls.get(r.id, ())),
            history_of(r),
        )
        for r in rows
    ]


def waiting_retries(
    conn: Connection, campaign_ids: Sequence[int]
) -> Iterator[tuple[int, datetime, RecipientHistory]]:
    """(campaign id, due time, history) of the campaigns' recipients waiting for a retry, by
    campaign, read a batch at a time."""
    if not campaign_ids:
        return
    query = (
        select(recipients)
        .where(
            recipients.c.campaign_id.in_(campaign_ids),
            recipients.c.state == RecipientState.PENDING.value,
            recipients.c.due_at.is_not(None),
        )
        .order_by(recipients.c.campaign_id)
    )
    for row in conn.execution_options(yield_per=1000).execute(query):
        yield row.campaign_id, row.due_at, history_of(row)


def history_of(row: Row[Any]) -> RecipientHistory:
    """A recipient row's call history, as the retry policy reads it."""
    return RecipientHistory(
        dials=row.dials,
        tries=row.tries,
        no_fax=row.no_fax,
        first_dial_at=row.first_dial_at,
        pages_confirmed=row.pages_confirmed,
        waited_s=row.waited_s,
    )


def get_attempt(conn: Connection, account_id: int, line_id: int, attempt_id: int) -> Attempt:
    """One attempt of the line's campaigns, or NotFoundError."""
    row = (
        conn.execute(
            select(attempts)
            .join(campaigns, campaigns.c.id == attempts.c.campaign_id)
            .where(
                attempts.c.id == attempt_id,
                campaigns.c.account_id == account_id,
                campaigns.c.line_id == line_id,
            )
        ).first()
        if storable(account_id, line_id, attempt_id)
        else None
    )
    if row is None:
        raise NotFoundError(codes.NO_ATTEMPT(attempt=attempt_id, line=line_id))
    return _attempt(row)


def campaign_of(row: Row[Any], *, pages: int | None = None) -> Campaign:
    """A campaign from its row; `pages` when the row does not carry its rendition's."""
    return Campaign(
        id=row.id,
        account_id=row.account_id,
        line_id=row.line_id,
        reference=row.reference,
        name=row.name,
        document_id=row.document_id,
        pages=row.pages if pages is None else pages,
        quality=Quality(row.quality),
        send_type=SendType(row.send_type),
        send_at=row.send_at,
        state=CampaignState(row.state),
        outcome=CampaignOutcome(row.outcome),
        count_total=row.count_total,
        count_delivered=row.count_delivered,
        count_failed=row.count_failed,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


_ATTEMPT_FIELDS: Final = frozenset(f.name for f in dataclasses.fields(Attempt))


def _attempt(row: Row[Any]) -> Attempt:
    # The read model is the table's columns but the two keys that place the row (a test checks it).
    values = {c.name: row._mapping[c] for c in attempts.c if c.name in _ATTEMPT_FIELDS}
    values["failure"] = FailureClass(row.failure) if row.failure else None
    return Attempt(**values)
