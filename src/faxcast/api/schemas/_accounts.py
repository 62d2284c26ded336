"""Accounts (the seed's "groupes"): what the API reads and writes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from faxcast.api.schemas._base import Form, Schema, UtcTime
from faxcast.domain import models


class AccountCreate(Form):
    """A new account; it comes with one sandbox line."""

    name: str = Field(examples=["Acme sales"])
    timezone: str | None = Field(
        default=None,
        description="IANA time zone; the server's default when absent",
        examples=["UTC"],
    )
    language: Literal["en", "fr"] | None = Field(
        default=None,
        description="language of the header line on the account's faxes; the server's default "
        "when absent",
        examples=["fr"],
    )


class AccountUpdate(Form):
    """An account's settings, replaced as a whole."""

    name: str = Field(examples=["Acme sales"])
    timezone: str = Field(description="IANA time zone", examples=["Europe/Paris"])
    language: Literal["en", "fr"] = Field(
        description="language of the header line on the account's faxes", examples=["fr"]
    )


class Account(Schema):
    """A tenant: owns lines, documents and campaigns."""

    id: int
    name: str
    timezone: str
    language: str
    created_at: UtcTime

    @classmethod
    def of(cls, account: models.Account) -> Account:
        """The schema of a read model."""
        return cls.model_validate(account, from_attributes=True)
