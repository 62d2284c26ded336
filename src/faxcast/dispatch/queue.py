"""Queue operations on the recipients table, each meant to run in one short transaction.

Claims lock the line's row first (FOR UPDATE on PostgreSQL; SQLite transactions all begin
IMMEDIATE), so two workers never push a line past its channel limit; the candidates are taken
FOR UPDATE SKIP LOCKED. A unique partial index keeps one call per number system-wide.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql.expression import ColumnElement

from faxcast.domain.campaign import CampaignState, Command, compute_outcome, transition
from faxcast.domain.models import Line
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.domain.retry import GiveUp, RecipientHistory, RetryDecision, RetryPolicy
from faxcast.lines.base import CallResult
from faxcast.store import repository
from faxcast.store.tables import attempts, campaigns, lines, recipients, renditions, workers

# Built once: SQLAlchemy spends more building these than the database running them.
_INSERT_ATTEMPT = insert(attempts)
_MOVE_RECIPIENT = (
    update(recipients)
    .where(recipients.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        reason=bindparam("b_reason"),
        # A settled recipient keeps the due time of its last retry, for the record.
        due_at=func.coalesce(
            bindparam("b_due_at", type_=recipients.c.due_at.type), recipients.c.due_at
        ),
        settled_at=bindparam("b_settled_at", type_=recipients.c.settled_at.type),
        dials=bindparam("b_dials"),
        tries=bindparam("b_tries"),
        no_fax=bindparam("b_no_fax"),
        first_dial_at=bindparam("b_first_dial_at", type_=recipients.c.first_dial_at.type),
        pages_confirmed=bindparam("b_pages_confirmed"),
        worker_id=None,
        claimed_at=None,
        lease_expires_at=None,
    )
)
# Locked in id order, so two batches never wait on each other's rows in a cycle.
_HOLDERS = (
    select(
        recipients.c.id,
        recipients.c.state,
        recipients.c.worker_id,
        recipients.c.campaign_id,
        campaigns.c.state.label("campaign_state"),
    )
    .join(campaigns, campaigns.c.id == recipients.c.campaign_id)
    .where(recipients.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(recipients.c.id)
    .with_for_update(of=recipients)
)
_COUNT_SETTLED = (
    update(campaigns)
    .where(campaigns.c.id == bindparam("b_id"))
    .values(
        count_delivered=campaigns.c.count_delivered + bindparam("b_delivered", type_=Integer),
        count_failed=campaigns.c.count_failed + bindparam("b_failed", type_=Integer),
    )
    .returning(
        campaigns.c.id,
        campaigns.c.name,
        campaigns.c.state,
        campaigns.c.count_total,
        campaigns.c.count_delivered,
        campaigns.c.count_failed,
    )
)
IN_CALL = RecipientState.IN_CALL.value
PENDING = RecipientState.PENDING.value
RUNNING = CampaignState.RUNNING.value
STOPPING = CampaignState.STOPPING.value


@dataclass(frozen=True)
class Claim:
    """A recipient this worker now calls, with what the call needs."""

    recipient_id: int
    campaign_id: int
    account_id: int
    number: str
    quality: Quality
    tiff_sha256: str
    pages: int
    history: RecipientHistory
    line: Line
    claimed_at: datetime


def register_worker(
    conn: Connection, worker_id: str, *, hostname: str, pid: int, now: datetime
) -> None:
    """Announce a worker; its heartbeats tell the others it is alive."""
    conn.execute(
        insert(workers).values(
            id=worker_id, hostname=hostname, pid=pid, started_at=now, heartbeat_at=now
        )
    )


def heartbeat(conn: Connection, worker_id: str, *, now: datetime) -> None:
    """Say this worker is alive."""
    conn.execute(update(workers).where(workers.c.id == worker_id).values(heartbeat_at=now))


def unregister_worker(conn: Connection, worker_id: str) -> None:
    """A worker that stopped cleanly (its calls have ended)."""
    conn.execute(delete(workers).where(workers.c.id == worker_id))


def start_due_campaigns(conn: Connection, *, now: datetime) -> int:
    """Scheduled campaigns whose time has come start running, each exactly once."""
    result = conn.execute(
        update(campaigns)
        .where(campaigns.c.state == CampaignState.SCHEDULED.value, campaigns.c.send_at <= now)
        .values(state=RUNNING, started_at=func.coalesce(campaigns.c.started_at, now))
    )
    return result.rowcount


def lines_with_work(conn: Connection, *, now: datetime) -> list[tuple[int, int]]:
    """(account id, line id) of lines with a recipient due in a running campaign."""
    pending = (recipients.c.campaign_id == campaigns.c.id, recipients.c.state == PENDING)
    rows = conn.execute(
        select(campaigns.c.account_id, campaigns.c.line_id)
        .where(
            campaigns.c.state == RUNNING,
            # Two probes of the claim index rather than one scan of every pending recipient.
            or_(
                exists().where(*pending, recipients.c.due_at.is_(None)),
                exists().where(*pending, recipients.c.due_at <= now),
            ),
        )
        .distinct()
    )
    return [(row.account_id, row.line_id) for row in rows]


def claim(
    conn: Connection,
    *,
    account_id: int,
    line_id: int,
    worker_id: str,
    now: datetime,
    lease_s: float,
    most: int,
) -> list[Claim]:
    """Claim up to `most` due recipients of the line, within its free channels."""
    line = repository.get_line(conn, account_id, line_id)
    conn.execute(select(lines.c.id).where(lines.c.id == line_id).with_for_update())
    busy: int = conn.execute(
        select(func.count())
        .select_from(recipients)
        .where(recipients.c.line_id == line_id, recipients.c.state == IN_CALL)
    ).scalar_one()
    free = min(line.channel_limit - busy, most)
    if free <= 0:
        return []
    running = (
        conn.execute(
            select(campaigns.c.id).where(
                campaigns.c.account_id == account_id,
                campaigns.c.line_id == line_id,
                campaigns.c.state == RUNNING,
            )
        )
        .scalars()
        .all()
    )
    # Twice as many as free: the same number may be due in two campaigns of the line.
    wanted = free * 2
    # Everyone's first call before anyone's retry (in list order), then retries by due time.
    candidates = sorted(
        (c for campaign_id in running for c in _first_calls(conn, campaign_id, most=wanted)),
        key=lambda c: c.id,
    )[:wanted]
    if len(candidates) < wanted:
        retries = (
            c for campaign_id in running for c in _retries(conn, campaign_id, now=now, most=wanted)
        )
        candidates += sorted(retries, key=lambda c: (c.due_at or now, c.id))[
            : wanted - len(candidates)
        ]
    chosen: dict[str, int] = {}
    for row in candidates:
        if len(chosen) < free:
            chosen.setdefault(row.number, row.id)
    if not chosen:
        return []
    ids = list(chosen.values())
    # The candidates are locked and pending: by primary key alone, whatever the planner's
    # statistics say of a list just inserted (a state filter made it scan the whole list).
    conn.execute(
        update(recipients)
        .where(recipients.c.id.in_(ids))
        .values(
            state=IN_CALL,
            worker_id=worker_id,
            claimed_at=now,
            lease_expires_at=now + timedelta(seconds=lease_s),
            calls=recipients.c.calls + 1,
        )
    )
    return _claims(conn, line, ids)


@dataclass(frozen=True)
class _Candidate:
    id: int
    number: str
    due_at: datetime | None


def _first_calls(conn: Connection, campaign_id: int, *, most: int) -> list[_Candidate]:
    """A campaign's recipients never called yet, in list order, locked.

    A pending recipient has no due time exactly when it was never called: every failed call
    sets the time of the next.
    """
    return _candidates(conn, campaign_id, recipients.c.due_at.is_(None), most)


def _retries(conn: Connection, campaign_id: int, *, now: datetime, most: int) -> list[_Candidate]:
    """A campaign's recipients due for another call, soonest due first, locked."""
    return _candidates(conn, campaign_id, recipients.c.due_at <= now, most)


def _candidates(
    conn: Connection,
    campaign_id: int,
    due: ColumnElement[bool],
    most: int,
) -> list[_Candidate]:
    # In the claim index's own order (campaign, state, due time, id), so the database reads
    # the first `most` entries instead of sorting the whole list; due_at is NULL for every
    # first call, so this is list order for them.
    numbers_in_call = select(recipients.c.number).where(recipients.c.state == IN_CALL)
    rows = conn.execute(
        select(recipients.c.id, recipients.c.number, recipients.c.due_at)
        .where(
            recipients.c.campaign_id == campaign_id,
            recipients.c.state == PENDING,
            due,
            recipients.c.number.not_in(numbers_in_call),
        )
        .order_by(recipients.c.due_at, recipients.c.id)
        .limit(most)
        .with_for_update(skip_locked=True)
    )
    return [_Candidate(row.id, row.number, row.due_at) for row in rows]


def _claims(conn: Connection, line: Line, ids: list[int]) -> list[Claim]:
    rows = conn.execute(
        select(
            recipients,
            campaigns.c.account_id,
            campaigns.c.quality,
            renditions.c.tiff_sha256,
            renditions.c.pages,
        )
        .join(campaigns, campaigns.c.id == recipients.c.campaign_id)
        .join(renditions, renditions.c.id == campaigns.c.rendition_id)
        .where(recipients.c.id.in_(ids))
        .order_by(recipients.c.id)
    )
    return [
        Claim(
            recipient_id=row.id,
            campaign_id=row.campaign_id,
            account_id=row.account_id,
            number=row.number,
            quality=Quality(row.quality),
            tiff_sha256=row.tiff_sha256,
            pages=row.pages,
            history=RecipientHistory(
                dials=row.dials,
                tries=row.tries,
                no_fax=row.no_fax,
                first_dial_at=row.first_dial_at,
                pages_confirmed=row.pages_confirmed,
            ),
            line=line,
            claimed_at=row.claimed_at,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Finished:
    """A call that has ended, to record: its claim, what it achieved and who placed it."""

    claim: Claim
    result: CallResult
    worker_id: str | None
    rand: float
    received_sha256: str | None = None


def record_results(
    conn: Connection, calls: Sequence[Finished], *, policy: RetryPolicy, now: datetime
) -> list[RecipientState]:
    """Store each call's attempt and move its recipient on (delivered, retry later, failed).

    One transaction for a batch: a worker whose calls end together writes them together, so
    the campaign rows they share are updated once, not once per call.
    """
    if not calls:
        return []
    conn.execute(_INSERT_ATTEMPT, [_attempt_values(call) for call in calls])
    rows = conn.execute(_HOLDERS, {"ids": [call.claim.recipient_id for call in calls]}).all()
    # A call whose recipient was meanwhile closed by recovery (lease expired) moves nothing.
    held = {row.id: row.worker_id for row in rows if row.state == IN_CALL}
    campaign_states: dict[int, str] = {row.campaign_id: row.campaign_state for row in rows}
    moves: list[dict[str, object]] = []
    settled: dict[int, Counter[RecipientState]] = {
        campaign_id: Counter() for campaign_id in sorted(campaign_states)
    }
    states: list[RecipientState] = []
    for call in calls:
        claim = call.claim
        state, values, campaign_error = _next_step(
            call, campaign_states[claim.campaign_id], policy=policy, now=now
        )
        states.append(state)
        if campaign_error:
            fail_campaign(conn, claim.campaign_id, reason=call.result.reason, now=now)
            campaign_states[claim.campaign_id] = CampaignState.ERROR.value
        if claim.recipient_id in held and held[claim.recipient_id] == call.worker_id:
            moves.append(values)
            settled[claim.campaign_id][state] += 1
    if moves:
        conn.execute(_MOVE_RECIPIENT, moves)
    for campaign_id, counts in settled.items():
        campaign = conn.execute(
            _COUNT_SETTLED,
            {
                "b_id": campaign_id,
                "b_delivered": counts[RecipientState.DELIVERED],
                "b_failed": counts[RecipientState.FAILED],
            },
        ).one()
        _settle(conn, campaign, now=now)
    return states


def _attempt_values(call: Finished) -> dict[str, object]:
    claim, result, fax = call.claim, call.result, call.result.fax
    return dict(
        recipient_id=claim.recipient_id,
        campaign_id=claim.campaign_id,
        number=claim.number,
        started_at=result.started_at,
        answered_at=result.answered_at,
        ended_at=result.ended_at,
        line_s=fax.duration_s if fax else None,
        delivered=result.delivered,
        failure=None if result.delivered else _failure(result).value,
        reason=result.reason,
        sip_status=result.sip_status,
        t30_code=int(fax.code) if fax else None,
        t30_text=fax.code_text if fax else None,
        pages_confirmed=fax.pages_confirmed if fax else claim.history.pages_confirmed,
        pages_total=claim.pages,
        # SpanDSP reports its configured rate even when no modem ever trained.
        bit_rate=fax.bit_rate if fax and fax.failure is not FailureClass.NO_FAX else None,
        ecm=fax.ecm if fax else None,
        resolution=fax.resolution.value if fax and fax.resolution else None,
        t38=fax.t38 if fax else None,
        remote_ident=fax.remote_ident[:20] if fax else None,
        received_sha256=call.received_sha256,
    )


def _next_step(
    call: Finished, campaign_state: str, *, policy: RetryPolicy, now: datetime
) -> tuple[RecipientState, dict[str, object], bool]:
    """The recipient's next state, its row's new values, and whether the campaign must fail."""
    claim, result = call.claim, call.result
    values: dict[str, object] = {
        "b_id": claim.recipient_id,
        "b_reason": result.reason,
        "b_due_at": None,
        "b_settled_at": now,
    }
    if result.delivered:
        history = dataclasses.replace(claim.history, pages_confirmed=claim.pages)
        state, campaign_error = RecipientState.DELIVERED, False
    else:
        failure = _failure(result)
        confirmed = result.fax.pages_confirmed if result.fax else claim.history.pages_confirmed
        history = claim.history.after(
            failure,
            dialed_at=claim.claimed_at,
            pages_confirmed=max(0, confirmed - claim.history.pages_confirmed),
        )
        if campaign_state == CampaignState.ERROR.value:
            decision: RetryDecision = GiveUp("the campaign cannot run")
        else:
            decision = policy.for_quality(claim.quality).decide(
                history, failure, now=now, rand=call.rand
            )
        if isinstance(decision, GiveUp):
            state, campaign_error = RecipientState.FAILED, decision.campaign_error
            values["b_reason"] = f"{decision.reason} (last call: {result.reason})"
        else:
            state, campaign_error = RecipientState.PENDING, False
            values.update(b_due_at=decision.at, b_settled_at=None)
    values.update(
        b_state=state.value,
        b_dials=history.dials,
        b_tries=history.tries,
        b_no_fax=history.no_fax,
        b_first_dial_at=history.first_dial_at,
        b_pages_confirmed=history.pages_confirmed,
    )
    return state, values, campaign_error


def _failure(result: CallResult) -> FailureClass:
    return result.failure or FailureClass.TRANSFER_FAILED


def fail_campaign(conn: Connection, campaign_id: int, *, reason: str, now: datetime) -> None:
    """The campaign cannot run: every recipient not in a call fails with it."""
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()
    transition(CampaignState(row.state), Command.FAIL, name=row.name)
    failed = conn.execute(
        update(recipients)
        .where(recipients.c.campaign_id == campaign_id, recipients.c.state == PENDING)
        .values(
            state=RecipientState.FAILED.value,
            reason=f"the campaign cannot run: {reason}",
            settled_at=now,
        )
    ).rowcount
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(
            state=CampaignState.ERROR.value,
            outcome="error",
            error=reason,
            finished_at=now,
            count_failed=campaigns.c.count_failed + failed,
        )
    )


def _settle(conn: Connection, row: Row[Any], *, now: datetime) -> None:
    """Finish a campaign with nobody left to try; end a stop once its calls are over."""
    if row.state not in (RUNNING, STOPPING):
        return
    state = CampaignState(row.state)
    # The counts are kept in the same transactions as the recipients: no need to count rows.
    if row.count_delivered + row.count_failed >= row.count_total:
        new_state = transition(state, Command.SETTLE, name=row.name)
        outcome = compute_outcome(row.count_delivered, row.count_failed, row.count_total)
        values: dict[str, object] = {
            "state": new_state.value,
            "outcome": outcome.value,
            "finished_at": now,
        }
    elif state is CampaignState.STOPPING and not _any_in_call(conn, row.id):
        values = {"state": transition(state, Command.END_STOP, name=row.name).value}
    else:
        return
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == row.id, campaigns.c.state == row.state)
        .values(**values)
    )


def _any_in_call(conn: Connection, campaign_id: int) -> bool:
    return (
        conn.execute(
            select(recipients.c.id)
            .where(recipients.c.campaign_id == campaign_id, recipients.c.state == IN_CALL)
            .limit(1)
        ).first()
        is not None
    )


def abandoned_claims(conn: Connection, *, now: datetime, dead_before: datetime) -> list[Claim]:
    """Calls whose lease expired or whose worker stopped beating: to close as interrupted."""
    alive = select(workers.c.id).where(workers.c.heartbeat_at >= dead_before)
    rows = conn.execute(
        select(
            recipients.c.id, recipients.c.line_id, recipients.c.worker_id, campaigns.c.account_id
        )
        .join(campaigns, campaigns.c.id == recipients.c.campaign_id)
        .where(
            recipients.c.state == IN_CALL,
            or_(
                recipients.c.lease_expires_at < now,
                recipients.c.worker_id.is_(None),
                recipients.c.worker_id.not_in(alive),
            ),
        )
        .with_for_update(of=recipients, skip_locked=True)
    ).all()
    claims: list[Claim] = []
    for row in rows:
        line = repository.get_line(conn, row.account_id, row.line_id)
        claims.extend(_claims(conn, line, [row.id]))
    return claims


def worker_of(conn: Connection, recipient_id: int) -> str | None:
    """The worker holding a recipient's call, if any."""
    worker: str | None = conn.execute(
        select(recipients.c.worker_id).where(recipients.c.id == recipient_id)
    ).scalar()
    return worker


def prune_dead_workers(conn: Connection, *, dead_before: datetime) -> int:
    """Forget workers that stopped beating and hold no call."""
    holding = select(recipients.c.worker_id).where(
        recipients.c.state == IN_CALL, recipients.c.worker_id.is_not(None)
    )
    return conn.execute(
        delete(workers).where(workers.c.heartbeat_at < dead_before, workers.c.id.not_in(holding))
    ).rowcount
