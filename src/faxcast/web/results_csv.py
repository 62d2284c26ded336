"""A campaign's results as CSV: one row per recipient, stable English column names and values."""

from __future__ import annotations

from typing import Final
from zoneinfo import ZoneInfo

from faxcast.domain.models import CampaignDetail
from faxcast.services.spreadsheets import csv_text, plain

COLUMNS: Final = (
    "position",
    "number",
    "result",
    "attempts",
    "pages_confirmed",
    "reason",
    "settled_at",
    "typed",  # last: a column added later, so that scripts reading by position keep working
)


def results_csv(detail: CampaignDetail, zone: str) -> str:
    """Every recipient's result, times in the time zone `zone` (services.spreadsheets' CSV)."""
    where = ZoneInfo(zone)
    return csv_text(
        COLUMNS,
        (
            [
                r.position,
                r.number,
                r.state.value,
                len(r.attempts),
                r.pages_confirmed,
                plain(r.reason or ""),
                r.settled_at.astimezone(where).isoformat() if r.settled_at else "",
                plain(r.typed or ""),
            ]
            for r in detail.recipients
        ),
    )


def file_name(detail: CampaignDetail) -> str:
    """The name the download is saved under."""
    return f"faxcast-{detail.campaign.reference}-results.csv"
