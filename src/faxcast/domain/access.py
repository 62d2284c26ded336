"""Who acts, and what each role may do in an account (the seed's "groupe")."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final


class Role(enum.Enum):
    """A user's role in one account: an admin also manages lines, users and the audit log."""

    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True)
class User:
    """Someone who signs in; `login` is unique, compared without regard to case."""

    id: int
    login: str
    created_at: datetime
    has_password: bool


@dataclass(frozen=True)
class Member:
    """A user as one account sees them: with their role there."""

    user: User
    account_id: int
    role: Role
    added_at: datetime


@dataclass(frozen=True)
class Caller:
    """Who a request or command comes from, and their role in each of their accounts.

    The operator (the server's shell, its scheduler and workers) has no user and every right."""

    user_id: int | None
    login: str
    roles: Mapping[int, Role] = field(default_factory=lambda: MappingProxyType({}))
    address: str = ""

    @property
    def is_operator(self) -> bool:
        """The shell or the server itself, acting for every account."""
        return self.user_id is None

    def role_in(self, account_id: int) -> Role | None:
        """The caller's role in the account, or None: the account is not theirs."""
        return Role.ADMIN if self.is_operator else self.roles.get(account_id)

    def may_see(self, account_id: int) -> bool:
        """Whether the account is the caller's (else its objects are "not found")."""
        return self.role_in(account_id) is not None

    def is_admin_of(self, account_id: int) -> bool:
        """Whether the caller manages the account's lines and users."""
        return self.role_in(account_id) is Role.ADMIN

    def at(self, address: str) -> Caller:
        """The same caller, coming from `address`."""
        return Caller(self.user_id, self.login, self.roles, address)


OPERATOR: Final = Caller(None, "operator")
"""The shell and the server's own work: the CLI, the scheduler, the workers."""


@dataclass(frozen=True)
class ApiToken:
    """A user's API token as listed: never its secret, which is shown once at creation."""

    id: int
    user_id: int
    name: str
    hint: str  # the secret's first characters, to tell tokens apart
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class AuditAction(enum.Enum):
    """What an audit event records; the values are stable codes for the API and CSV."""

    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    PASSWORD_CHANGED = "password_changed"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_CHANGED = "account_changed"
    CAMPAIGN_CREATED = "campaign_created"
    CAMPAIGN_LAUNCHED = "campaign_launched"
    CAMPAIGN_STOPPED = "campaign_stopped"
    CAMPAIGN_DELETED = "campaign_deleted"
    FLAGGED_REMOVED = "flagged_removed"
    LINE_CREATED = "line_created"
    LINE_CHANGED = "line_changed"
    USER_ADDED = "user_added"
    USER_ROLE_CHANGED = "user_role_changed"
    USER_REMOVED = "user_removed"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"


@dataclass(frozen=True)
class AuditEvent:
    """Who did what in an account, when and from where; `subject` names what it was done to."""

    id: int
    account_id: int
    at: datetime
    actor: str
    action: AuditAction
    subject: str
    address: str
