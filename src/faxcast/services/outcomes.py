"""Recording what calls achieved: the worker's use cases, in group-commit batches.

Each batch is one transaction: the attempts, the recipients moved on by the retry policy, the
campaigns' counts, and whatever their lifecycle decides (finished, stop ended, failed).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert

from faxcast.domain.campaign import CampaignState
from faxcast.domain.models import Claim
from faxcast.domain.outcome import FailureClass
from faxcast.domain.recipient import RecipientState
from faxcast.domain.retry import GiveUp, RetryDecision, RetryPolicy
from faxcast.lines.base import CallResult
from faxcast.services import campaigns
from faxcast.services.context import Services
from faxcast.store import queue, repository
from faxcast.store.tables import attempts

# Built once: SQLAlchemy spends more building it than the database running it.
_INSERT_ATTEMPT = insert(attempts)
INTERRUPTED = "interrupted: the worker placing the call stopped"


@dataclass(frozen=True)
class Finished:
    """A call that has ended, to record: its claim, what it achieved and who placed it."""

    claim: Claim
    result: CallResult
    worker_id: str | None
    rand: float
    received_sha256: str | None = None


def record_outcomes(svc: Services, calls: Sequence[Finished]) -> list[RecipientState]:
    """Store the calls' results (and what the far ends received) in one transaction."""
    with svc.transaction() as conn:
        now = svc.clock.now()
        return record(
            conn,
            [
                dataclasses.replace(
                    call, received_sha256=svc.blobs.put(conn, call.result.received_tiff, now=now)
                )
                if call.result.received_tiff
                else call
                for call in calls
            ],
            policy=svc.settings.retry_policy,
            now=now,
        )


def recover_abandoned(svc: Services, *, rand: Callable[[], float]) -> int:
    """Close calls of dead workers and expired leases as interrupted; the retry policy decides."""
    now = svc.clock.now()
    dead_before = now - timedelta(seconds=svc.settings.dead_worker_s)
    with svc.transaction() as conn:
        calls: list[Finished] = []
        for row in queue.abandoned_claims(conn, now=now, dead_before=dead_before):
            line = repository.get_line(conn, row.account_id, row.line_id)
            for claim in queue.claimed(conn, line, [row.id]):
                interrupted = CallResult(
                    started_at=claim.claimed_at or now,
                    answered_at=None,
                    ended_at=now,
                    sip_status=None,
                    failure=FailureClass.TRANSFER_FAILED,
                    reason=INTERRUPTED,
                    fax=None,
                )
                calls.append(Finished(claim, interrupted, row.worker_id, rand()))
        svc.metrics.recovered(len(calls))
        record(conn, calls, policy=svc.settings.retry_policy, now=now)
        queue.prune_dead_workers(conn, dead_before=dead_before)
    return len(calls)


def record(
    conn: Connection, calls: Sequence[Finished], *, policy: RetryPolicy, now: datetime
) -> list[RecipientState]:
    """Store each call's attempt and move its recipient on (delivered, retry later, failed).

    One transaction for a batch: a worker whose calls end together writes them together, so
    the campaign rows they share are updated once, not once per call.
    """
    if not calls:
        return []
    conn.execute(_INSERT_ATTEMPT, [_attempt_values(call) for call in calls])
    rows = queue.lock_holders(conn, [call.claim.recipient_id for call in calls])
    # A call whose recipient was meanwhile closed by recovery (lease expired) moves nothing.
    held = {row.id: row.worker_id for row in rows if row.state == RecipientState.IN_CALL.value}
    campaign_states = {row.campaign_id: CampaignState(row.campaign_state) for row in rows}
    pages = {call.claim.campaign_id: call.claim.pages for call in calls}
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
            campaigns.fail_campaign(
                conn,
                claim.account_id,
                claim.line.id,
                claim.campaign_id,
                reason=call.result.reason,
                now=now,
            )
            campaign_states[claim.campaign_id] = CampaignState.ERROR
        if held.get(claim.recipient_id, "") == call.worker_id:
            moves.append(values)
            settled[claim.campaign_id][state] += 1
    if moves:
        queue.end_leases(conn, moves)
    for campaign_id, counts in settled.items():
        campaign = queue.count_settled(
            conn,
            campaign_id,
            delivered=counts[RecipientState.DELIVERED],
            failed=counts[RecipientState.FAILED],
            pages=pages[campaign_id],
        )
        campaigns.progress(conn, campaign, now=now)
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
    call: Finished, campaign_state: CampaignState, *, policy: RetryPolicy, now: datetime
) -> tuple[RecipientState, dict[str, object], bool]:
    """The recipient's next state, its row's new values, and whether the campaign must fail."""
    claim, result = call.claim, call.result
    values: dict[str, object] = {
        "id": claim.recipient_id,
        "reason": result.reason,
        "due_at": None,
        "settled_at": now,
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
        if campaign_state is CampaignState.ERROR:
            decision: RetryDecision = GiveUp("the campaign cannot run")
        else:
            decision = policy.for_quality(claim.quality).decide(
                history, failure, now=now, rand=call.rand
            )
        if isinstance(decision, GiveUp):
            state, campaign_error = RecipientState.FAILED, decision.campaign_error
            values["reason"] = f"{decision.reason} (last call: {result.reason})"
        else:
            state, campaign_error = RecipientState.PENDING, False
            values.update(due_at=decision.at, settled_at=None)
    values.update(
        state=state.value,
        dials=history.dials,
        tries=history.tries,
        no_fax=history.no_fax,
        first_dial_at=history.first_dial_at,
        pages_confirmed=history.pages_confirmed,
    )
    return state, values, campaign_error


def _failure(result: CallResult) -> FailureClass:
    return result.failure or FailureClass.TRANSFER_FAILED
