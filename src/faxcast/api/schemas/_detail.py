"""A campaign's detail: its numbers by outcome, every recipient and every call made to it."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field

from faxcast.api.schemas._base import Schema, UtcTime
from faxcast.api.schemas._campaigns import Campaign
from faxcast.domain import models
from faxcast.domain.outcome import FailureClass
from faxcast.domain.recipient import RecipientState

ReceivedUrl = Callable[[models.Attempt], str | None]
"""Gives the URL of the fax an attempt received, or None when nothing was kept."""


class Attempt(Schema):
    """One call to one recipient and its result."""

    id: int
    started_at: UtcTime
    answered_at: UtcTime | None
    ended_at: UtcTime
    duration_s: float
    delivered: bool
    failure: FailureClass | None
    reason: str
    sip_status: int | None
    t30_code: int | None
    t30_text: str | None
    pages_confirmed: int
    pages_total: int
    bit_rate: int | None
    ecm: bool | None
    resolution: str | None
    t38: bool | None
    remote_ident: str | None
    received: str | None = Field(description="URL of the TIFF-F the far end received, if kept")

    @classmethod
    def of(cls, attempt: models.Attempt, *, received: str | None) -> Attempt:
        """The read model's fields, each read by name, and the URL of what was received."""
        read = {name: getattr(attempt, name) for name in cls.model_fields.keys() - {"received"}}
        return cls.model_validate({**read, "received": received})


class Recipient(Schema):
    """One number of a campaign, where it stands and every call made to it."""

    number: str = Field(description="as dialled: E.164, or as typed when it could not be made so")
    typed: str | None = Field(description="the entry as typed, when it differs from `number`")
    position: int
    state: RecipientState
    calls: int
    pages_confirmed: int
    reason: str | None
    due_at: UtcTime | None
    settled_at: UtcTime | None
    next_call_at: UtcTime | None = Field(description="when it is called again, if it waits")
    tries_left: int | None = Field(
        description="calls left if the last call's failure happens again (retry policy); null "
        "when it does not wait for a retry or that failure counts against no limit"
    )
    attempts: list[Attempt]

    @classmethod
    def of(cls, recipient: models.Recipient, *, received: ReceivedUrl) -> Recipient:
        """The schema of a read model; `received` gives the URL of what an attempt received."""
        return cls(
            number=recipient.number,
            typed=recipient.typed,
            position=recipient.position,
            state=recipient.state,
            calls=recipient.calls,
            pages_confirmed=recipient.pages_confirmed,
            reason=recipient.reason,
            due_at=recipient.due_at,
            settled_at=recipient.settled_at,
            next_call_at=recipient.next_call_at,
            tries_left=recipient.tries_left,
            attempts=[Attempt.of(a, received=received(a)) for a in recipient.attempts],
        )


class RetriesWaiting(Schema):
    """What a running campaign only waits for: numbers to call again."""

    count: int = Field(description="numbers waiting for a retry")
    next_call_at: UtcTime = Field(description="when the next of them is called")
    last_try_by: UtcTime = Field(description="the latest a retry is made (kill time)")


class CampaignDetail(Schema):
    """A campaign and the result of every send: numbers by outcome, then each recipient."""

    campaign: Campaign
    todo: list[str] = Field(description="numbers not settled yet (waiting or in a call)")
    success: list[str] = Field(description="numbers delivered")
    failed: list[str] = Field(description="numbers that failed for good")
    recipients: list[Recipient]
    retries: RetriesWaiting | None = Field(
        description="set when the campaign runs and only waits for retries"
    )

    @classmethod
    def of(cls, detail: models.CampaignDetail, *, received: ReceivedUrl) -> CampaignDetail:
        """The schema of a read model."""
        return cls(
            campaign=Campaign.of(detail.campaign),
            todo=detail.numbers(RecipientState.PENDING, RecipientState.IN_CALL),
            success=detail.numbers(RecipientState.DELIVERED),
            failed=detail.numbers(RecipientState.FAILED),
            recipients=[Recipient.of(r, received=received) for r in detail.recipients],
            retries=None
            if detail.retries is None
            else RetriesWaiting(
                count=detail.retries.count,
                next_call_at=detail.retries.next_call_at,
                last_try_by=detail.retries.last_try_by,
            ),
        )
