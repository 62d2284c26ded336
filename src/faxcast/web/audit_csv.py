"""An account's audit log as CSV: headings and actions in the page's language, times in the
account's time zone, and text cells a spreadsheet will not run as formulas."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final
from zoneinfo import ZoneInfo

from faxcast.domain.access import AuditEvent
from faxcast.web import i18n
from faxcast.web.results_csv import BOM, cell, csv_rows

HEADINGS: Final = (
    "audit.col.when",
    "audit.col.who",
    "audit.col.action",
    "audit.col.subject",
    "audit.col.address",
)


def audit_csv(pages: Iterable[list[AuditEvent]], zone: str, lang: str) -> Iterator[str]:
    """The CSV text, a page of events at a time (the log can be long), newest first."""
    t = i18n.translator(lang)
    yield BOM + csv_rows([[t(key) for key in HEADINGS]])
    for events in pages:
        yield csv_rows(
            (
                e.at.astimezone(ZoneInfo(zone)).isoformat(),
                cell(e.actor),
                cell(t(action_key(e))),
                cell(e.subject),
                cell(e.address),
            )
            for e in events
        )


def action_key(event: AuditEvent) -> str:
    """The message that names the event's action."""
    return "audit.action." + event.action.value


def file_name(account_id: int) -> str:
    """The name the download is saved under."""
    return f"faxcast-audit-{account_id}.csv"
