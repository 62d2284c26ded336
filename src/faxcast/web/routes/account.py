"""An account's page (the seed's « groupe où se trouve votre ligne »): its settings and lines,
and the form its admins change its name, time zone and language with."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from faxcast.domain.models import Account
from faxcast.errors import InputError
from faxcast.services import accounts
from faxcast.services.guard import require_admin
from faxcast.web import i18n
from faxcast.web.form_errors import by_field
from faxcast.web.navigation import done_notice, redirect, with_done
from faxcast.web.rendering import HtmlRoute, render, request_lang, services
from faxcast.web.where import ACCOUNT_PATH, account_crumbs

_DONE: Final = frozenset({"saved"})

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get(ACCOUNT_PATH, name="web-account")
def account_page(request: Request, account: int) -> Response:
    """The account's settings and its lines."""
    svc = services(request)
    found = accounts.get_account(svc, account)
    lang = request_lang(request)
    t = i18n.translator(lang)
    crumbs = account_crumbs(request, lang, found)
    crumbs[-1] = (crumbs[-1][0], "")  # the group is this page: its crumb is no link
    return render(
        request,
        "account.html",
        account=found,
        lines=accounts.list_lines(svc, account),
        notice=done_notice(request, t, "account.", _DONE),
        # The group is the page itself: its crumb is no link.
        crumbs=[
            *account_crumbs(request, lang, found)[:-1],
            (t("home.account", name=found.name), ""),
        ],
    )


@router.get(ACCOUNT_PATH + "/edit", name="web-account-edit")
def edit_account(request: Request, account: int) -> Response:
    """The form with the account's settings, for its admins."""
    svc = services(request)
    require_admin(svc, account)
    found = accounts.get_account(svc, account)
    values = {"name": found.name, "timezone": found.timezone, "language": found.language}
    return _form_page(request, found, values, {})


@router.post(ACCOUNT_PATH + "/edit", name="web-account-update")
async def update_account(request: Request, account: int) -> Response:
    """Save the account's settings and show them, or show the form again with every error."""
    svc = services(request)
    found = await run_in_threadpool(accounts.get_account, svc, account)
    data = await request.form()
    values = {key: str(data.get(key, "")) for key in ("name", "timezone", "language")}
    try:
        await run_in_threadpool(
            lambda: accounts.update_account(
                svc,
                account,
                name=values["name"],
                timezone=values["timezone"].strip(),
                language=values["language"],
            )
        )
    except InputError as error:
        errors = by_field(error, i18n.translator(request_lang(request)))
        return _form_page(request, found, values, errors, status=422)
    url = str(request.app.url_path_for("web-account", account=str(account)))
    return redirect(with_done(url, "saved"))


def _form_page(
    request: Request,
    account: Account,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> Response:
    lang = request_lang(request)
    return render(
        request,
        "account_form.html",
        status=status,
        account=account,
        values=values,
        errors=errors,
        crumbs=[
            *account_crumbs(request, lang, account),
            (i18n.translator(lang)("account.edit_title"), ""),
        ],
    )
