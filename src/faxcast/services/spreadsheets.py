"""CSV downloads a spreadsheet opens as they are: UTF-8 with a BOM, CRLF, no cell run as a formula.

Excel reads a UTF-8 file without a BOM in the machine's code page (accents garbled), and runs a
cell that starts with = + - @ as a formula (some spreadsheets also after a leading tab or CR):
text that people typed (names, logins) goes through `plain` first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Final
from zoneinfo import ZoneInfo

from faxcast.domain.access import AuditEvent
from faxcast.i18n import Translator

BOM: Final = "\ufeff"
MEDIA_TYPE: Final = "text/csv; charset=utf-8"
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
AUDIT_COLUMNS: Final = ("id", "at", "actor", "action", "subject", "address")


def plain(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a quote before such a start)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV lines, ended by CRLF (what spreadsheets expect)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The CSV file: the BOM, the header, then the rows."""
    return BOM + csv_lines([header]) + csv_lines(rows)


def attachment(name: str) -> dict[str, str]:
    """The header that makes the browser save a download as `name` (an ASCII name of ours)."""
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def audit_header(texts: Translator) -> list[str]:
    """The audit CSV's column names, in the reader's language."""
    return [texts(f"audit.column.{column}") for column in AUDIT_COLUMNS]


def audit_rows(
    events: Iterable[AuditEvent], texts: Translator, zone: str
) -> Iterator[list[object]]:
    """Audit events as CSV rows: actions in the reader's language, times in `zone`."""
    where = ZoneInfo(zone)
    for event in events:
        yield [
            event.id,
            event.at.astimezone(where).isoformat(),
            plain(event.actor),
            texts(f"audit.action.{event.action.value}"),
            plain(event.subject),
            plain(event.address),
        ]


def audit_csv(events: Iterable[AuditEvent], texts: Translator, zone: str) -> str:
    """Audit events as one CSV file."""
    return csv_text(audit_header(texts), audit_rows(events, texts, zone))


def audit_file_name(account_id: int) -> str:
    """The name an account's audit log is saved under."""
    return f"faxcast-audit-{account_id}.csv"
