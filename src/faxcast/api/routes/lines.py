"""Fax lines of an account and their settings: /telephony/{account}/fax."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from faxcast.api import schemas
from faxcast.api.deps import AccountId, LineId, ServicesDep
from faxcast.api.problems import problem_responses, texts
from faxcast.domain.models import LineSettings
from faxcast.services import accounts, line_check

router = APIRouter(
    prefix="/telephony/{account}/fax",
    tags=["lines"],
    responses=problem_responses(403, 404, 422),
)


@router.get("", name="list")
def list_lines(svc: ServicesDep, account: AccountId) -> list[schemas.Line]:
    """The account's fax lines."""
    return [schemas.Line.of(line) for line in accounts.list_lines(svc, account)]


@router.post("", name="create", status_code=status.HTTP_201_CREATED)
def create_line(svc: ServicesDep, account: AccountId, body: schemas.LineCreate) -> schemas.Line:
    """A new line: a sandbox line, or a sip line with its trunk's settings in `sip`."""
    settings = LineSettings(
        name=body.name,
        kind=body.kind,
        country=body.country if body.country is not None else svc.settings.default_country,
        ident=body.ident,
        header=body.header,
        channel_limit=(
            body.channel_limit if body.channel_limit is not None else svc.settings.channel_limit
        ),
        sip=body.sip.settings() if body.sip else None,
        quality=body.quality,
        max_calls=body.max_calls,
    )
    return schemas.Line.of(accounts.create_line(svc, account, settings))


@router.get("/{line}", name="get")
def get_line(svc: ServicesDep, account: AccountId, line: LineId) -> schemas.Line:
    """One line of the account."""
    return schemas.Line.of(accounts.get_line(svc, account, line))


@router.get("/{line}/settings", name="get_settings")
def get_settings(svc: ServicesDep, account: AccountId, line: LineId) -> schemas.LineSettings:
    """The line's settings (a sip line's password is never shown)."""
    return schemas.LineSettings.of(accounts.get_line(svc, account, line))


@router.put("/{line}/settings", name="update_settings")
def update_settings(
    svc: ServicesDep, account: AccountId, line: LineId, body: schemas.LineSettingsUpdate
) -> schemas.LineSettings:
    """Replace the line's settings; its kind stays what it is, and a sip line's password too
    unless a new one is given."""
    kind = body.kind if body.kind is not None else accounts.get_line(svc, account, line).kind
    settings = LineSettings(
        name=body.name,
        kind=kind,
        country=body.country,
        ident=body.ident,
        header=body.header,
        channel_limit=body.channel_limit,
        sip=body.sip.settings() if body.sip else None,
        quality=body.quality,
        max_calls=body.max_calls,
    )
    return schemas.LineSettings.of(accounts.update_line(svc, account, line, settings))


@router.post("/{line}/test", name="test")
async def test_line(
    svc: ServicesDep, account: AccountId, line: LineId, request: Request
) -> schemas.LineCheck:
    """« Tester cette ligne »: OPTIONS, or REGISTER if the line registers, to its proxy."""
    found = await line_check.check_line(svc, account, line)
    return schemas.LineCheck.of(found, texts(request))
