"""Typed dependencies every route reuses: the services, and the caller's account on /me routes."""

from __future__ import annotations

from typing import Annotated, Final, cast

from fastapi import Depends, Header, Path, Request

from faxcast.api.problems import BadRequestError
from faxcast.domain.models import Account
from faxcast.i18n import codes
from faxcast.services import accounts
from faxcast.services.context import Services

ACCOUNT_HEADER: Final = "X-Faxcast-Account"


def get_services(request: Request) -> Services:
    """The Services the app was created with."""
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller_account(
    svc: ServicesDep,
    account_header: Annotated[
        str | None,
        Header(
            alias=ACCOUNT_HEADER,
            description="the caller's account id (until sign-in exists, it says who calls)",
        ),
    ] = None,
) -> Account:
    """The account "/me" stands for, named by the X-Faxcast-Account header."""
    if account_header is None or not account_header.strip():
        raise BadRequestError(
            codes.ACCOUNT_HEADER_MISSING(header=ACCOUNT_HEADER), field=ACCOUNT_HEADER
        )
    value = account_header.strip()
    if not value.isascii() or not value.isdigit():
        raise BadRequestError(
            codes.ACCOUNT_HEADER_NOT_ID(header=ACCOUNT_HEADER, value=value[:40]),
            field=ACCOUNT_HEADER,
        )
    return accounts.get_account(svc, int(value))


CallerAccountDep = Annotated[Account, Depends(get_caller_account)]

AccountId = Annotated[int, Path(description="the account's id")]
LineId = Annotated[int, Path(description="the fax line's id, within the account")]
CampaignId = Annotated[int, Path(description="the campaign's id, within the line")]
