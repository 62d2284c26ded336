"""Uploaded documents (`/me/document`): PDFs to fax and .txt lists of numbers."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import Connection

from faxcast.domain.document_limits import DocumentLimits
from faxcast.domain.models import Document
from faxcast.domain.recipient_file import binary_kind, decode_recipient_file
from faxcast.errors import DocumentError, DocumentProblem, InputError, NotFoundError
from faxcast.fields import Field
from faxcast.i18n import Message, codes
from faxcast.services.context import Services
from faxcast.services.guard import require_member
from faxcast.store import repository

PDF = "application/pdf"
TEXT = "text/plain"
_NAME_MAX = 255


@dataclass(frozen=True)
class IdentifiedFile:
    """A file found to be a PDF (with its page count) or a list of numbers (with its text)."""

    media_type: str
    pages: int | None = None
    text: str | None = None


def identify_file(
    data: bytes,
    *,
    limits: DocumentLimits,
    name: str = "",
    expect: str | None = None,
    size: int | None = None,
) -> IdentifiedFile:
    """What a file is, from its content, for the API, the web form and the CLI alike; raises
    DocumentError or InputError when it is not what was meant (`expect`, or a .pdf name)."""
    # Loaded on use: NumPy and PDFium would add a third of a second to every CLI command.
    from faxcast.documents import count_pdf_pages, looks_like_pdf, too_large

    # `size` is the whole file's when `data` stops one byte over the limit.
    size = len(data) if size is None else size
    if expect is None and name.lower().endswith(".pdf"):
        # The one route takes both kinds: a .pdf name is a PDF meant, and a bad one is a bad
        # PDF, not a list of numbers. Other names are no promise; the content decides.
        expect = PDF
    field = Field.RECIPIENTS_FILE if expect == TEXT else Field.DOCUMENT_FILE
    if size == 0:
        raise DocumentError(DocumentProblem.EMPTY, codes.DOCUMENT_EMPTY(), field=field)
    if size > limits.max_bytes:
        error = too_large(size, limits)
        error.field = field
        raise error
    if looks_like_pdf(data) and expect != TEXT:
        return IdentifiedFile(PDF, pages=count_pdf_pages(data, limits=limits))
    if expect == PDF:
        kind = binary_kind(data) or _text_kind(data)
        if kind is None:
            raise DocumentError(DocumentProblem.NOT_PDF, codes.DOCUMENT_NOT_PDF())
        raise DocumentError(DocumentProblem.NOT_PDF, codes.DOCUMENT_IS_NOT_PDF(kind=kind))
    try:
        text = decode_recipient_file(data)
    except InputError as error:
        message = error.message if expect == TEXT else codes.UPLOAD_NOT_TEXT(problem=error.message)
        raise InputError(message, field=Field.RECIPIENTS_FILE) from error
    if not text.strip():
        raise InputError(codes.FILE_BLANK(), field=Field.RECIPIENTS_FILE)
    return IdentifiedFile(TEXT, text=text)


def _text_kind(data: bytes) -> Message | None:
    """Text, when the bytes read as a list of numbers would; else None."""
    try:
        decode_recipient_file(data)
    except InputError:
        return None
    return codes.KIND_TEXT()


def upload_document(
    svc: Services, account_id: int, *, name: str, data: bytes, size: int | None = None
) -> Document:
    """Store a PDF or a list of numbers after checking its content (identify_file); `size`
    is the whole file's when `data` was cut at one byte over the limit."""
    require_member(svc, account_id)
    name = name.strip() or "document"
    if len(name) > _NAME_MAX:
        name = name[-_NAME_MAX:]
    found = identify_file(data, limits=svc.settings.document_limits, name=name, size=size)
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        now = svc.clock.now()
        sha256 = svc.blobs.put(conn, data, now=now)
        return repository.insert_document(
            conn,
            account_id=account_id,
            name=name,
            media_type=found.media_type,
            size=len(data),
            sha256=sha256,
            pages=found.pages,
            now=now,
        )


def list_documents(svc: Services, account_id: int) -> list[Document]:
    """The account's documents, newest first."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        return repository.list_documents(conn, account_id)


def get_document(svc: Services, account_id: int, document_id: int) -> Document:
    """One document of the account, or NotFoundError."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        return repository.get_document(conn, account_id, document_id)


def caller_account_ids(svc: Services) -> list[int]:
    """The accounts whose documents are the caller's ("/me"), oldest first."""
    if svc.caller.is_operator:
        with svc.transaction() as conn:
            return [a.id for a in repository.list_accounts(conn)]
    return sorted(svc.caller.roles)


def upload_account(svc: Services, account_id: int | None) -> int:
    """Where the caller's upload goes: the account named, else their only one."""
    mine = caller_account_ids(svc)
    if account_id is None and len(mine) == 1:
        return mine[0]
    if account_id is None:
        ids = ", ".join(str(i) for i in mine)
        raise InputError(codes.DOCUMENT_ACCOUNT_NEEDED(ids=ids), field=Field.ACCOUNT)
    require_member(svc, account_id)
    return account_id


def list_caller_documents(svc: Services) -> list[Document]:
    """The documents of every account of the caller, newest first."""
    with svc.transaction() as conn:
        found = [d for a in caller_account_ids(svc) for d in repository.list_documents(conn, a)]
    return sorted(found, key=lambda d: d.id, reverse=True)


def caller_document(svc: Services, document_id: int) -> Document:
    """One document of one of the caller's accounts, or NotFoundError."""
    with svc.transaction() as conn:
        return _caller_document(conn, svc, document_id)


def caller_document_content(svc: Services, document_id: int) -> tuple[Document, bytes]:
    """One of the caller's documents and its bytes, or NotFoundError."""
    with svc.transaction() as conn:
        document = _caller_document(conn, svc, document_id)
        return document, svc.blobs.get(conn, document.sha256)


def _caller_document(conn: Connection, svc: Services, document_id: int) -> Document:
    for account_id in caller_account_ids(svc):
        with contextlib.suppress(NotFoundError):
            return repository.get_document(conn, account_id, document_id)
    raise NotFoundError(codes.NO_CALLER_DOCUMENT(document=document_id))


def measure_renditions(svc: Services) -> int:
    """Give the renderings stored before page bits were kept (revision 0013) their bits, read
    from their TIFF; how many there were."""
    with svc.transaction() as conn:
        missing = repository.renditions_without_page_bits(conn)
    if not missing:
        return 0
    # NumPy and PDFium are loaded only for renditions to measure (see identify_file).
    from faxcast.documents import line_bits, read_tiff_f

    for rendition, tiff_sha256 in missing:
        with svc.transaction() as conn:
            pages = read_tiff_f(svc.blobs.get(conn, tiff_sha256))
            repository.set_page_bits(conn, rendition, line_bits(pages))
    return len(missing)
