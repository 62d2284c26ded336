"""Read models the use cases return: plain frozen values, never database rows."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from faxcast.domain.campaign import Campaign
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.domain.retry import RecipientHistory, RetriesWaiting, call_cap_s
from faxcast.domain.sip_line import SipLineSettings

T = TypeVar("T")


class LineKind(enum.Enum):
    """Where a line's faxes go: the built-in sandbox network or a SIP trunk."""

    SANDBOX = "sandbox"
    SIP = "sip"


# The one list of sort keys: the store sorts on `field`, the API takes the value (the provider's
# camelCase names, which its clients send), the web table maps its own URL words onto members.
class CampaignSort(enum.Enum):
    """What campaigns can be sorted by."""

    CREATED_AT = "createdAt"
    NAME = "name"
    REFERENCE = "reference"
    STATE = "state"
    OUTCOME = "outcome"
    SEND_AT = "sendDate"
    STARTED_AT = "startedAt"

    @property
    def field(self) -> str:
        """The `Campaign` field, and campaigns column, sorted on: the member's name."""
        return self.name.lower()


@dataclass(frozen=True)
class Account:
    """A tenant (the seed's "groupe"): owns lines, documents and campaigns."""

    id: int
    name: str
    timezone: str
    created_at: datetime
    language: str  # of what its faxes say: their header line


@dataclass(frozen=True)
class LineSettings:
    """What a user sets on a line: its name, country (for national numbers) and identity;
    a `sip` line also has its trunk's settings (None for a sandbox line)."""

    name: str
    kind: LineKind
    country: str
    ident: str
    header: str
    channel_limit: int
    sip: SipLineSettings | None = None
    quality: Quality = Quality.NORMAL  # a new campaign's, unless it says otherwise
    max_calls: int | None = None  # calls per recipient at most; None: the server's policy


@dataclass(frozen=True)
class Line:
    """A fax line and the settings its calls use."""

    id: int
    account_id: int
    name: str
    kind: LineKind
    country: str
    ident: str
    header: str
    channel_limit: int
    created_at: datetime
    sip: SipLineSettings | None = None  # set exactly when kind is SIP
    quality: Quality = Quality.NORMAL
    max_calls: int | None = None


@dataclass(frozen=True)
class Document:
    """An uploaded file: a PDF to fax or a .txt list of numbers."""

    id: int
    account_id: int
    name: str
    media_type: str
    size: int
    sha256: str
    pages: int | None
    created_at: datetime


@dataclass(frozen=True)
class Attempt:
    """One call to one recipient and what came of it."""

    id: int
    number: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    line_s: float | None
    delivered: bool
    failure: FailureClass | None
    reason: str
    sip_status: int | None
    t30_code: int | None
    t30_text: str | None
    pages_confirmed: int
    pages_total: int
    bit_rate: int | None
    ecm: bool | None
    resolution: str | None
    t38: bool | None
    remote_ident: str | None
    received_sha256: str | None

    @property
    def duration_s(self) -> float:
        """Seconds the call held the line (wall time from dial to hang-up if unknown)."""
        if self.line_s is not None:
            return self.line_s
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Recipient:
    """One number of a campaign, its state and every call made to it."""

    id: int
    position: int
    number: str
    typed: str | None  # the entry as the user typed it, when it is not `number` itself
    state: RecipientState
    calls: int
    pages_confirmed: int
    reason: str | None
    due_at: datetime | None
    settled_at: datetime | None
    attempts: tuple[Attempt, ...]
    history: RecipientHistory
    # Set while its campaign runs and it waits for a retry: when, and the calls it has left
    # (None if its last failure counts against no limit).
    next_call_at: datetime | None = None
    tries_left: int | None = None


@dataclass(frozen=True)
class CampaignDetail:
    """A campaign with its recipients' results (the seed's "Détails"), all or one page of them.

    `recipients` are those at list positions `first` onwards; all of them when `first` is 1
    and no page size was asked for.
    """

    campaign: Campaign
    recipients: tuple[Recipient, ...]
    first: int = 1
    retries: RetriesWaiting | None = None  # set when a running campaign only waits for retries

    def numbers(self, *states: RecipientState) -> list[str]:
        """The numbers of recipients in the given states, in list order."""
        return [r.number for r in self.recipients if r.state in states]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, with the total to paginate."""

    items: Sequence[T]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class Claim:
    """A recipient a worker now calls, with what the call needs."""

    recipient_id: int
    campaign_id: int
    account_id: int
    number: str
    quality: Quality
    tiff_sha256: str
    pages: int
    page_bits: tuple[int, ...]  # each page's bits on the line (documents.line_bits)
    history: RecipientHistory
    line: Line
    claimed_at: datetime
    campaign_started_at: datetime | None  # when a first call became due
    timezone: str  # the account's: the header line's time
    language: str  # the account's: the header line's
    due_at: datetime | None = None  # when the call was due; None for a first call

    @property
    def cap_s(self) -> float:
        """The watchdog's cap on the call: its pages from the first one not confirmed yet."""
        return call_cap_s(self.page_bits[self.history.pages_confirmed :], self.quality.profile)
