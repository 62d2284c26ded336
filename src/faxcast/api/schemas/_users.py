"""An account's users, the caller, their API tokens, the audit log: what the API reads and writes.

A token's secret is in the answer to its creation only (`token`); it is kept as a hash, so
neither the API nor the server can show it again.
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from faxcast.api.schemas._base import Form, Schema, UtcTime
from faxcast.domain import access, models
from faxcast.domain.access import AuditAction, Role
from faxcast.services.users import SetupLink


class MemberAdd(Form):
    """A user to add to the account; a login nobody has yet becomes a new user."""

    login: str = Field(examples=["alice"])
    role: Role = Field(description="admin: also manages lines, users and the audit log")


class MemberRole(Form):
    """A user's new role in the account."""

    role: Role


class Member(Schema):
    """A user of the account and their role there."""

    id: int = Field(description="the user's id")
    login: str
    role: Role
    has_password: bool = Field(description="false until they have used their set-up link")
    added_at: UtcTime

    @classmethod
    def of(cls, member: access.Member) -> Member:
        """The schema of a read model."""
        return cls(
            id=member.user.id,
            login=member.user.login,
            role=member.role,
            has_password=member.user.has_password,
            added_at=member.added_at,
        )


class SetupUrl(Schema):
    """A one-time link where a user chooses their password; hand it to them."""

    setup_url: str
    valid_hours: int

    @classmethod
    def of(cls, link: SetupLink, base: str) -> SetupUrl:
        """The link on the server at `base`."""
        return cls(setup_url=link.url(base), valid_hours=link.valid_hours)


class MemberAdded(Member):
    """The user added; for a new login, the set-up link to hand them (else null)."""

    setup_url: str | None
    valid_hours: int | None

    @classmethod
    def added(cls, member: access.Member, link: SetupLink | None, base: str) -> MemberAdded:
        """The member and their link, on the server at `base`."""
        return cls.model_validate(
            Member.of(member).model_dump()
            | {
                "setup_url": link.url(base) if link else None,
                "valid_hours": link.valid_hours if link else None,
            }
        )


class MyAccount(Schema):
    """One of the caller's accounts and their role there."""

    id: int
    name: str
    role: Role


class Me(Schema):
    """Who the token's user is."""

    id: int
    login: str
    accounts: list[MyAccount]

    @classmethod
    def of(cls, caller: access.Caller, accounts: list[models.Account]) -> Me:
        """The caller and their accounts (a user always has an id)."""
        assert caller.user_id is not None, "the API always acts for a user"
        return cls(
            id=caller.user_id,
            login=caller.login,
            accounts=[
                MyAccount(id=a.id, name=a.name, role=role)
                for a in accounts
                if (role := caller.role_in(a.id)) is not None
            ],
        )


class TokenCreate(Form):
    """A new API token for the caller."""

    name: str = Field(description="what it is for, to tell tokens apart", examples=["billing"])
    expires_at: AwareDatetime | None = Field(
        default=None, description="with its offset; null: until revoked"
    )


class Token(Schema):
    """One of the caller's API tokens, never its secret."""

    id: int
    name: str
    hint: str = Field(description="the secret's first characters")
    created_at: UtcTime
    last_used_at: UtcTime | None = Field(description="to the minute")
    expires_at: UtcTime | None

    @classmethod
    def of(cls, token: access.ApiToken) -> Token:
        """The schema of a read model."""
        return cls.model_validate(token, from_attributes=True)


class TokenCreated(Token):
    """The new token, with its secret: shown this once, never again."""

    token: str = Field(description="the secret, to send as Authorization: Bearer")

    @classmethod
    def created(cls, token: access.ApiToken, secret: str) -> TokenCreated:
        """The token and its secret."""
        return cls.model_validate(Token.of(token).model_dump() | {"token": secret})


class AuditEvent(Schema):
    """Who did what in the account, when and from where."""

    id: int = Field(description="pass the last one's as `before` for the next page")
    at: UtcTime
    actor: str = Field(description="the login (or operator: the server's shell)")
    action: AuditAction = Field(description="a stable code")
    subject: str = Field(description="what it was done to")
    address: str = Field(description="the client's IP address; empty from the server's shell")

    @classmethod
    def of(cls, event: access.AuditEvent) -> AuditEvent:
        """The schema of a read model."""
        return cls.model_validate(event, from_attributes=True)
