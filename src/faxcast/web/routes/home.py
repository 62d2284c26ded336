"""Telephony, the first page: the fax lines grouped by account; and the language switch."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request, Response

from faxcast.errors import NotFoundError
from faxcast.i18n import codes
from faxcast.services import accounts
from faxcast.web import i18n
from faxcast.web.navigation import redirect, safe_next
from faxcast.web.rendering import LANG_COOKIE, HtmlRoute, PublicHtmlRoute, render, services

_YEAR_S: Final = 365 * 24 * 3600

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
public = APIRouter(route_class=PublicHtmlRoute, include_in_schema=False)


@router.get("/", name="web-home")
def home(request: Request) -> Response:
    """Telephony: the fax lines, grouped by account."""
    svc = services(request)
    groups = [(a, accounts.list_lines(svc, a.id)) for a in accounts.list_accounts(svc)]
    return render(request, "home.html", groups=groups)


@public.get("/lang/{code}", name="web-lang")
def choose_language(request: Request, code: str, next: str = "/") -> Response:
    """Remember the language chosen with the switch, then go back."""
    if code not in i18n.LANGUAGES:
        raise NotFoundError(codes.NO_LANGUAGE(code=code))
    response = redirect(safe_next(next, "/"))
    response.set_cookie(LANG_COOKIE, code, max_age=_YEAR_S, samesite="lax")
    return response
