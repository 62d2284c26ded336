"""A campaign's results as CSV: one row per recipient, stable English column names and values."""

from __future__ import annotations

import csv
import io
from typing import Final
from zoneinfo import ZoneInfo

from faxcast.domain.models import CampaignDetail

COLUMNS: Final = (
    "position",
    "number",
    "result",
    "attempts",
    "pages_confirmed",
    "reason",
    "settled_at",
)


def results_csv(detail: CampaignDetail, zone: str) -> str:
    """Every recipient's result, times in the time zone `zone`, lines ended by CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in detail.recipients:
        settled = r.settled_at.astimezone(ZoneInfo(zone)).isoformat() if r.settled_at else ""
        writer.writerow(
            [
                r.position,
                r.number,
                r.state.value,
                len(r.attempts),
                r.pages_confirmed,
                _cell(r.reason or ""),
                settled,
            ]
        )
    return out.getvalue()


def file_name(detail: CampaignDetail) -> str:
    """The name the download is saved under."""
    return f"faxcast-{detail.campaign.reference}-results.csv"


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
