"""Uploaded documents and their renderings as fax pages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    insert,
    select,
    update,
)

from faxcast.domain.models import (
    Document,
)
from faxcast.errors import NotFoundError
from faxcast.i18n import codes
from faxcast.store.repository._ids import storable
from faxcast.store.tables import (
    documents,
    renditions,
)


def insert_document(
    conn: Connection,
    *,
    account_id: int,
    name: str,
    media_type: str,
    size: int,
    sha256: str,
    pages: int | None,
    now: datetime,
) -> Document:
    """A new uploaded document of the account."""
    new_id = conn.execute(
        insert(documents).values(
            account_id=account_id,
            name=name,
            media_type=media_type,
            size=size,
            sha256=sha256,
            pages=pages,
            created_at=now,
        )
    ).inserted_primary_key
    assert new_id is not None
    return get_document(conn, account_id, int(new_id[0]))


def get_document(conn: Connection, account_id: int, document_id: int) -> Document:
    """The account's document, or NotFoundError."""
    row = (
        conn.execute(
            select(documents).where(
                documents.c.id == document_id, documents.c.account_id == account_id
            )
        ).first()
        if storable(account_id, document_id)
        else None
    )
    if row is None:
        raise NotFoundError(codes.NO_DOCUMENT_IN_ACCOUNT(document=document_id, account=account_id))
    return _document(row)


def list_documents(conn: Connection, account_id: int) -> list[Document]:
    """The account's documents, newest first."""
    rows = conn.execute(
        select(documents)
        .where(documents.c.account_id == account_id)
        .order_by(documents.c.id.desc())
    )
    return [_document(r) for r in rows]


def _document(row: Row[Any]) -> Document:
    return Document(
        row.id,
        row.account_id,
        row.name,
        row.media_type,
        row.size,
        row.sha256,
        row.pages,
        row.created_at,
    )


def rendition_id(conn: Connection, *, pdf_sha256: str, resolution: str) -> int | None:
    """The stored rendering of a PDF at a resolution, if any."""
    return conn.execute(
        select(renditions.c.id).where(
            renditions.c.pdf_sha256 == pdf_sha256, renditions.c.resolution == resolution
        )
    ).scalar()


def rendition_pages(conn: Connection, rendition: int | None) -> int | None:
    """How many pages a stored rendering has (None for no rendering)."""
    if rendition is None:
        return None
    pages: int | None = conn.execute(
        select(renditions.c.pages).where(renditions.c.id == rendition)
    ).scalar()
    return pages


def insert_rendition(conn: Connection, values: dict[str, Any]) -> int:
    """A new rendering (its "page_bits" a sequence of ints); its id."""
    stored = {**values, "page_bits": json.dumps(list(values["page_bits"]))}
    new_id = conn.execute(insert(renditions).values(**stored)).inserted_primary_key
    assert new_id is not None
    return int(new_id[0])


def renditions_without_page_bits(conn: Connection) -> list[tuple[int, str]]:
    """Id and TIFF of each rendering stored before page bits were kept."""
    rows = conn.execute(
        select(renditions.c.id, renditions.c.tiff_sha256)
        .where(renditions.c.page_bits.is_(None))
        .order_by(renditions.c.id)
    )
    return [(row.id, row.tiff_sha256) for row in rows]


def set_page_bits(conn: Connection, rendition: int, page_bits: Sequence[int]) -> None:
    """Keep a rendering's page bits."""
    conn.execute(
        update(renditions)
        .where(renditions.c.id == rendition)
        .values(page_bits=json.dumps(list(page_bits)))
    )
