"""Checking a new campaign: every problem of the form at once, and nothing stored."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from faxcast.domain.campaign import SendType, validate_name, validate_send_at
from faxcast.domain.models import Document, Line
from faxcast.domain.numbers import RecipientList, RecipientListError, parse_recipients
from faxcast.domain.quality import Quality, Resolution
from faxcast.domain.recipient_file import decode_recipient_file
from faxcast.errors import DocumentError, InputError, NotFoundError, collect
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.services import documents as document_service
from faxcast.services.context import Services
from faxcast.services.guard import require_member
from faxcast.store import repository


@dataclass(frozen=True)
class NewCampaign:
    """The creation form (the provider's field names in brackets)."""

    name: str
    document_id: int | None  # [documentId]
    quality: Quality | None  # [faxQuality]; None: the line's default quality
    send_type: SendType  # [sendType]
    send_at: datetime | None  # [sendDate]; without an offset, in the account's time zone
    recipients_list: str | None = None  # [recipientsList], when recipientsType is "list"
    recipients_document_id: int | None = None  # [recipientsDocId], when it is "document"
    # Which input the numbers came from, for errors to name: a file's text comes as the list.
    recipients_field: Field = Field.RECIPIENTS_LIST


@dataclass(frozen=True)
class PdfUpload:
    """A PDF sent with the creation form itself (web, CLI) rather than uploaded before."""

    name: str
    data: bytes
    size: int | None = None  # the whole file's, when `data` stops one byte over the limit


@dataclass(frozen=True)
class CheckedCampaign:
    """A new campaign whose every field was found valid, with what storing it needs."""

    new: NewCampaign
    line: Line
    name: str
    send_at: datetime | None
    recipients: RecipientList
    document: Document | None  # None when the PDF comes with the form (`upload`)
    pdf: bytes
    pdf_sha256: str
    rendered: Rendered | None  # unless rendered before
    now: datetime

    @property
    def quality(self) -> Quality:
        """The quality asked for, else the line's default one."""
        return quality_of(self.new, self.line)


@dataclass(frozen=True)
class Rendered:
    """A PDF rendered at a resolution: its TIFF-F, and each page's bits on the line."""

    tiff: bytes
    page_bits: tuple[int, ...]

    @property
    def pages(self) -> int:
        """How many pages the rendering has."""
        return len(self.page_bits)


@dataclass(frozen=True)
class Verdict:
    """Every problem of a new campaign, in form order (none when it can be created), and its
    parsed numbers when the list itself is valid: their warnings and merges are for the user."""

    errors: list[InputError]
    recipients: RecipientList | None


def validate_campaign(
    svc: Services,
    account_id: int,
    line_id: int,
    new: NewCampaign,
    *,
    upload: PdfUpload | None = None,
) -> Verdict:
    """What creating the campaign would say, storing nothing."""
    require_member(svc, account_id)
    checked, errors = check_campaign(svc, account_id, line_id, new, upload=upload)
    return Verdict(errors, checked.recipients if checked else None)


def quality_of(new: NewCampaign, line: Line) -> Quality:
    """The quality a campaign is sent at: the one asked for, else its line's default."""
    return new.quality if new.quality is not None else line.quality


def check_campaign(
    svc: Services,
    account_id: int,
    line_id: int,
    new: NewCampaign,
    *,
    upload: PdfUpload | None = None,
) -> tuple[CheckedCampaign | None, list[InputError]]:
    """The checked campaign, or None and every problem (NotFoundError for the line)."""
    require_member(svc, account_id)
    now = svc.clock.now()
    errors: list[InputError] = []
    with svc.transaction() as conn:
        line = repository.get_line(conn, account_id, line_id)
        zone = ZoneInfo(repository.get_account(conn, account_id).timezone)
        if upload is None:
            pdf = _pdf_of(conn, svc, account_id, new.document_id, errors)
        else:
            pdf = _uploaded_pdf(svc, upload, errors)
        numbers_text = _numbers_text_of(conn, svc, account_id, new, errors)
    name = collect(errors, lambda: validate_name(new.name))
    send_at = collect(
        errors, lambda: validate_send_at(new.send_type, new.send_at, now=now, zone=zone)
    )
    recipients: RecipientList | None = None
    if numbers_text is not None:
        try:
            recipients = parse_recipients(
                numbers_text, country=line.country, max_recipients=svc.settings.max_recipients
            )
        except RecipientListError as error:
            error.field = new.recipients_field
            errors.append(error)
    pdf_sha256 = ""
    rendered: Rendered | None = None
    if pdf is not None:
        pdf_sha256 = hashlib.sha256(pdf[1]).hexdigest()
        field = Field.DOCUMENT_ID if upload is None else Field.DOCUMENT_FILE
        resolution = quality_of(new, line).profile.resolution
        rendered = _render_unless_cached(svc, pdf_sha256, pdf[1], resolution, field, errors)
    if errors or pdf is None or name is None or recipients is None:
        return None, errors
    checked = CheckedCampaign(
        new, line, name, send_at, recipients, pdf[0], pdf[1], pdf_sha256, rendered, now
    )
    return checked, []


def _pdf_of(
    conn: Connection,
    svc: Services,
    account_id: int,
    document_id: int | None,
    errors: list[InputError],
) -> tuple[Document | None, bytes] | None:
    if document_id is None:
        errors.append(InputError(codes.CHOOSE_PDF(), field=Field.DOCUMENT_ID))
        return None
    try:
        document, data = _content(conn, svc, account_id, document_id)
    except NotFoundError:
        errors.append(InputError(codes.NO_DOCUMENT(id=document_id), field=Field.DOCUMENT_ID))
        return None
    if document.media_type != document_service.PDF:
        errors.append(
            InputError(codes.NOT_A_PDF_DOCUMENT(name=document.name), field=Field.DOCUMENT_ID)
        )
        return None
    return document, data


def _uploaded_pdf(
    svc: Services, upload: PdfUpload, errors: list[InputError]
) -> tuple[None, bytes] | None:
    """A PDF sent with the form, judged as /me/document judges one."""
    try:
        document_service.identify_file(
            upload.data,
            limits=svc.settings.document_limits,
            name=upload.name,
            expect=document_service.PDF,
            size=upload.size,
        )
    except InputError as error:
        errors.append(error)
        return None
    return None, upload.data


def _numbers_text_of(
    conn: Connection, svc: Services, account_id: int, new: NewCampaign, errors: list[InputError]
) -> str | None:
    field = new.recipients_field
    if new.recipients_document_id is not None:
        try:
            document, data = _content(conn, svc, account_id, new.recipients_document_id)
        except NotFoundError:
            errors.append(InputError(codes.NO_DOCUMENT(id=new.recipients_document_id), field=field))
            return None
        if document.media_type != document_service.TEXT:
            errors.append(InputError(codes.NOT_A_TEXT_DOCUMENT(name=document.name), field=field))
            return None
        try:
            return decode_recipient_file(data)
        except InputError as error:
            errors.append(InputError(error.message, field=field))
            return None
    if new.recipients_list is None or not new.recipients_list.strip():
        errors.append(InputError(codes.ENTER_NUMBERS(), field=field))
        return None
    return new.recipients_list


def _render_unless_cached(
    svc: Services,
    pdf_sha256: str,
    data: bytes,
    resolution: Resolution,
    field: Field,
    errors: list[InputError],
) -> Rendered | None:
    """The rendering of a PDF not rendered at this resolution before."""
    with svc.transaction() as conn:
        if repository.rendition_id(conn, pdf_sha256=pdf_sha256, resolution=resolution.value):
            return None
    # Loaded on use: NumPy and PDFium would add a third of a second to every CLI command.
    from faxcast.documents import line_bits, render_pdf, write_tiff_f

    try:
        fax_pages = render_pdf(data, resolution, limits=svc.settings.document_limits)
    except DocumentError as error:
        errors.append(DocumentError(error.problem, error.message, page=error.page, field=field))
        return None
    return Rendered(write_tiff_f(fax_pages), line_bits(fax_pages))


def _content(
    conn: Connection, svc: Services, account_id: int, document_id: int
) -> tuple[Document, bytes]:
    document = repository.get_document(conn, account_id, document_id)
    return document, svc.blobs.get(conn, document.sha256)
