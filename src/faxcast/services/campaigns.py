"""Campaign use cases: create, list, show, launch, stop, delete, and what recipients received."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from faxcast.documents import preview_png, read_tiff_f, render_pdf, write_tiff_f
from faxcast.domain.campaign import (
    CampaignOutcome,
    CampaignState,
    Command,
    SendType,
    initial_state,
    transition,
    validate_name,
    validate_send_at,
)
from faxcast.domain.numbers import RecipientListError, decode_recipient_file, parse_recipients
from faxcast.domain.quality import Quality, Resolution
from faxcast.errors import (
    ConflictError,
    DocumentError,
    InputError,
    MultipleInputError,
    NotFoundError,
)
from faxcast.services import documents as document_service
from faxcast.services.context import Services
from faxcast.services.models import Campaign, CampaignDetail, Document, Page
from faxcast.store import repository

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
T = TypeVar("T")
SORTABLE = ("created_at", "name", "reference", "state", "outcome", "send_at", "started_at")


@dataclass(frozen=True)
class NewCampaign:
    """The creation form (the provider's field names in brackets)."""

    name: str
    document_id: int | None  # [documentId]
    quality: Quality  # [faxQuality]
    send_type: SendType  # [sendType]
    send_at: datetime | None  # [sendDate]
    recipients_list: str | None = None  # [recipientsList], when recipientsType is "list"
    recipients_document_id: int | None = None  # [recipientsDocId], when it is "document"


@dataclass(frozen=True)
class PdfUpload:
    """A PDF sent with the creation form itself (web, CLI) rather than uploaded before."""

    name: str
    data: bytes


def create_campaign(
    svc: Services,
    account_id: int,
    line_id: int,
    new: NewCampaign,
    *,
    upload: PdfUpload | None = None,
) -> Campaign:
    """Check everything, then store the campaign and its recipients at once, or nothing.

    With `upload`, the PDF is stored as a document in that same transaction, only if all is valid.
    """
    now = svc.clock.now()
    errors: list[InputError] = []
    with svc.transaction() as conn:
        line = repository.get_line(conn, account_id, line_id)
        if upload is None:
            pdf = _pdf_of(conn, svc, account_id, new.document_id, errors)
        else:
            pdf = (None, upload.data)
        numbers_text = _numbers_text_of(conn, svc, account_id, new, errors)
    name = _collect(errors, lambda: validate_name(new.name))
    send_at = _collect(errors, lambda: validate_send_at(new.send_type, new.send_at, now=now))
    recipients = None
    if numbers_text is not None:
        field = "recipientsDocId" if new.recipients_document_id is not None else "recipientsList"
        try:
            recipients = parse_recipients(
                numbers_text, country=line.country, max_recipients=svc.settings.max_recipients
            )
        except RecipientListError as error:
            error.field = field
            errors.append(error)
    resolution = new.quality.profile.resolution
    pdf_sha256 = ""
    rendered: tuple[bytes, int] | None = None
    if pdf is not None:
        pdf_sha256 = hashlib.sha256(pdf[1]).hexdigest()
        field = "documentId" if upload is None else "file"
        rendered = _render_unless_cached(svc, pdf_sha256, pdf[1], resolution, field, errors)
    if errors:
        raise errors[0] if len(errors) == 1 else MultipleInputError(errors)
    assert pdf is not None
    assert name is not None
    assert recipients is not None
    document = pdf[0]
    with svc.transaction() as conn:
        rendition = repository.rendition_id(
            conn, pdf_sha256=pdf_sha256, resolution=resolution.value
        )
        if document is None:
            assert upload is not None
            document = repository.insert_document(
                conn,
                account_id=account_id,
                name=upload.name.strip()[-255:] or "document.pdf",
                media_type=document_service.PDF,
                size=len(upload.data),
                sha256=svc.blobs.put(conn, upload.data, now=now),
                pages=rendered[1] if rendered else repository.rendition_pages(conn, rendition),
                now=now,
            )
        if rendition is None:
            assert rendered is not None
            tiff, pages = rendered
            rendition = repository.insert_rendition(
                conn,
                {
                    "pdf_sha256": pdf_sha256,
                    "resolution": resolution.value,
                    "tiff_sha256": svc.blobs.put(conn, tiff, now=now),
                    "pages": pages,
                    "created_at": now,
                },
            )
        campaign_id = repository.insert_campaign(
            conn,
            values={
                "account_id": account_id,
                "line_id": line.id,
                "reference": _new_reference(conn),
                "name": name,
                "document_id": document.id,
                "rendition_id": rendition,
                "quality": new.quality.value,
                "send_type": new.send_type.value,
                "send_at": send_at,
                "state": initial_state(new.send_type).value,
                "outcome": CampaignOutcome.NA.value,
                "count_delivered": 0,
                "count_failed": 0,
                "created_at": now,
            },
            numbers=recipients.numbers,
            line_id=line.id,
        )
        return repository.get_campaign(conn, account_id, line.id, campaign_id)


def list_campaigns(
    svc: Services,
    account_id: int,
    line_id: int,
    *,
    states: tuple[CampaignState, ...] = (),
    sort: str = "created_at",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> Page[Campaign]:
    """The line's campaigns, newest first by default."""
    if sort not in SORTABLE:
        raise InputError(f"cannot sort by '{sort}'; use one of {', '.join(SORTABLE)}", field="sort")
    if page < 1 or not 1 <= page_size <= 500:
        raise InputError("page starts at 1 and pageSize is 1 to 500", field="page")
    with svc.transaction() as conn:
        repository.get_line(conn, account_id, line_id)
        return repository.list_campaigns(
            conn,
            account_id,
            line_id,
            states=states,
            sort=sort,
            descending=descending,
            page=page,
            page_size=page_size,
        )


def get_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Campaign:
    """One campaign of the line, or NotFoundError."""
    with svc.transaction() as conn:
        return repository.get_campaign(conn, account_id, line_id, campaign_id)


def campaign_detail(
    svc: Services, account_id: int, line_id: int, campaign_id: int
) -> CampaignDetail:
    """The campaign with every recipient and every attempt."""
    with svc.transaction() as conn:
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        return CampaignDetail(campaign, tuple(repository.campaign_recipients(conn, campaign.id)))


def launch_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Campaign:
    """Start a waiting campaign now (the seed's "Lancer la campagne")."""
    with svc.transaction() as conn:
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        new_state = transition(campaign.state, Command.LAUNCH, name=campaign.name)
        _moved(
            repository.set_campaign_state(
                conn, campaign, new_state, started_at=campaign.started_at or svc.clock.now()
            ),
            campaign,
        )
        return repository.get_campaign(conn, account_id, line_id, campaign_id)


def stop_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Campaign:
    """Stop a scheduled or running campaign: no new call; it then waits for a launch."""
    with svc.transaction() as conn:
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        new_state = transition(campaign.state, Command.STOP, name=campaign.name)
        if repository.calls_in_progress(conn, campaign.id) == 0:
            new_state = transition(new_state, Command.END_STOP, name=campaign.name)
        _moved(repository.set_campaign_state(conn, campaign, new_state), campaign)
        return repository.get_campaign(conn, account_id, line_id, campaign_id)


def delete_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> None:
    """Remove a campaign from the history; refused while it runs or stops."""
    with svc.transaction() as conn:
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        transition(campaign.state, Command.DELETE, name=campaign.name)
        _moved(repository.delete_campaign(conn, campaign), campaign)


def received_fax(svc: Services, account_id: int, line_id: int, attempt_id: int) -> bytes:
    """The TIFF-F a sandbox fax machine received in one attempt."""
    with svc.transaction() as conn:
        attempt = repository.get_attempt(conn, account_id, line_id, attempt_id)
        if attempt.received_sha256 is None:
            raise NotFoundError(f"nothing was received in attempt {attempt_id}")
        return svc.blobs.get(conn, attempt.received_sha256)


def received_page_png(
    svc: Services, account_id: int, line_id: int, attempt_id: int, page: int
) -> bytes:
    """One received page as PNG, as the recipient's machine printed it."""
    pages = read_tiff_f(received_fax(svc, account_id, line_id, attempt_id)).pages
    if not 1 <= page <= len(pages):
        raise NotFoundError(f"attempt {attempt_id} received {len(pages)} pages, not {page}")
    return preview_png(pages[page - 1])


def campaign_preview_png(
    svc: Services, account_id: int, line_id: int, campaign_id: int, page: int
) -> bytes:
    """One page of what the campaign sends, as PNG."""
    with svc.transaction() as conn:
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        tiff = svc.blobs.get(conn, repository.campaign_tiff(conn, campaign.id))
    pages = read_tiff_f(tiff).pages
    if not 1 <= page <= len(pages):
        raise NotFoundError(f"the campaign's document has {len(pages)} pages, not {page}")
    return preview_png(pages[page - 1])


def _pdf_of(
    conn: Connection,
    svc: Services,
    account_id: int,
    document_id: int | None,
    errors: list[InputError],
) -> tuple[Document | None, bytes] | None:
    if document_id is None:
        errors.append(InputError("choose the PDF document to fax", field="documentId"))
        return None
    try:
        document, data = _content(conn, svc, account_id, document_id)
    except NotFoundError:
        errors.append(InputError(f"no document {document_id} in this account", field="documentId"))
        return None
    if document.media_type != document_service.PDF:
        errors.append(InputError(f"'{document.name}' is not a PDF", field="documentId"))
        return None
    return document, data


def _numbers_text_of(
    conn: Connection, svc: Services, account_id: int, new: NewCampaign, errors: list[InputError]
) -> str | None:
    if new.recipients_document_id is not None:
        try:
            document, data = _content(conn, svc, account_id, new.recipients_document_id)
        except NotFoundError:
            errors.append(
                InputError(
                    f"no document {new.recipients_document_id} in this account",
                    field="recipientsDocId",
                )
            )
            return None
        if document.media_type != document_service.TEXT:
            errors.append(
                InputError(f"'{document.name}' is not a text file", field="recipientsDocId")
            )
            return None
        try:
            return decode_recipient_file(data)
        except InputError as error:
            errors.append(InputError(error.message, field="recipientsDocId"))
            return None
    if new.recipients_list is None or not new.recipients_list.strip():
        errors.append(InputError("enter at least one fax number", field="recipientsList"))
        return None
    return new.recipients_list


def _render_unless_cached(
    svc: Services,
    pdf_sha256: str,
    data: bytes,
    resolution: Resolution,
    field: str,
    errors: list[InputError],
) -> tuple[bytes, int] | None:
    """The TIFF-F and page count of a PDF not rendered at this resolution before."""
    with svc.transaction() as conn:
        if repository.rendition_id(conn, pdf_sha256=pdf_sha256, resolution=resolution.value):
            return None
    try:
        fax_pages = render_pdf(data, resolution, limits=svc.settings.document_limits)
    except DocumentError as error:
        errors.append(DocumentError(error.problem, error.message, page=error.page, field=field))
        return None
    return write_tiff_f(fax_pages), len(fax_pages.pages)


def _content(
    conn: Connection, svc: Services, account_id: int, document_id: int
) -> tuple[Document, bytes]:
    document = repository.get_document(conn, account_id, document_id)
    return document, svc.blobs.get(conn, document.sha256)


def _collect(errors: list[InputError], check: Callable[[], T]) -> T | None:
    try:
        return check()
    except InputError as error:
        errors.append(error)
        return None


def _new_reference(conn: Connection) -> str:
    for _ in range(10):
        reference = "C" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(7))
        if not repository.reference_exists(conn, reference):
            return reference
    raise ConflictError("could not pick a unique campaign reference; try again")


def _moved(changed: bool, campaign: Campaign) -> None:
    if not changed:
        raise ConflictError(
            f"campaign '{campaign.name}' changed while this action ran; look at it and try again"
        )
