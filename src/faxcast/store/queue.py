"""The queue's operations on the recipients table, each one named statement of `store/sql`.

Each function runs in the caller's transaction; what a statement does is said beside it, in
`sql/queue.<dialect>.sql`. No claim, lease or recovery SQL is built anywhere else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, Row

from faxcast.domain.campaign import Campaign
from faxcast.domain.models import Claim, Line
from faxcast.domain.quality import Quality
from faxcast.errors import NotFoundError
from faxcast.i18n import codes
from faxcast.store import sql
from faxcast.store.repository import campaign_of, history_of, line_of
from faxcast.store.repository._ids import storable


def run(conn: Connection, name: str, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
    """Execute the named statement of the connection's dialect."""
    return conn.execute(sql.statement(conn.dialect.name, name), dict(params or {}))


def run_many(conn: Connection, name: str, params: Sequence[Mapping[str, Any]]) -> None:
    """Execute the named statement once per parameter set, in one round of executemany."""
    conn.execute(sql.statement(conn.dialect.name, name), [dict(p) for p in params])


def register_worker(
    conn: Connection, worker_id: str, *, hostname: str, pid: int, now: datetime
) -> None:
    """Announce a worker; its heartbeats tell the others it is alive."""
    run(
        conn,
        "register_worker",
        {"worker_id": worker_id, "hostname": hostname, "pid": pid, "now": now},
    )


def heartbeat(conn: Connection, worker_id: str, *, now: datetime) -> None:
    """Say this worker is alive."""
    run(conn, "heartbeat", {"worker_id": worker_id, "now": now})


def renew_leases(
    conn: Connection, worker_id: str, recipient_ids: Sequence[int], *, now: datetime, lease_s: float
) -> set[int]:
    """Extend the worker's unexpired leases on these recipients; the ids it still holds."""
    if not recipient_ids:
        return set()
    params = {
        "ids": list(recipient_ids),
        "worker_id": worker_id,
        "now": now,
        "lease_expires_at": now + timedelta(seconds=lease_s),
    }
    return set(run(conn, "renew_leases", params).scalars())


def workers_on_host(conn: Connection, hostname: str, worker_id: str) -> list[tuple[str, int]]:
    """(id, pid) of the other workers registered from `hostname`."""
    rows = run(conn, "workers_on_host", {"hostname": hostname, "worker_id": worker_id})
    return [(row.id, row.pid) for row in rows]


def unregister_worker(conn: Connection, worker_id: str) -> None:
    """A worker that stopped cleanly (its calls have ended)."""
    run(conn, "unregister_worker", {"worker_id": worker_id})


def prune_dead_workers(conn: Connection, *, dead_before: datetime) -> int:
    """Forget workers that stopped beating and hold no call."""
    return run(conn, "prune_dead_workers", {"dead_before": dead_before}).rowcount


def due_campaigns(conn: Connection, *, now: datetime) -> list[tuple[int, int, int]]:
    """(account, line, campaign) ids of scheduled campaigns whose time has come, locked."""
    rows = run(conn, "due_campaigns", {"now": now})
    return [(row.account_id, row.line_id, row.id) for row in rows]


def lines_with_work(conn: Connection, *, now: datetime) -> list[tuple[int, int]]:
    """(account id, line id) of lines with a recipient due in a running campaign."""
    return [(row.account_id, row.line_id) for row in run(conn, "lines_with_work", {"now": now})]


def lock_line(conn: Connection, account_id: int, line_id: int) -> Line:
    """The account's line, locked until the transaction ends: claims on it take turns."""
    params = {"account_id": account_id, "line_id": line_id}
    row = run(conn, "lock_line", params).first() if storable(account_id, line_id) else None
    if row is None:
        raise NotFoundError(codes.NO_LINE(line=line_id, account=account_id))
    return line_of(conn, row)


@dataclass(frozen=True)
class _Candidate:
    id: int
    number: str
    due_at: datetime | None


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
    line = lock_line(conn, account_id, line_id)
    on_line = run(conn, "calls_on_line", {"line_id": line_id, "now": now}).one()
    free = min(line.channel_limit - on_line.calls, most)
    if free <= 0:
        return []
    running = run(conn, "running_campaigns", {"account_id": account_id, "line_id": line_id})
    campaign_ids = list(running.scalars())
    # Twice as many as free: the same number may be due in two campaigns of the line.
    wanted = free * 2
    first_calls = sorted(
        (
            c
            for campaign_id in campaign_ids
            for c in _candidates(conn, "first_calls", campaign_id, now, wanted)
        ),
        key=lambda c: c.id,
    )[:wanted]
    due_retries = sorted(
        (
            c
            for campaign_id in campaign_ids
            for c in _candidates(conn, "due_retries", campaign_id, now, wanted)
        ),
        key=lambda c: (c.due_at or now, c.id),
    )[:wanted]
    # The claim rule, fair to retries so that a busy number gets its dials within the kill
    # time however long the first pass: due retries may hold up to half the line's channels,
    # rounded up (a one-channel line still redials), the line's calls that are retries
    # counted, and take them soonest due first; first calls take the rest in list order;
    # channels one side leaves unused go to the other. One call at a time to a number: the
    # statements skip numbers in a call, and a number chosen once is passed over.
    retry_share = math.ceil(line.channel_limit / 2) - on_line.retries
    chosen: dict[str, int] = {}
    _choose(chosen, due_retries, min(free, retry_share))
    _choose(chosen, first_calls, free)
    _choose(chosen, due_retries, free)
    if not chosen:
        return []
    ids = list(chosen.values())
    run(
        conn,
        "claim_recipients",
        {
            "ids": ids,
            "worker_id": worker_id,
            "now": now,
            "lease_expires_at": now + timedelta(seconds=lease_s),
        },
    )
    return claimed(conn, line, ids)


def _choose(chosen: dict[str, int], candidates: Sequence[_Candidate], up_to: int) -> None:
    """Add candidates to `chosen` (by number) until it holds `up_to` or they run out."""
    for candidate in candidates:
        if len(chosen) >= up_to:
            return
        chosen.setdefault(candidate.number, candidate.id)


def _candidates(
    conn: Connection, name: str, campaign_id: int, now: datetime, most: int
) -> list[_Candidate]:
    params = {"campaign_id": campaign_id, "most": most, "now": now}
    return [_Candidate(r.id, r.number, r.due_at) for r in run(conn, name, params)]


def claimed(conn: Connection, line: Line, ids: list[int]) -> list[Claim]:
    """The claims of recipients in a call, with what their calls need."""
    return [
        Claim(
            recipient_id=row.id,
            campaign_id=row.campaign_id,
            account_id=row.account_id,
            number=row.number,
            quality=Quality(row.quality),
            tiff_sha256=row.tiff_sha256,
            pages=row.pages,
            page_bits=tuple(json.loads(row.page_bits)),
            history=history_of(row),
            line=line,
            claimed_at=row.claimed_at,
            campaign_started_at=row.started_at,
            timezone=row.timezone,
            language=row.language,
            due_at=row.due_at,
        )
        for row in run(conn, "claimed", {"ids": ids})
    ]


def abandoned_claims(
    conn: Connection, *, now: datetime, gone: Sequence[str] = ()
) -> list[Row[Any]]:
    """Calls whose lease expired or whose worker is in `gone` (id, line_id, worker_id...)."""
    return list(run(conn, "abandoned_claims", {"now": now, "gone_ids": list(gone)}))


def lock_holders(conn: Connection, recipient_ids: Sequence[int]) -> list[Row[Any]]:
    """Each recipient's state, holder and campaign state, locked for recording results."""
    return list(run(conn, "lock_holders", {"ids": list(recipient_ids)}))


@dataclass(frozen=True)
class OnRecord:
    """What the attempts on record say of some recipients."""

    delivered: set[int]  # recipients an attempt delivered
    calls: set[tuple[int, datetime]]  # (recipient, claim time) of the calls written


def attempts_on_record(conn: Connection, recipient_ids: Sequence[int]) -> OnRecord:
    """Which of the recipients were delivered, and which of their calls are on record."""
    on_record = OnRecord(set(), set())
    for row in run(conn, "attempts_on_record", {"ids": list(recipient_ids)}):
        if row.delivered:
            on_record.delivered.add(row.recipient_id)
        if row.claimed_at is not None:
            on_record.calls.add((row.recipient_id, row.claimed_at))
    return on_record


def drop_interrupted(conn: Connection, recipient_id: int, *, started_at: datetime) -> int:
    """Remove the interrupted attempt recovery wrote for the call claimed at `started_at`."""
    params = {"recipient_id": recipient_id, "started_at": started_at}
    return run(conn, "drop_interrupted", params).rowcount


def hold_recovered(conn: Connection, recipient_id: int, *, held_until: datetime) -> None:
    """Keep a recovered call's channel and number (so its retry too) until `held_until`."""
    run(conn, "hold_recovered", {"id": recipient_id, "held_until": held_until})


def release_hold(conn: Connection, recipient_id: int, *, held_until: datetime) -> None:
    """End the hold of the call whose hold ends at `held_until` (not a later call's)."""
    run(conn, "release_hold", {"id": recipient_id, "held_until": held_until})


def end_leases(conn: Connection, moves: Sequence[Mapping[str, Any]]) -> None:
    """Move recipients on after their calls and release their leases."""
    run_many(conn, "end_lease", moves)


def fail_pending(conn: Connection, campaign_id: int, *, reason: str, now: datetime) -> int:
    """Fail every recipient of the campaign not in a call; how many."""
    params = {"campaign_id": campaign_id, "reason": reason, "now": now}
    return run(conn, "fail_pending", params).rowcount


def count_settled(
    conn: Connection, campaign_id: int, *, delivered: int, failed: int, pages: int
) -> Campaign:
    """Add settled recipients to the campaign's counts; the campaign as it now stands."""
    params = {"campaign_id": campaign_id, "delivered": delivered, "failed": failed}
    row = run(conn, "count_settled", params).one()
    return campaign_of(row, pages=pages)


def calls_of_campaign(conn: Connection, campaign_id: int, *, now: datetime) -> int:
    """How many of the campaign's calls may be in progress: in a call, or held."""
    params = {"campaign_id": campaign_id, "now": now}
    count: int = run(conn, "calls_of_campaign", params).scalar_one()
    return count


def expire_holds(conn: Connection, *, now: datetime) -> list[tuple[int, int, int]]:
    """End the holds due by `now`; (account, line, campaign) ids of the stopping campaigns
    they were in, in id order."""
    ended = sorted(set(run(conn, "expire_holds", {"now": now}).scalars()))
    if not ended:
        return []
    rows = run(conn, "stopping_campaigns", {"ids": ended})
    return [(row.account_id, row.line_id, row.id) for row in rows]
