"""Read-only counts for monitoring, each read along an index (they run at every scrape)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, ScalarSelect, func, select

from faxcast.domain.campaign import CampaignState
from faxcast.domain.recipient import RecipientState
from faxcast.store.tables import campaigns, lines, recipients


@dataclass(frozen=True)
class QueueDepth:
    """Pending recipients: due now or waiting for a retry (running campaigns), or scheduled."""

    due: int
    retry_wait: int
    scheduled: int


@dataclass(frozen=True)
class LineCalls:
    """A line's calls in progress (held ones included), across every worker, and its limit."""

    account_id: int
    line_id: int
    calls: int
    channels: int


def queue_depth(conn: Connection, *, now: datetime) -> QueueDepth:
    """Count pending recipients of running and scheduled campaigns.

    Three counts per campaign, each a range of the claim index (campaign, state, due time), so
    the cost grows with the recipients counted, never with the history of finished campaigns.
    """
    pending = (recipients.c.campaign_id == campaigns.c.id) & (
        recipients.c.state == RecipientState.PENDING.value
    )

    def count(*where: ColumnElement[bool]) -> ScalarSelect[int]:
        return select(func.count()).where(pending, *where).scalar_subquery()

    due_at = recipients.c.due_at
    rows = conn.execute(
        select(
            campaigns.c.state,
            count(due_at.is_(None)),
            count(due_at <= now),
            count(due_at > now),
        ).where(campaigns.c.state.in_([CampaignState.RUNNING.value, CampaignState.SCHEDULED.value]))
    ).all()
    due = retry_wait = scheduled = 0
    for state, first, retry, later in rows:
        if state == CampaignState.RUNNING.value:
            due += first + retry
            retry_wait += later
        else:  # a scheduled campaign's recipients all wait for its time
            scheduled += first + retry + later
    return QueueDepth(due=due, retry_wait=retry_wait, scheduled=scheduled)


def calls_by_line(conn: Connection, *, now: datetime) -> list[LineCalls]:
    """Every line with its calls in progress, held ones included, idle lines at 0.

    As a claim counts them: in a call (the (line, state) index) or held (the holds' index).
    """
    in_call = (recipients.c.line_id == lines.c.id) & (
        (recipients.c.state == RecipientState.IN_CALL.value) | (recipients.c.held_until > now)
    )
    rows = conn.execute(
        select(lines.c.account_id, lines.c.id, func.count(recipients.c.id), lines.c.channel_limit)
        .select_from(lines.outerjoin(recipients, in_call))
        .group_by(lines.c.account_id, lines.c.id, lines.c.channel_limit)
        .order_by(lines.c.id)
    ).all()
    return [LineCalls(*row) for row in rows]
