"""What the API reads and writes: pydantic schemas in the provider's camelCase, apart from tables.

Each response schema has an `of(...)` classmethod that builds it from a service read model, so
routes never hand out rows or read models as they are.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from faxcast.domain import campaign as domain_campaign
from faxcast.domain import models
from faxcast.domain.campaign import CampaignOutcome, CampaignState, SendType
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.fields import Field as InputField
from faxcast.services.new_campaign import NewCampaign


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


UtcTime = Annotated[
    datetime,
    PlainSerializer(_iso_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""An aware datetime written as ISO 8601 in UTC with its offset: 2030-01-15T09:00:00+00:00."""


class Schema(BaseModel):
    """Output schemas: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Form(Schema):
    """Input schemas: unknown fields are refused, so a misspelt field is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- accounts and lines


class AccountCreate(Form):
    """A new account; it comes with one sandbox line."""

    name: str = Field(examples=["Acme sales"])
    timezone: str | None = Field(
        default=None,
        description="IANA time zone; the server's default when absent",
        examples=["UTC"],
    )


class Account(Schema):
    """A tenant: owns lines, documents and campaigns."""

    id: int
    name: str
    timezone: str
    created_at: UtcTime

    @classmethod
    def of(cls, account: models.Account) -> Account:
        """The schema of a read model."""
        return cls(
            id=account.id,
            name=account.name,
            timezone=account.timezone,
            created_at=account.created_at,
        )


class LineCreate(Form):
    """A new fax line; absent optional fields take the server's defaults."""

    name: str = Field(examples=["Sales line"])
    kind: models.LineKind = models.LineKind.SANDBOX
    country: str | None = Field(
        default=None, description="ISO 3166 alpha-2, for national numbers", examples=["FR"]
    )
    ident: str = Field(default="", description="station identifier sent to the far end (TSI)")
    header: str = Field(default="", description="header line printed on top of every page")
    channel_limit: int | None = Field(default=None, description="most calls at once on this line")


class LineSettingsUpdate(Form):
    """A line's settings, replaced as a whole; a line's kind cannot change."""

    name: str
    kind: models.LineKind | None = None
    country: str
    ident: str
    header: str
    channel_limit: int


class LineSettings(Schema):
    """What a user sets on a line."""

    name: str
    kind: models.LineKind
    country: str
    ident: str
    header: str
    channel_limit: int

    @classmethod
    def of(cls, line: models.Line) -> LineSettings:
        """The settings of a line."""
        return cls(
            name=line.name,
            kind=line.kind,
            country=line.country,
            ident=line.ident,
            header=line.header,
            channel_limit=line.channel_limit,
        )


class Line(LineSettings):
    """A fax line of an account."""

    id: int
    account_id: int
    created_at: UtcTime

    @classmethod
    def of(cls, line: models.Line) -> Line:
        """The schema of a read model."""
        return cls(
            id=line.id,
            account_id=line.account_id,
            created_at=line.created_at,
            **LineSettings.of(line).model_dump(),
        )


# ------------------------------------------------------------------------------------- documents


class Document(Schema):
    """An uploaded file: a PDF to fax (with its page count) or a .txt list of numbers."""

    id: int
    name: str
    media_type: str = Field(examples=["application/pdf", "text/plain"])
    size: int = Field(description="bytes")
    pages: int | None = Field(description="PDF pages; null for a text file")
    created_at: UtcTime

    @classmethod
    def of(cls, document: models.Document) -> Document:
        """The schema of a read model."""
        return cls(
            id=document.id,
            name=document.name,
            media_type=document.media_type,
            size=document.size,
            pages=document.pages,
            created_at=document.created_at,
        )


# ------------------------------------------------------------------------------------- campaigns


class RecipientsType(enum.Enum):
    """Where the numbers come from: typed in, or an uploaded .txt document."""

    LIST = "list"
    DOCUMENT = "document"


class CampaignCreate(Form):
    """The creation form, with the provider's field names."""

    name: str = Field(examples=["Spring price list"])
    document_id: int | None = Field(
        default=None, description="the PDF to fax (an uploaded document)"
    )
    fax_quality: Quality = Quality.NORMAL
    send_type: SendType
    send_date: AwareDatetime | None = Field(
        default=None,
        description="ISO 8601 with an offset, in the future; only for scheduled campaigns",
        examples=["2030-01-15T10:00:00+01:00"],
    )
    recipients_type: RecipientsType = RecipientsType.LIST
    recipients_list: str | None = Field(
        default=None,
        description=(
            "the numbers as typed: separated by commas, semicolons or line breaks; each an "
            "optional + and 6 to 17 digits, blanks and . - ( ) ignored"
        ),
        examples=["+33 1 23 45 67 89, 01 98 76 54 32"],
    )
    recipients_doc_id: int | None = Field(
        default=None, description="an uploaded .txt list of numbers"
    )

    def to_new_campaign(self) -> NewCampaign:
        """The service's form; only the recipients source that recipientsType names is read."""
        by_list = self.recipients_type is RecipientsType.LIST
        return NewCampaign(
            name=self.name,
            document_id=self.document_id,
            quality=self.fax_quality,
            send_type=self.send_type,
            send_at=self.send_date,
            recipients_list=self.recipients_list if by_list else None,
            recipients_document_id=None if by_list else self.recipients_doc_id,
            recipients_field=(
                InputField.RECIPIENTS_LIST if by_list else InputField.RECIPIENTS_DOCUMENT
            ),
        )


class Campaign(Schema):
    """A campaign as the table shows it; `status` is the provider's name for `state`."""

    id: int
    name: str
    reference: str
    status: str = Field(
        description="the provider's state: todo, stopTodo, doing, stopDoing, done, error"
    )
    state: CampaignState
    outcome: CampaignOutcome
    fax_quality: Quality
    send_type: SendType
    send_date: UtcTime | None
    document_id: int | None
    count_total: int
    count_success: int = Field(description="recipients delivered")
    count_failed: int
    count_todo: int = Field(description="recipients neither delivered nor failed yet")
    date_start: UtcTime | None
    date_end: UtcTime | None
    pages: int
    error: str | None
    created_at: UtcTime

    @classmethod
    def of(cls, campaign: domain_campaign.Campaign) -> Campaign:
        """The schema of a read model."""
        return cls(
            id=campaign.id,
            name=campaign.name,
            reference=campaign.reference,
            status=campaign.state.provider_status,
            state=campaign.state,
            outcome=campaign.outcome,
            fax_quality=campaign.quality,
            send_type=campaign.send_type,
            send_date=campaign.send_at,
            document_id=campaign.document_id,
            count_total=campaign.count_total,
            count_success=campaign.count_delivered,
            count_failed=campaign.count_failed,
            count_todo=campaign.count_todo,
            date_start=campaign.started_at,
            date_end=campaign.finished_at,
            pages=campaign.pages,
            error=campaign.error,
            created_at=campaign.created_at,
        )


class CampaignPage(Schema):
    """One page of a line's campaigns and how many there are in all, to paginate."""

    items: list[Campaign]
    count: int = Field(description="campaigns in the whole list, not only on this page")
    page: int
    page_size: int

    @classmethod
    def of(cls, page: models.Page[domain_campaign.Campaign]) -> CampaignPage:
        """The schema of a page of read models."""
        return cls(
            items=[Campaign.of(c) for c in page.items],
            count=page.total,
            page=page.page,
            page_size=page.page_size,
        )


class CampaignSort(enum.Enum):
    """What campaigns can be sorted by."""

    CREATED_AT = "createdAt"
    NAME = "name"
    REFERENCE = "reference"
    STATE = "state"
    OUTCOME = "outcome"
    SEND_DATE = "sendDate"
    STARTED_AT = "startedAt"

    @property
    def column(self) -> str:
        """The name services.campaigns.SORTABLE knows it by."""
        return _SORT_COLUMNS[self]


_SORT_COLUMNS: Final[Mapping[CampaignSort, str]] = {
    CampaignSort.CREATED_AT: "created_at",
    CampaignSort.NAME: "name",
    CampaignSort.REFERENCE: "reference",
    CampaignSort.STATE: "state",
    CampaignSort.OUTCOME: "outcome",
    CampaignSort.SEND_DATE: "send_at",
    CampaignSort.STARTED_AT: "started_at",
}

SortOrder = Literal["asc", "desc"]

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
        """The schema of a read model, with the URL of what was received."""
        return cls(
            id=attempt.id,
            started_at=attempt.started_at,
            answered_at=attempt.answered_at,
            ended_at=attempt.ended_at,
            duration_s=attempt.duration_s,
            delivered=attempt.delivered,
            failure=attempt.failure,
            reason=attempt.reason,
            sip_status=attempt.sip_status,
            t30_code=attempt.t30_code,
            t30_text=attempt.t30_text,
            pages_confirmed=attempt.pages_confirmed,
            pages_total=attempt.pages_total,
            bit_rate=attempt.bit_rate,
            ecm=attempt.ecm,
            resolution=attempt.resolution,
            t38=attempt.t38,
            remote_ident=attempt.remote_ident,
            received=received,
        )


class Recipient(Schema):
    """One number of a campaign, where it stands and every call made to it."""

    number: str
    position: int
    state: RecipientState
    calls: int
    pages_confirmed: int
    reason: str | None
    due_at: UtcTime | None
    settled_at: UtcTime | None
    attempts: list[Attempt]

    @classmethod
    def of(cls, recipient: models.Recipient, *, received: ReceivedUrl) -> Recipient:
        """The schema of a read model; `received` gives the URL of what an attempt received."""
        return cls(
            number=recipient.number,
            position=recipient.position,
            state=recipient.state,
            calls=recipient.calls,
            pages_confirmed=recipient.pages_confirmed,
            reason=recipient.reason,
            due_at=recipient.due_at,
            settled_at=recipient.settled_at,
            attempts=[Attempt.of(a, received=received(a)) for a in recipient.attempts],
        )


class CampaignDetail(Schema):
    """A campaign and the result of every send: numbers by outcome, then each recipient."""

    campaign: Campaign
    todo: list[str] = Field(description="numbers not settled yet (waiting or in a call)")
    success: list[str] = Field(description="numbers delivered")
    failed: list[str] = Field(description="numbers that failed for good")
    recipients: list[Recipient]

    @classmethod
    def of(cls, detail: models.CampaignDetail, *, received: ReceivedUrl) -> CampaignDetail:
        """The schema of a read model."""
        return cls(
            campaign=Campaign.of(detail.campaign),
            todo=detail.numbers(RecipientState.PENDING, RecipientState.IN_CALL),
            success=detail.numbers(RecipientState.DELIVERED),
            failed=detail.numbers(RecipientState.FAILED),
            recipients=[Recipient.of(r, received=received) for r in detail.recipients],
        )
