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
from typing import Any

from sqlalchemy import Connection, Row, insert

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
LEASE_LOST = "interrupted: the worker placing the call stopped renewing its claim on it"
HUNG_UP = "hung up by its worker, which could not renew its claim on the call in time"
# The watchdog's slack beyond a call's cap, for its set-up.
CAP_MARGIN_S = 60.0


def longest_end(claim: Claim) -> datetime:
    """When the claim's call has ended at the latest: the worker's watchdog ends it by then."""
    return claim.claimed_at + timedelta(seconds=claim.cap_s + CAP_MARGIN_S)


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


def recover_abandoned(svc: Services, *, rand: Callable[[], float], gone: Sequence[str] = ()) -> int:
    """Close as interrupted the calls whose lease expired or whose worker is `gone`.

    The retry policy decides what comes next. A call whose lease expired is held (its channel
    and number) until its late result or its longest end: its worker may be paused mid-call.
    Holds whose end has come are then released, and the stops they kept going may end.
    """
    now = svc.clock.now()
    with svc.transaction() as conn:
        calls: list[Finished] = []
        held: list[Claim] = []
        for row in queue.abandoned_claims(conn, now=now, gone=gone):
            line = repository.get_line(conn, row.account_id, row.line_id)
            reason = INTERRUPTED if row.worker_id in gone else LEASE_LOST
            for claim in queue.claimed(conn, line, [row.id]):
                interrupted = CallResult(
                    started_at=claim.claimed_at or now,
                    answered_at=None,
                    ended_at=now,
                    sip_status=None,
                    failure=FailureClass.TRANSFER_FAILED,
                    reason=reason,
                    fax=None,
                )
                calls.append(Finished(claim, interrupted, row.worker_id, rand()))
                if row.worker_id not in gone:
                    held.append(claim)
        svc.metrics.recovered(len(calls))
        # Held before they are recorded: a stop the held calls keep going does not end yet.
        for claim in held:
            queue.hold_recovered(conn, claim.recipient_id, held_until=longest_end(claim))
        record(conn, calls, policy=svc.settings.retry_policy, now=now)
        for worker_id in gone:
            queue.unregister_worker(conn, worker_id)
        queue.prune_dead_workers(
            conn, dead_before=now - timedelta(seconds=svc.settings.dead_worker_s)
        )
    # Apart: it locks recipients, then campaigns, as recording does, not after them.
    campaigns.end_expired_holds(svc)
    return len(calls)


def record(
    conn: Connection, calls: Sequence[Finished], *, policy: RetryPolicy, now: datetime
) -> list[RecipientState]:
    """Store each call's attempt and move its recipient on (delivered, retry later, failed).

    One transaction for a batch: a worker whose calls end together writes them together, so
    the campaign rows they share are updated once, not once per call. A call recorded late
    (its claim was recovered meanwhile) replaces the interrupted attempt recovery wrote for it,
    and moves its recipient only to deliver one that waits for a retry or has failed (a
    finished campaign's status then follows its counts). A call already on record (its first
    write committed, then reported an error) is not written again.
    """
    if not calls:
        return []
    ids = [call.claim.recipient_id for call in calls]
    rows = {row.id: row for row in queue.lock_holders(conn, ids)}
    campaign_states = {row.campaign_id: CampaignState(row.campaign_state) for row in rows.values()}
    late = [not _holds(call, rows.get(call.claim.recipient_id)) for call in calls]
    for call, is_late in zip(calls, late, strict=True):
        if is_late:
            queue.drop_interrupted(conn, call.claim.recipient_id, started_at=call.claim.claimed_at)
    # After the drops: a call's key left on record is its own result, written already.
    on_record = queue.attempts_on_record(conn, ids)
    new = [
        (call.claim.recipient_id, call.claim.claimed_at) not in on_record.calls for call in calls
    ]
    for call, is_late, is_new in zip(calls, late, new, strict=True):
        if is_late and is_new:
            # The call has ended: what recovery held for it is free.
            queue.release_hold(conn, call.claim.recipient_id, held_until=longest_end(call.claim))
    if any(new):
        conn.execute(
            _INSERT_ATTEMPT,
            [_attempt_values(call) for call, is_new in zip(calls, new, strict=True) if is_new],
        )
    pages = {call.claim.campaign_id: call.claim.pages for call in calls}
    moves: list[dict[str, object]] = []
    settled: dict[int, Counter[RecipientState]] = {
        campaign_id: Counter() for campaign_id in sorted(campaign_states)
    }
    unfailed: Counter[int] = Counter()  # by campaign: failed recipients a late call delivered
    states: list[RecipientState] = []
    for call, is_late, is_new in zip(calls, late, new, strict=True):
        claim = call.claim
        state, values, campaign_error = _next_step(
            call,
            campaign_states[claim.campaign_id],
            policy=policy,
            now=now,
            delivered_before=claim.recipient_id in on_record.delivered,
        )
        states.append(state)
        if not is_new:
            continue  # its first write moved the recipient and the campaign already
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
        # A late delivery still settles a recipient waiting for its retry, or one failed for
        # good meanwhile (by its kill time or retry limit: it no longer counts as failed); a
        # recipient in another call is left to it (that call's result sees this delivery).
        row = rows.get(claim.recipient_id)
        was = RecipientState(row.state) if row is not None else None
        if not is_late or (
            call.result.delivered and was in (RecipientState.PENDING, RecipientState.FAILED)
        ):
            moves.append(values)
            settled[claim.campaign_id][state] += 1
            if is_late and was is RecipientState.FAILED:
                unfailed[claim.campaign_id] += 1
    if moves:
        queue.end_leases(conn, moves)
    for campaign_id, counts in settled.items():
        campaign = queue.count_settled(
            conn,
            campaign_id,
            delivered=counts[RecipientState.DELIVERED],
            failed=counts[RecipientState.FAILED] - unfailed[campaign_id],
            pages=pages[campaign_id],
        )
        campaigns.progress(conn, campaign, now=now)
    return states


def _holds(call: Finished, row: Row[Any] | None) -> bool:
    """Whether the call's claim is still its recipient's: the same worker, the same claim."""
    return (
        row is not None
        and row.state == RecipientState.IN_CALL.value
        and row.worker_id == call.worker_id
        and row.claimed_at == call.claim.claimed_at
    )


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
        claimed_at=claim.claimed_at,
    )


def _next_step(
    call: Finished,
    campaign_state: CampaignState,
    *,
    policy: RetryPolicy,
    now: datetime,
    delivered_before: bool,
) -> tuple[RecipientState, dict[str, object], bool]:
    """The recipient's next state, its row's new values, and whether the campaign must fail."""
    claim, result = call.claim, call.result
    values: dict[str, object] = {
        "id": claim.recipient_id,
        "reason": result.reason,
        "due_at": None,
        "settled_at": now,
    }
    if result.delivered or delivered_before:
        # A fax an earlier call delivered (recorded late) is not sent again.
        history = dataclasses.replace(claim.history, pages_confirmed=claim.pages)
        state, campaign_error = RecipientState.DELIVERED, False
        if not result.delivered:
            values["reason"] = f"delivered by an earlier call (last call: {result.reason})"
    else:
        failure = _failure(result)
        confirmed = result.fax.pages_confirmed if result.fax else claim.history.pages_confirmed
        history = claim.history.after(
            failure,
            dialed_at=claim.claimed_at,
            due_at=claim.due_at,
            pages_confirmed=max(0, confirmed - claim.history.pages_confirmed),
        )
        if campaign_state is CampaignState.ERROR:
            decision: RetryDecision = GiveUp("the campaign cannot run")
        else:
            decision = policy.for_call(claim.quality, claim.line.max_calls).decide(
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
        waited_s=history.waited_s,
    )
    return state, values, campaign_error


def _failure(result: CallResult) -> FailureClass:
    return result.failure or FailureClass.TRANSFER_FAILED
