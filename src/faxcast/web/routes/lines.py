"""A line's pages: its General tab (settings, and their form to create or edit a line) and its
Fax tab, which leads to the campaigns."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling
from faxcast.domain.models import Account, LineKind
from faxcast.domain.quality import Quality
from faxcast.domain.sip_line import SipTransport, T38Mode
from faxcast.services import accounts, line_check
from faxcast.services.guard import require_admin
from faxcast.web import i18n
from faxcast.web.campaign_form import Errors
from faxcast.web.line_form import CODEC_ORDERS, LineForm, submit
from faxcast.web.navigation import redirect
from faxcast.web.rendering import HtmlRoute, render, request_lang, services
from faxcast.web.where import LINE_PATH, Where, account_crumbs, where_of

NEW_LINE_PATH: Final = "/accounts/{account}/lines/new"
# Form fields, in the order the page shows them (the error summary follows it).
FIELDS: Final = (
    "name",
    "kind",
    "country",
    "ident",
    "header",
    "channel_limit",
    "quality",
    "max_calls",
    "proxy_host",
    "proxy_port",
    "transport",
    "username",
    "password",
    "register",
    "register_interval_s",
    "from_number",
    "display_name",
    "dialling",
    "international_prefix",
    "codecs",
    "t38",
    "t38_offer_after_s",
    "ring_timeout_s",
    "local_address",
    "rtp_port_min",
    "rtp_port_max",
    "form",
)

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _form_page(
    request: Request,
    account: Account,
    where: Where | None,
    form: LineForm,
    errors: Errors,
    *,
    status: int = 200,
) -> Response:
    lang = request_lang(request)
    t = i18n.translator(lang)
    if where is None:
        crumbs = [*account_crumbs(request, lang, account), (t("lineform.new_title"), "")]
    else:
        crumbs = where.crumbs(request, lang, (t("lineform.edit_title"), ""))
    return render(
        request,
        "line_form.html",
        status=status,
        account=account,
        where=where,
        crumbs=crumbs,
        form=replace(form, password=""),  # a password is never written into a page
        errors={name: errors.by_field[name] for name in FIELDS if name in errors.by_field},
        password_set=bool(where and where.line.sip and where.line.sip.password),
        kinds=list(LineKind),
        qualities=list(Quality),
        max_calls=range(1, accounts.MAX_CALLS + 1),
        transports=list(SipTransport),
        diallings=list(Dialling),
        codec_orders=[(value, value.upper().replace(",", ", ")) for value in CODEC_ORDERS],
        t38_modes=list(T38Mode),
    )


# Before LINE_PATH: "new" would otherwise be read as a line's id (and not found).
@router.get(NEW_LINE_PATH, name="web-line-new")
def new_line(request: Request, account: int) -> Response:
    """The form for a new line of the account (its admins')."""
    svc = services(request)
    require_admin(svc, account)
    found = accounts.get_account(svc, account)
    return _form_page(request, found, None, LineForm.new(svc.settings), Errors())


@router.post(NEW_LINE_PATH, name="web-line-create")
async def create_line(request: Request, account: int) -> Response:
    """Create the line and show it, or show the form again with every error."""
    svc = services(request)
    found = await run_in_threadpool(accounts.get_account, svc, account)
    form = await _submitted(request)
    result = await run_in_threadpool(submit, svc, found.id, None, form, lang=request_lang(request))
    if isinstance(result, Errors):
        return _form_page(request, found, None, form, result, status=422)
    return redirect(_line_url(request, found.id, result.id))


@router.get(LINE_PATH, name="web-line")
def line_page(request: Request, account: int, line: int) -> Response:
    """A line's General tab: its settings."""
    where = where_of(services(request), account, line)
    crumbs = where.crumbs(request, request_lang(request))
    crumbs[-1] = (crumbs[-1][0], "")
    return render(request, "line.html", where=where, crumbs=crumbs, codecs=_codecs, check=None)


@router.post(LINE_PATH + "/test", name="web-line-test")
async def test_line(request: Request, account: int, line: int) -> Response:
    """« Tester cette ligne »: the General tab again, with the verdict on top."""
    svc = services(request)
    where = await run_in_threadpool(where_of, svc, account, line)
    check = await line_check.check_line(svc, account, line)
    crumbs = where.crumbs(request, request_lang(request))
    crumbs[-1] = (crumbs[-1][0], "")
    return render(request, "line.html", where=where, crumbs=crumbs, codecs=_codecs, check=check)


@router.get(LINE_PATH + "/edit", name="web-line-edit")
def edit_line(request: Request, account: int, line: int) -> Response:
    """The form with the line's settings (never its password), for the account's admins."""
    svc = services(request)
    require_admin(svc, account)
    where = where_of(svc, account, line)
    return _form_page(request, where.account, where, LineForm.of_line(where.line), Errors())


@router.post(LINE_PATH + "/edit", name="web-line-update")
async def update_line(request: Request, account: int, line: int) -> Response:
    """Save the line's settings and show them, or show the form again with every error."""
    svc = services(request)
    where = await run_in_threadpool(where_of, svc, account, line)
    form = await _submitted(request)
    result = await run_in_threadpool(
        submit, svc, account, where.line, form, lang=request_lang(request)
    )
    if isinstance(result, Errors):
        form.kind = where.line.kind.value
        return _form_page(request, where.account, where, form, result, status=422)
    return redirect(_line_url(request, account, line))


@router.get(LINE_PATH + "/fax", name="web-fax")
def fax_page(request: Request, account: int, line: int) -> Response:
    """A line's Fax tab, which leads to its campaigns."""
    where = where_of(services(request), account, line)
    crumbs = where.crumbs(
        request, request_lang(request), (i18n.translator(request_lang(request))("tab.fax"), "")
    )
    return render(request, "fax.html", where=where, crumbs=crumbs)


async def _submitted(request: Request) -> LineForm:
    """The posted form; the password typed is used once and never shown again."""
    data = await request.form()
    return LineForm.of({k: v for k, v in data.items() if isinstance(v, str)})


def _line_url(request: Request, account: int, line: int) -> str:
    return str(request.app.url_path_for("web-line", account=str(account), line=str(line)))


def _codecs(codecs: tuple[Codec, ...]) -> str:
    return ", ".join(codec.value.upper() for codec in codecs)
