"""What the details page shows: the campaign and one page of its recipients with their calls."""

from __future__ import annotations

import math
from typing import Any, Final

from faxcast.domain.models import Attempt, CampaignDetail, LineKind, Recipient
from faxcast.domain.numbers import warned
from faxcast.i18n import Message
from faxcast.web import i18n
from faxcast.web.table import LIVE, actions
from faxcast.web.where import Where

RECIPIENTS_PAGE_SIZE: Final = 100


def received_attempt(recipient: Recipient) -> Attempt | None:
    """The latest call whose pages the far end kept (sandbox lines), if any."""
    received = [a for a in recipient.attempts if a.received_sha256 is not None]
    return received[-1] if received else None


def status(where: Where, detail: CampaignDetail) -> dict[str, Any]:
    """The details' live part: counts, state and the page of recipients `detail` holds."""
    count = detail.campaign.count_total
    return {
        "campaign": detail.campaign,
        "recipients": detail.recipients,
        "retries": detail.retries,
        "recipient_page": (detail.first - 1) // RECIPIENTS_PAGE_SIZE + 1,
        "recipient_pages": max(1, math.ceil(count / RECIPIENTS_PAGE_SIZE)),
        "first": detail.first,
        "last": detail.first + len(detail.recipients) - 1,
        "count": count,
        "sandbox": where.line.kind is LineKind.SANDBOX,
        "received_attempt": received_attempt,
        "live": detail.campaign.state in LIVE,
        "actions": actions,
        "stored_reason": i18n.stored_reason,
        "number_warnings": number_warnings(where, detail.recipients),
    }


def number_warnings(where: Where, recipients: tuple[Recipient, ...]) -> dict[str, Message]:
    """Why numbers of the page were kept as typed, by number (`domain.numbers.warned`)."""
    return warned((r.number for r in recipients), country=where.line.country)
