"""What every API schema shares: camelCase on the wire, unknown input refused, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel


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
