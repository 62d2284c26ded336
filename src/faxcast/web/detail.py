"""What the details page shows: the campaign and one page of its recipients with their calls."""

from __future__ import annotations

import math
from typing import Any, Final

from faxcast.domain.models import Attempt, CampaignDetail, LineKind, Recipient
from faxcast.web import i18n
from faxcast.web.table import LIVE, actions
from faxcast.web.where import Where

RECIPIENTS_PAGE_SIZE: Final = 100


def received_attempt(recipient: Recipient) -> Attempt | None:
    """The latest call whose pages the far end kept (sandbox lines), if any."""
    received = [a for a in recipient.attempts if a.received_sha256 is not None]
    return received[-1] if received else None


def status(where: Where, detail: CampaignDetail, page: int) -> dict[str, Any]:
    """The details' live part: counts, state and page `page` of the recipients."""
    count = len(detail.recipients)
    pages = max(1, math.ceil(count / RECIPIENTS_PAGE_SIZE))
    page = min(max(page, 1), pages)
    first = (page - 1) * RECIPIENTS_PAGE_SIZE
    return {
        "campaign": detail.campaign,
        "recipients": detail.recipients[first : first + RECIPIENTS_PAGE_SIZE],
        "recipient_page": page,
        "recipient_pages": pages,
        "first": first + 1,
        "last": min(count, first + RECIPIENTS_PAGE_SIZE),
        "count": count,
        "sandbox": where.line.kind is LineKind.SANDBOX,
        "received_attempt": received_attempt,
        "live": detail.campaign.state in LIVE,
        "actions": actions,
        "stored_reason": i18n.stored_reason,
    }
