"""An account's whole audit log as CSV, streamed a page of events at a time (it can be long)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from faxcast.domain.access import AuditEvent
from faxcast.services.spreadsheets import BOM, audit_header, audit_rows, csv_lines
from faxcast.web import i18n


def audit_csv(pages: Iterable[list[AuditEvent]], zone: str, lang: str) -> Iterator[str]:
    """The CSV text (services.spreadsheets' columns), newest first, one chunk per page."""
    t = i18n.translator(lang)
    yield BOM + csv_lines([audit_header(t)])
    for events in pages:
        yield csv_lines(audit_rows(events, t, zone))
