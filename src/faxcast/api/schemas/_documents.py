"""Uploaded documents: PDFs to fax and .txt lists of numbers."""

from __future__ import annotations

from pydantic import Field

from faxcast.api.schemas._base import Schema, UtcTime
from faxcast.domain import models


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
        return cls.model_validate(document, from_attributes=True)
