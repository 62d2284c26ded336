"""The "+ New campaign" form: what was typed, the errors to show beside each field, and submit().

submit() stores nothing until every field is valid: it first runs the create use case without a
document (which it always refuses, listing everything else that is wrong) and checks the PDF,
and only then uploads the files and creates the campaign. Errors are placed by their field
(faxcast.fields) and worded by their code, in the page's language.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from faxcast.domain.campaign import SendType
from faxcast.domain.models import Account, Line
from faxcast.domain.numbers import RecipientListError
from faxcast.domain.quality import Quality
from faxcast.errors import InputError, MultipleInputError
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.services import campaigns, documents, new_campaign
from faxcast.services.context import Services
from faxcast.services.documents import identify_file
from faxcast.web import i18n

LIST: Final = "list"
FILE: Final = "file"
# Form fields, in the order the page shows them (the error summary follows it).
FIELDS: Final = (
    "name",
    "pdf",
    "quality",
    "send_type",
    "send_at",
    "recipients_type",
    "recipients_list",
    "recipients_file",
    "form",
)
_PROBLEMS_SHOWN: Final = 50
E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True)
class NumberProblem:
    """One bad entry of a number list and why."""

    line: int
    column: int
    text: str
    reason: str


@dataclass(frozen=True)
class FieldError:
    """An error shown beside a field, with the bad entries of a number list."""

    message: str
    problems: tuple[NumberProblem, ...] = ()
    more: int = 0


@dataclass
class CampaignForm:
    """What the user typed, shown again after an error (a browser cannot be given files back)."""

    name: str = ""
    quality: str = Quality.NORMAL.value
    send_type: str = SendType.MANUAL.value
    send_date: str = ""
    send_time: str = ""
    recipients_type: str = LIST
    recipients_list: str = ""
    pdf_name: str = ""
    recipients_file_name: str = ""

    @classmethod
    def of(cls, values: Mapping[str, str]) -> CampaignForm:
        """The form from submitted text fields; missing ones keep their defaults."""
        known = {
            key: values[key]
            for key in (
                "name",
                "quality",
                "send_type",
                "send_date",
                "send_time",
                "recipients_type",
                "recipients_list",
            )
            if key in values
        }
        return replace(cls(), **known)


@dataclass(frozen=True)
class Upload:
    """A file the user chose: its name and bytes."""

    name: str
    data: bytes  # at most one byte over the limit
    size: int  # the whole file's


@dataclass
class Errors:
    """Errors by form field; the first one found for a field is kept."""

    by_field: dict[str, list[FieldError]] = field(default_factory=dict)

    def add(self, name: str, error: FieldError) -> None:
        """Record an error unless the field already has one (the first is the clearest)."""
        self.by_field.setdefault(name, [error])

    def __bool__(self) -> bool:
        return bool(self.by_field)


def submit(
    svc: Services,
    account: Account,
    line: Line,
    form: CampaignForm,
    *,
    pdf: Upload | None,
    numbers_file: Upload | None,
    lang: str,
) -> campaigns.Created | Errors:
    """Create the campaign, or say what is wrong with every field (and then store nothing)."""
    t = i18n.translator(lang)
    errors = Errors()
    quality = _choice(Quality, form.quality)
    if quality is None:
        errors.add("quality", FieldError(t("err.choice")))
    send_type = _choice(SendType, form.send_type)
    if send_type is None:
        errors.add("send_type", FieldError(t("err.choice")))
    send_at = _send_at(form, account.timezone, send_type, errors, t)
    from_file = form.recipients_type == FILE
    numbers_text: str | None = None
    if form.recipients_type not in (LIST, FILE):
        errors.add("recipients_type", FieldError(t("err.choice")))
    elif from_file:
        if numbers_file is None:
            errors.add("recipients_file", FieldError(t("err.file_missing")))
        else:
            try:
                numbers_text = identify_file(
                    numbers_file.data,
                    limits=svc.settings.document_limits,
                    name=numbers_file.name,
                    expect=documents.TEXT,
                    size=numbers_file.size,
                ).text
            except InputError as error:
                errors.add("recipients_file", _field_error(error, lang, account, send_at))
    else:
        numbers_text = form.recipients_list
    if pdf is None:
        errors.add("pdf", FieldError(t("err.pdf_missing")))
    else:
        try:
            identify_file(
                pdf.data,
                limits=svc.settings.document_limits,
                name=pdf.name,
                expect=documents.PDF,
                size=pdf.size,
            )
        except InputError as error:
            errors.add("pdf", _field_error(error, lang, account, send_at))
    if quality is None or send_type is None:
        return errors
    new = new_campaign.NewCampaign(
        name=form.name,
        document_id=None,
        quality=quality,
        send_type=send_type,
        send_at=send_at,
        recipients_list=numbers_text or "",
        recipients_field=Field.RECIPIENTS_FILE if from_file else Field.RECIPIENTS_LIST,
    )
    if pdf is None or errors:
        # The PDF's own problem is already listed: the other fields' come from the use case.
        for found in new_campaign.validate_campaign(svc, account.id, line.id, new).errors:
            name = _form_field(found.field)
            if name != "pdf":
                errors.add(name, _field_error(found, lang, account, send_at))
        return errors
    try:
        # Checks every field, then stores the PDF and the campaign together, or nothing.
        return campaigns.create_campaign_told(
            svc,
            account.id,
            line.id,
            new,
            upload=new_campaign.PdfUpload(pdf.name, pdf.data, pdf.size),
        )
    except InputError as failure:
        for found in failure.errors if isinstance(failure, MultipleInputError) else (failure,):
            errors.add(_form_field(found.field), _field_error(found, lang, account, send_at))
        return errors


def _choice(kind: type[E], value: str) -> E | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _send_at(
    form: CampaignForm,
    timezone: str,
    send_type: SendType | None,
    errors: Errors,
    t: i18n.Translator,
) -> datetime | None:
    """The schedule typed as a date and a time in the account's zone (scheduled ones only)."""
    if send_type is not SendType.SCHEDULED:
        return None
    if not form.send_date.strip() or not form.send_time.strip():
        errors.add("send_at", FieldError(t("err.date_missing")))
        return None
    try:
        moment = datetime.fromisoformat(f"{form.send_date.strip()}T{form.send_time.strip()}")
    except ValueError:
        errors.add("send_at", FieldError(t("err.date_invalid")))
        return None
    return moment.replace(tzinfo=ZoneInfo(timezone))


def _form_field(field: Field | None) -> str:
    return field.form if field is not None and field.form is not None else "form"


def _field_error(
    error: InputError, lang: str, account: Account, send_at: datetime | None
) -> FieldError:
    """A service error in the page's language, with every bad number of a list."""
    t = i18n.translator(lang)
    if isinstance(error, RecipientListError) and error.problems:
        problems = tuple(
            NumberProblem(p.line, p.column, p.text, t.message(p.reason))
            for p in error.problems[:_PROBLEMS_SHOWN]
        )
        count = error.problem_count
        return FieldError(
            t("err.numbers", count=count),
            problems=problems,
            more=max(0, count - _PROBLEMS_SHOWN),
        )
    if error.message.code == codes.SEND_AT_PAST.code and send_at is not None:
        # The page says the time as it was typed, in the account's zone, not in UTC.
        when = i18n.format_datetime(send_at, account.timezone, lang)
        return FieldError(t("err.date_past", when=when))
    return FieldError(i18n.sentence(t.message(error.message)))
