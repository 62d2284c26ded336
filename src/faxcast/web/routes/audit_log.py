"""An account's audit log (for its admins): a page of events at a time, newest first, and all
of it as CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from faxcast.domain.access import AuditEvent
from faxcast.services import accounts, audit
from faxcast.services.context import Services
from faxcast.services.spreadsheets import MEDIA_TYPE, attachment, audit_file_name
from faxcast.web import i18n
from faxcast.web.audit_csv import audit_csv
from faxcast.web.rendering import HtmlRoute, render, request_lang, services
from faxcast.web.where import account_crumbs

AUDIT_PATH: Final = "/accounts/{account}/audit"
PAGE_SIZE: Final = 50
# An id past this could not be stored: "before" it means from the newest.
_BEFORE_DIGITS: Final = 18

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get(AUDIT_PATH, name="web-audit")
def audit_page(request: Request, account: int, before: str = "") -> Response:
    """A page of the log, newest first; ?before=<id> for the events older than that one."""
    svc = services(request)
    lang = request_lang(request)
    t = i18n.translator(lang)
    before_id = int(before) if before.isdigit() and len(before) <= _BEFORE_DIGITS else None
    # One more than shown says whether there are older ones.
    events = audit.list_events(svc, account, limit=PAGE_SIZE + 1, before_id=before_id)
    found = accounts.get_account(svc, account)
    shown = events[:PAGE_SIZE]
    return render(
        request,
        "audit.html",
        account=found,
        events=shown,
        older=shown[-1].id if len(events) > PAGE_SIZE else None,
        paged=before_id is not None,
        crumbs=[*account_crumbs(request, lang, found), (t("audit.title"), "")],
        dt=lambda moment: i18n.format_datetime(moment, found.timezone, lang),
    )


@router.get(AUDIT_PATH + ".csv", name="web-audit-csv")
def audit_download(request: Request, account: int) -> Response:
    """The whole log as CSV, newest first, in the page's language."""
    svc = services(request)
    first = audit.list_events(svc, account, limit=audit.PAGE_MAX)  # refuses a non-admin here
    found = accounts.get_account(svc, account)
    return StreamingResponse(
        audit_csv(_pages(svc, account, first), found.timezone, request_lang(request)),
        media_type=MEDIA_TYPE,
        headers=attachment(audit_file_name(account)),
    )


def _pages(svc: Services, account: int, first: list[AuditEvent]) -> Iterator[list[AuditEvent]]:
    """The log a page at a time, from `first` on; it ends at a short page."""
    page = first
    while page:
        yield page
        if len(page) < audit.PAGE_MAX:
            return
        page = audit.list_events(svc, account, limit=audit.PAGE_MAX, before_id=page[-1].id)
