"""CSV downloads a spreadsheet opens as they are: UTF-8 with a BOM, CRLF, no cell run as a formula.

Excel reads a UTF-8 file without a BOM in the machine's code page (accents garbled), and runs a
cell that starts with = + - @ as a formula (some spreadsheets also after a leading tab or CR):
text that people typed (names, logins) goes through `plain` first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Final
from zoneinfo import ZoneInfo

from faxcast.domain.access import AuditEvent
from faxcast.i18n import Translator

BOM: Final = "\ufeff"
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
AUDIT_COLUMNS: Final = ("id", "at", "actor", "action", "subject", "address")


def plain(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a quote before such a start)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The CSV file: the BOM, the header, then the rows, lines ended by CRLF."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def audit_csv(events: Iterable[AuditEvent], texts: Translator, zone: str) -> str:
    """Audit events as CSV: headers and actions in the reader's language, times in `zone`."""
    where = ZoneInfo(zone)
    return csv_text(
        [texts(f"audit.column.{column}") for column in AUDIT_COLUMNS],
        (
            [
                event.id,
                event.at.astimezone(where).isoformat(),
                plain(event.actor),
                texts(f"audit.action.{event.action.value}"),
                plain(event.subject),
                plain(event.address),
            ]
            for event in events
        ),
    )


def audit_file_name(account_id: int) -> str:
    """The name an account's audit log is saved under."""
    return f"faxcast-audit-{account_id}.csv"
