"""An account's audit log, for its admins: /telephony/{account}/audit (JSON and CSV)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query, Request, Response

from faxcast.api import schemas
from faxcast.api.deps import AccountId, ServicesDep
from faxcast.api.problems import problem_responses, texts
from faxcast.services import accounts, audit, spreadsheets

router = APIRouter(
    prefix="/telephony/{account}",
    tags=["audit"],
    responses=problem_responses(403, 404, 422),
)

_DEFAULT_LIMIT: Final = 100
# Ids are 32-bit on both databases; a larger `before` would name no event.
_ID_MAX: Final = 2**31 - 1
Limit = Annotated[int, Query(ge=1, le=audit.PAGE_MAX, description="how many events, newest first")]
Before = Annotated[
    int | None,
    Query(ge=1, le=_ID_MAX, description="only events older than this one (an event's id)"),
]


@router.get("/audit", name="list")
def list_events(
    svc: ServicesDep, account: AccountId, limit: Limit = _DEFAULT_LIMIT, before: Before = None
) -> list[schemas.AuditEvent]:
    """Who did what in the account, newest first; `before` pages on (the last event's id)."""
    found = audit.list_events(svc, account, limit=limit, before_id=before)
    return [schemas.AuditEvent.of(event) for event in found]


@router.get(
    "/audit.csv",
    name="csv",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "the events as CSV",
        }
    },
)
def events_csv(
    svc: ServicesDep,
    account: AccountId,
    request: Request,
    limit: Limit = _DEFAULT_LIMIT,
    before: Before = None,
) -> Response:
    """The same events as CSV for a spreadsheet (UTF-8 with a BOM): headers and actions in the
    Accept-Language's language, times in the account's time zone."""
    found = audit.list_events(svc, account, limit=limit, before_id=before)
    zone = accounts.get_account(svc, account).timezone
    t = texts(request)
    return Response(
        spreadsheets.audit_csv(found, t, zone),
        media_type=spreadsheets.MEDIA_TYPE,
        headers={
            **spreadsheets.attachment(spreadsheets.audit_file_name(account)),
            "Content-Language": t.lang,
            "Vary": "Accept-Language",
        },
    )
