"""Fax lines and their settings: what the API reads and writes."""

from __future__ import annotations

from pydantic import Field

from faxcast.api.schemas._base import Form, Schema, UtcTime
from faxcast.domain import models


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
        return cls.model_validate(line, from_attributes=True)


class Line(LineSettings):
    """A fax line of an account."""

    id: int
    account_id: int
    created_at: UtcTime

    @classmethod
    def of(cls, line: models.Line) -> Line:
        """The schema of a read model."""
        return cls.model_validate(line, from_attributes=True)
