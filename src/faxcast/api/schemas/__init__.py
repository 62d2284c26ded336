"""What the API reads and writes: pydantic schemas in the provider's camelCase, apart from tables.

One module per resource. Each response schema has an `of(...)` classmethod that builds it from a
service read model, so routes never hand out rows or read models as they are.
"""

from faxcast.api.schemas._accounts import Account, AccountCreate, AccountUpdate
from faxcast.api.schemas._base import Form, Schema, UtcTime
from faxcast.api.schemas._campaigns import (
    Campaign,
    CampaignCreate,
    CampaignCreated,
    CampaignPage,
    FlaggedRemoved,
    MergedEntry,
    MergedNumber,
    NumbersReport,
    NumberWarning,
    RecipientsType,
    SortOrder,
)
from faxcast.api.schemas._detail import Attempt, CampaignDetail, ReceivedUrl, Recipient
from faxcast.api.schemas._documents import Document
from faxcast.api.schemas._lines import (
    Line,
    LineCheck,
    LineCreate,
    LineSettings,
    LineSettingsUpdate,
    SipSettings,
    SipSettingsInput,
)
from faxcast.api.schemas._users import (
    AuditEvent,
    Me,
    Member,
    MemberAdd,
    MemberAdded,
    MemberRole,
    MyAccount,
    SetupUrl,
    Token,
    TokenCreate,
    TokenCreated,
)

__all__ = [
    "Account",
    "AccountCreate",
    "AccountUpdate",
    "Attempt",
    "AuditEvent",
    "Campaign",
    "CampaignCreate",
    "CampaignCreated",
    "CampaignDetail",
    "CampaignPage",
    "Document",
    "FlaggedRemoved",
    "Form",
    "Line",
    "LineCheck",
    "LineCreate",
    "LineSettings",
    "LineSettingsUpdate",
    "Me",
    "Member",
    "MemberAdd",
    "MemberAdded",
    "MemberRole",
    "MergedEntry",
    "MergedNumber",
    "MyAccount",
    "NumberWarning",
    "NumbersReport",
    "ReceivedUrl",
    "Recipient",
    "RecipientsType",
    "Schema",
    "SetupUrl",
    "SipSettings",
    "SipSettingsInput",
    "SortOrder",
    "Token",
    "TokenCreate",
    "TokenCreated",
    "UtcTime",
]
