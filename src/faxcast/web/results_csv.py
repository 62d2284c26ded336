"""CSV downloads: a campaign's results (one row per recipient, stable English column names and
values) and the helpers every CSV of the pages shares."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
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
# Lets a spreadsheet read the file as UTF-8 (translated headings have accents).
BOM: Final = "\ufeff"
MEDIA_TYPE: Final = "text/csv; charset=utf-8"


def results_csv(detail: CampaignDetail, zone: str) -> str:
    """Every recipient's result, times in the time zone `zone`, lines ended by CRLF."""
    return csv_rows(
        [
            COLUMNS,
            *(
                (
                    r.position,
                    r.number,
                    r.state.value,
                    len(r.attempts),
                    r.pages_confirmed,
                    cell(r.reason or ""),
                    r.settled_at.astimezone(ZoneInfo(zone)).isoformat() if r.settled_at else "",
                )
                for r in detail.recipients
            ),
        ]
    )


def file_name(detail: CampaignDetail) -> str:
    """The name the download is saved under."""
    return f"faxcast-{detail.campaign.reference}-results.csv"


def csv_rows(rows: Iterable[Sequence[object]]) -> str:
    """The rows as CSV text, lines ended by CRLF (what spreadsheets expect)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def attachment(name: str) -> dict[str, str]:
    """The header that makes the browser save the download as `name`."""
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
