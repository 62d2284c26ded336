"""Campaigns: the creation form, the campaign as the table shows it, and pages of them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Final, Literal, Self

from pydantic import Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from faxcast.api.schemas._base import Form, Schema, UtcTime
from faxcast.domain import campaign as domain_campaign
from faxcast.domain import models, numbers
from faxcast.domain.campaign import CampaignOutcome, CampaignState, SendType
from faxcast.domain.quality import Quality
from faxcast.fields import Field as InputField
from faxcast.i18n import Message, Translator, codes
from faxcast.services.new_campaign import NewCampaign

_LOCAL_TIME: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"
LocalOrAwareTime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                # RFC 3339's date-time needs an offset; without one it is the account's time.
                {"type": "string", "pattern": _LOCAL_TIME},
            ]
        }
    ),
]
"""A date and time, with an offset or in the account's time zone."""


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
    fax_quality: Quality | None = Field(
        default=None, description="absent: the line's default quality"
    )
    send_type: SendType
    send_date: LocalOrAwareTime | None = Field(
        default=None,
        description=(
            "ISO 8601, in the future; only for scheduled campaigns. Without an offset it is in "
            "the account's time zone (a blank may stand for the T)"
        ),
        examples=["2030-01-15T10:00:00+01:00", "2030-01-15T10:00:00", "2030-01-15 10:00:00"],
    )
    recipients_type: RecipientsType = RecipientsType.LIST
    recipients_list: str | list[str] | None = Field(
        default=None,
        description=(
            "the numbers as typed: separated by commas, semicolons or line breaks; each an "
            "optional + and 6 to 17 digits, blanks and . - ( ) ignored. Or an array of them "
            "(the provider's phoneNumber[]): a problem's `line` is then the entry's index + 1. "
            "Empty or absent when the numbers come as a document"
        ),
        examples=["+33 1 23 45 67 89, 01 98 76 54 32", ["+33 1 23 45 67 89", "01 98 76 54 32"]],
    )
    recipients_doc_id: int | None = Field(
        default=None, description="an uploaded .txt list of numbers"
    )

    @field_validator("recipients_list", mode="before")
    @classmethod
    def _entries_are_lines(cls, value: object) -> object:
        """Text, or an array of texts without line breaks, so that entry i is line i + 1."""
        if value is not None and not isinstance(value, str | list):
            # Checked here, pydantic would report the value once per shape of the union.
            raise _error(codes.RECIPIENTS_NOT_TEXT_OR_ARRAY())
        if isinstance(value, list):
            for line, entry in enumerate(value, start=1):
                if not isinstance(entry, str):
                    raise _error(codes.RECIPIENTS_ENTRY_NOT_TEXT(line=line))
                if "\n" in entry or "\r" in entry:
                    raise _error(codes.RECIPIENTS_ENTRY_LINE_BREAK(line=line))
        return value

    @model_validator(mode="after")
    def _one_source_of_numbers(self) -> Self:
        """Numbers typed in and a document of numbers: which one was meant is anyone's guess."""
        if self._numbers_text().strip() and (
            self.recipients_type is RecipientsType.DOCUMENT or self.recipients_doc_id is not None
        ):
            raise _error(
                codes.RECIPIENTS_TWO_SOURCES(
                    list=InputField.RECIPIENTS_LIST.api, document=InputField.RECIPIENTS_DOCUMENT.api
                )
            )
        return self

    def _numbers_text(self) -> str:
        """The list as one text, an array's entries one per line."""
        if isinstance(self.recipients_list, list):
            return "\n".join(self.recipients_list)
        return self.recipients_list or ""

    def to_new_campaign(self) -> NewCampaign:
        """The service's form; only the recipients source that recipientsType names is read."""
        by_list = self.recipients_type is RecipientsType.LIST
        return NewCampaign(
            name=self.name,
            document_id=self.document_id,
            quality=self.fax_quality,
            send_type=self.send_type,
            send_at=self.send_date,
            recipients_list=self._numbers_text() if by_list else None,
            recipients_document_id=None if by_list else self.recipients_doc_id,
            recipients_field=(
                InputField.RECIPIENTS_LIST if by_list else InputField.RECIPIENTS_DOCUMENT
            ),
        )


def _error(message: Message) -> PydanticCustomError:
    """A validation error whose type is faxcast's code: the problem shows faxcast's text."""
    return PydanticCustomError(message.code, str(message), dict(message.params))


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


class NumberWarning(Schema):
    """An entry kept but not made E.164: it is dialled as typed, and may well fail."""

    line: int = Field(description="1-based line; in an array of numbers, the entry's index + 1")
    column: int = Field(description="1-based column (characters) on that line")
    text: str = Field(description="the entry as typed")
    number: str = Field(description="the number stored and dialled")
    code: str = Field(description="stable reason code: numbers.wrong_length …")
    message: str


class MergedEntry(Schema):
    """One entry of a list, where it is and as typed."""

    line: int
    column: int
    text: str


class MergedNumber(Schema):
    """Entries that are one number (repeated or spelt differently): it is sent once."""

    number: str
    entries: list[MergedEntry] = Field(description="the first entry, then those merged into it")


class NumbersReport(Schema):
    """What a valid list of numbers calls for the user's attention: warnings and merges."""

    warnings: list[NumberWarning] = Field(description="at most 100; `warningsTotal` counts all")
    warnings_total: int
    merged: list[MergedNumber] = Field(
        description="numbers typed more than once, for the first 100 repeated entries"
    )
    merged_total: int = Field(description="entries merged into an earlier one")

    @classmethod
    def fields_of(cls, recipients: numbers.RecipientList, t: Translator) -> dict[str, object]:
        """The report's fields, with messages in `t`'s language."""
        return {
            "warnings": [
                NumberWarning(
                    line=w.line,
                    column=w.column,
                    text=w.text,
                    number=w.number,
                    code=w.reason.code,
                    message=t.message(w.reason),
                )
                for w in recipients.warnings
            ],
            "warnings_total": recipients.warning_count,
            "merged": [
                MergedNumber(
                    number=m.number,
                    entries=[
                        MergedEntry(line=e.line, column=e.column, text=e.text) for e in m.entries
                    ],
                )
                for m in recipients.merges
            ],
            "merged_total": recipients.duplicate_count,
        }

    @classmethod
    def of_list(cls, recipients: numbers.RecipientList, t: Translator) -> NumbersReport:
        """The report of a parsed list, with messages in `t`'s language."""
        return cls.model_validate(cls.fields_of(recipients, t))


class CampaignCreated(Campaign, NumbersReport):
    """A campaign just created, and what its list of numbers calls for the user's attention."""

    @classmethod
    def told(
        cls, campaign: domain_campaign.Campaign, recipients: numbers.RecipientList, t: Translator
    ) -> CampaignCreated:
        """The schema of a new campaign and its parsed list."""
        return cls.model_validate(
            {**dict(Campaign.of(campaign)), **NumbersReport.fields_of(recipients, t)}
        )


class FlaggedRemoved(Campaign):
    """A campaign whose numbers flagged as probably invalid were just removed."""

    removed: int = Field(description="how many numbers were removed")

    @classmethod
    def of_removal(cls, campaign: domain_campaign.Campaign, removed: int) -> FlaggedRemoved:
        """The schema of the campaign as it now stands, and how many numbers left it."""
        return cls.model_validate({**dict(Campaign.of(campaign)), "removed": removed})


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


SortOrder = Literal["asc", "desc"]
