"""Uploaded documents (`/me/document`): PDFs to fax and .txt lists of numbers."""

from __future__ import annotations

import contextlib

from faxcast.documents import count_pdf_pages
from faxcast.domain.models import Document
from faxcast.domain.recipient_file import decode_recipient_file
from faxcast.errors import DocumentError, DocumentProblem, InputError, NotFoundError
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.services.context import Services
from faxcast.services.guard import require_member
from faxcast.store import repository

PDF = "application/pdf"
TEXT = "text/plain"
_NAME_MAX = 255


def upload_document(svc: Services, account_id: int, *, name: str, data: bytes) -> Document:
    """Store a PDF or a text file after checking its content (not its name)."""
    name = name.strip() or "document"
    if len(name) > _NAME_MAX:
        name = name[-_NAME_MAX:]
    limits = svc.settings.document_limits
    if data.startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        pages: int | None = count_pdf_pages(data, limits=limits)
        media_type = PDF
    else:
        if len(data) > limits.max_bytes:
            raise DocumentError(
                DocumentProblem.TOO_LARGE,
                codes.FILE_TOO_LARGE(count=len(data), limit=limits.max_bytes),
            )
        try:
            decode_recipient_file(data)
        except InputError as error:
            raise InputError(
                codes.UPLOAD_NOT_TEXT(problem=error.message), field=Field.RECIPIENTS_FILE
            ) from error
        pages, media_type = None, TEXT
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        now = svc.clock.now()
        sha256 = svc.blobs.put(conn, data, now=now)
        return repository.insert_document(
            conn,
            account_id=account_id,
            name=name,
            media_type=media_type,
            size=len(data),
            sha256=sha256,
            pages=pages,
            now=now,
        )


def list_documents(svc: Services, account_id: int) -> list[Document]:
    """The account's documents, newest first."""
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        return repository.list_documents(conn, account_id)


def get_document(svc: Services, account_id: int, document_id: int) -> Document:
    """One document of the account, or NotFoundError."""
    with svc.transaction() as conn:
        return repository.get_document(conn, account_id, document_id)


def document_content(svc: Services, account_id: int, document_id: int) -> tuple[Document, bytes]:
    """A document and its bytes."""
    with svc.transaction() as conn:
        document = repository.get_document(conn, account_id, document_id)
        return document, svc.blobs.get(conn, document.sha256)


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
        for account_id in caller_account_ids(svc):
            with contextlib.suppress(NotFoundError):
                return repository.get_document(conn, account_id, document_id)
    raise NotFoundError(codes.NO_CALLER_DOCUMENT(document=document_id))
