"""The signed-in user's API tokens: the list, a new one (its secret shown this once), revoking."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from faxcast.domain.access import ApiToken
from faxcast.errors import InputError, NotFoundError
from faxcast.i18n import codes
from faxcast.services import accounts, tokens
from faxcast.services.context import Services
from faxcast.web import i18n
from faxcast.web.form_errors import by_field
from faxcast.web.navigation import done_notice, redirect, with_done
from faxcast.web.rendering import HtmlRoute, render, request_lang, services

TOKENS_PATH: Final = "/me/tokens"
TOKEN_PATH: Final = TOKENS_PATH + "/{token}"
_DONE: Final = frozenset({"revoked"})

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get(TOKENS_PATH, name="web-tokens")
def tokens_page(request: Request) -> Response:
    """The user's tokens (never their secrets), and the form for a new one."""
    return _page(request, services(request))


@router.post(TOKENS_PATH, name="web-token-create")
async def create_token(request: Request) -> Response:
    """A new token: its secret is on this page only, and never shown again."""
    svc = services(request)
    t = i18n.translator(request_lang(request))
    form = await request.form()
    name, expires = str(form.get("name", "")), str(form.get("expires_at", "")).strip()
    zone = await run_in_threadpool(_zone, svc)
    try:
        expires_at = _start_of(expires, zone) if expires else None
    except ValueError:
        errors = {"expires_at": t("tokens.date_invalid")}
        return await run_in_threadpool(_page, request, svc, name, expires, errors, 422)
    try:
        token, secret = await run_in_threadpool(
            lambda: tokens.create_token(svc, name, expires_at=expires_at)
        )
    except InputError as error:
        errors = by_field(error, t)
        return await run_in_threadpool(_page, request, svc, name, expires, errors, 422)
    back = str(request.app.url_path_for("web-tokens"))
    return render(
        request,
        "handout.html",
        status=201,
        title=t("tokens.created_title"),
        intro=t("tokens.secret_intro", name=token.name),
        secret=secret,
        warning=t("tokens.once"),
        back=back,
        back_label=t("tokens.back"),
        crumbs=[(t("tokens.title"), back), (t("tokens.created_title"), "")],
    )


@router.get(TOKEN_PATH + "/revoke", name="web-token-confirm-revoke")
def confirm_revoke(request: Request, token: int) -> Response:
    """Ask before revoking the token."""
    found = _token(services(request), token)
    t = i18n.translator(request_lang(request))
    return render(
        request,
        "confirm.html",
        title=t("tokens.revoke_title"),
        text=t("tokens.revoke_text", name=found.name, hint=found.hint),
        action=str(request.app.url_path_for("web-token-revoke", token=str(token))),
        confirm=t("tokens.revoke"),
        back=str(request.app.url_path_for("web-tokens")),
    )


@router.post(TOKEN_PATH + "/revoke", name="web-token-revoke")
async def revoke_token(request: Request, token: int) -> Response:
    """Revoke the token, once confirmed: the next request with it is refused."""
    await run_in_threadpool(tokens.revoke_token, services(request), token)
    return redirect(with_done(str(request.app.url_path_for("web-tokens")), "revoked"))


def _page(
    request: Request,
    svc: Services,
    name: str = "",
    expires: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    lang = request_lang(request)
    t = i18n.translator(lang)
    zone = _zone(svc)
    return render(
        request,
        "tokens.html",
        status=status,
        tokens=tokens.list_tokens(svc),
        name=name,
        expires=expires,
        zone=zone,
        errors=errors or {},
        notice=done_notice(request, t, "tokens.done.", _DONE),
        crumbs=[(t("tokens.title"), "")],
        dt=lambda moment: i18n.format_datetime(moment, zone, lang),
    )


def _token(svc: Services, token_id: int) -> ApiToken:
    for token in tokens.list_tokens(svc):
        if token.id == token_id:
            return token
    raise NotFoundError(codes.NO_TOKEN(token=token_id))


def _zone(svc: Services) -> str:
    """The time zone of the user's accounts when they share one, else the server's default."""
    zones = {account.timezone for account in accounts.list_accounts(svc)}
    return zones.pop() if len(zones) == 1 else svc.settings.default_timezone


def _start_of(day: str, zone: str) -> datetime:
    """The start of the day typed as YYYY-MM-DD, in the time zone `zone`; else ValueError."""
    return datetime.combine(date.fromisoformat(day), time(), tzinfo=ZoneInfo(zone))
