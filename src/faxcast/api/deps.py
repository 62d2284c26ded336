"""Typed dependencies every route reuses: the services, acting for the token's user.

Every route that takes `ServicesDep` needs a valid API token (`Authorization: Bearer`); on a
route whose path names an `{account}`, an account that is not the caller's is not found, so no
route can forget to check it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, cast

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from faxcast.domain.access import Caller
from faxcast.errors import AuthError
from faxcast.i18n import codes
from faxcast.services import tokens
from faxcast.services.context import Services
from faxcast.services.guard import require_member

_BEARER = HTTPBearer(
    auto_error=False,
    description="an API token (faxcast token create, or the web page « API tokens »)",
)


def get_app_services(request: Request) -> Services:
    """The Services the app was created with, acting for nobody (the probes' and metrics')."""
    return cast(Services, request.app.state.services)


AppServicesDep = Annotated[Services, Depends(get_app_services)]


async def get_caller(
    request: Request,
    svc: AppServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Caller:
    """The token's user, or AuthError (401)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError(codes.AUTH_REQUIRED())
    address = request.client.host if request.client else ""
    caller = await asyncio.to_thread(
        tokens.token_caller, svc, credentials.credentials.strip(), address=address
    )
    if caller is None:
        raise AuthError(codes.AUTH_TOKEN_INVALID())
    return caller


def get_services(
    request: Request, svc: AppServicesDep, caller: Annotated[Caller, Depends(get_caller)]
) -> Services:
    """The services acting for the caller, once the account in the path is found theirs."""
    acting = svc.acting_for(caller)
    account = request.path_params.get("account")
    if account is not None:
        # Not a number: no account of theirs either (FastAPI then says what is wrong with it).
        with contextlib.suppress(ValueError):
            require_member(acting, int(account))
    return acting


ServicesDep = Annotated[Services, Depends(get_services)]

AccountId = Annotated[int, Path(description="the account's id")]
LineId = Annotated[int, Path(description="the fax line's id, within the account")]
CampaignId = Annotated[int, Path(description="the campaign's id, within the line")]
