"""An account's users (for its admins): the list, adding one by login, roles, removal, and
the one-time set-up links handed to them."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from faxcast.domain.access import Member, Role
from faxcast.domain.models import Account
from faxcast.errors import ConflictError, InputError, NotFoundError
from faxcast.i18n import codes
from faxcast.services import accounts, users
from faxcast.services.context import Services
from faxcast.services.users import SetupLink
from faxcast.web import i18n
from faxcast.web.form_errors import by_field
from faxcast.web.navigation import done_notice, redirect, with_done
from faxcast.web.rendering import HtmlRoute, caller_of, render, request_lang, services
from faxcast.web.where import account_crumbs

USERS_PATH: Final = "/accounts/{account}/users"
USER_PATH: Final = USERS_PATH + "/{user}"
_DONE: Final = frozenset({"added", "role", "removed"})

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get(USERS_PATH, name="web-users")
def users_page(request: Request, account: int) -> Response:
    """The account's users and their roles, and the form to add one."""
    return _page(request, services(request), account)


@router.post(USERS_PATH, name="web-user-add")
async def add_user(request: Request, account: int) -> Response:
    """Add a user by login; a new login's set-up link is shown this once."""
    svc = services(request)
    form = await request.form()
    login, role = str(form.get("login", "")), _role(form.get("role"))
    if role is None:
        return await run_in_threadpool(
            _page, request, svc, account, login, None, _no_role(request), 422
        )
    try:
        member, link = await run_in_threadpool(users.add_member, svc, account, login, role)
    except InputError as error:
        errors = by_field(error, _t(request))
        return await run_in_threadpool(_page, request, svc, account, login, role, errors, 422)
    if link is None:
        return redirect(with_done(_users_url(request, account), "added"))
    return await run_in_threadpool(_link_page, request, svc, account, member, link)


@router.post(USER_PATH + "/role", name="web-user-role")
async def change_role(request: Request, account: int, user: int) -> Response:
    """Give the user another role; the account keeps at least one admin."""
    svc = services(request)
    role = _role((await request.form()).get("role"))
    await run_in_threadpool(_member, svc, account, user)  # another's user: not found, first
    if role is None:
        return await run_in_threadpool(
            _page, request, svc, account, "", None, _no_role(request), 422
        )
    try:
        await run_in_threadpool(users.change_role, svc, account, user, role)
    except ConflictError as error:
        errors = by_field(error, _t(request))
        return await run_in_threadpool(_page, request, svc, account, "", None, errors, 409)
    return redirect(_after_change(request, account, user, role))


@router.get(USER_PATH + "/remove", name="web-user-confirm-remove")
def confirm_remove(request: Request, account: int, user: int) -> Response:
    """Ask before taking the user out of the account."""
    svc = services(request)
    member = _member(svc, account, user)
    found = accounts.get_account(svc, account)
    t = i18n.translator(request_lang(request))
    return render(
        request,
        "confirm.html",
        title=t("users.remove_title"),
        text=t("users.remove_text", login=member.user.login, account=found.name),
        action=str(
            request.app.url_path_for("web-user-remove", account=str(account), user=str(user))
        ),
        confirm=t("users.remove"),
        back=_users_url(request, account),
    )


@router.post(USER_PATH + "/remove", name="web-user-remove")
async def remove_user(request: Request, account: int, user: int) -> Response:
    """Take the user out of the account, once confirmed (never its last admin)."""
    svc = services(request)
    try:
        await run_in_threadpool(users.remove_member, svc, account, user)
    except ConflictError as error:
        errors = by_field(error, _t(request))
        return await run_in_threadpool(_page, request, svc, account, "", None, errors, 409)
    return redirect(_after_change(request, account, user, None))


@router.post(USER_PATH + "/link", name="web-user-link")
async def new_link(request: Request, account: int, user: int) -> Response:
    """A new set-up link for the user (a lost one, a forgotten password), shown this once."""
    svc = services(request)
    member = await run_in_threadpool(_member, svc, account, user)
    link = await run_in_threadpool(users.new_setup_link, svc, account, user)
    return await run_in_threadpool(_link_page, request, svc, account, member, link)


def _page(
    request: Request,
    svc: Services,
    account: int,
    login: str = "",
    role: Role | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    lang = request_lang(request)
    t = i18n.translator(lang)
    members = users.list_members(svc, account)
    found = accounts.get_account(svc, account)
    return render(
        request,
        "users.html",
        status=status,
        account=found,
        members=members,
        roles=list(Role),
        login=login,
        role=role or Role.MEMBER,
        errors=errors or {},
        notice=done_notice(request, t, "users.done.", _DONE),
        crumbs=_crumbs(request, found, t),
        dt=lambda moment: i18n.format_datetime(moment, found.timezone, lang),
    )


def _link_page(
    request: Request, svc: Services, account: int, member: Member, link: SetupLink
) -> Response:
    t = i18n.translator(request_lang(request))
    found = accounts.get_account(svc, account)
    return render(
        request,
        "handout.html",
        title=t("link.title", login=member.user.login),
        intro=t("link.intro", login=member.user.login, count=link.valid_hours),
        secret=link.url(svc.settings.public_url or str(request.base_url)),
        warning=t("link.once"),
        back=_users_url(request, account),
        back_label=t("link.back"),
        crumbs=[
            *_crumbs(request, found, t)[:-1],
            (t("users.title"), _users_url(request, account)),
            (member.user.login, ""),
        ],
    )


def _member(svc: Services, account: int, user: int) -> Member:
    for member in users.list_members(svc, account):
        if member.user.id == user:
            return member
    raise NotFoundError(codes.NO_USER(user=user))


def _t(request: Request) -> i18n.Translator:
    return i18n.translator(request_lang(request))


def _no_role(request: Request) -> dict[str, str]:
    """The error of a role that is none of the choices (a form written by hand)."""
    return {"role": _t(request)("err.choice")}


def _role(value: object) -> Role | None:
    return next((role for role in Role if role.value == value), None)


def _after_change(request: Request, account: int, user: int, role: Role | None) -> str:
    """The list with the notice; home when the admin just gave up their own admin rights."""
    caller = caller_of(request)
    if caller is not None and caller.user_id == user and role is not Role.ADMIN:
        return str(request.app.url_path_for("web-home"))
    return with_done(_users_url(request, account), "role" if role else "removed")


def _users_url(request: Request, account: int) -> str:
    return str(request.app.url_path_for("web-users", account=str(account)))


def _crumbs(request: Request, account: Account, t: i18n.Translator) -> list[tuple[str, str]]:
    return [*account_crumbs(request, request_lang(request), account), (t("users.title"), "")]
