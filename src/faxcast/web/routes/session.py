"""Signing in and out, set-up links (choosing a password), and changing one's password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from faxcast.errors import ConflictError, FaxcastError, InputError, ThrottledError
from faxcast.i18n import codes
from faxcast.services import signin, users
from faxcast.web import i18n
from faxcast.web.form_errors import by_field
from faxcast.web.navigation import redirect, safe_next
from faxcast.web.rendering import (
    SESSION_COOKIE,
    SIGN_IN_PATH,
    HtmlRoute,
    PublicHtmlRoute,
    address_of,
    app_services,
    render,
    request_lang,
    services,
)

public = APIRouter(route_class=PublicHtmlRoute, include_in_schema=False)
router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@public.get(SIGN_IN_PATH, name="web-sign-in")
def sign_in_page(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return render(request, "sign_in.html", next=safe_next(next, "/"), login="", errors=[])


@public.post(SIGN_IN_PATH, name="web-sign-in-post")
async def sign_in(request: Request) -> Response:
    """Check the login and password; a session cookie on success."""
    form = await request.form()
    login, password = str(form.get("login", "")), str(form.get("password", ""))
    back = safe_next(form.get("next"), "/")
    try:
        secret = await run_in_threadpool(
            signin.sign_in, app_services(request), login, password, address=address_of(request)
        )
    except (InputError, ThrottledError) as error:
        status = 429 if isinstance(error, ThrottledError) else 401
        return _form_again(request, "sign_in.html", error, status, next=back, login=login)
    response = redirect(back)
    _set_session(request, response, secret)
    return response


@router.post("/sign-out", name="web-sign-out")
async def sign_out(request: Request) -> Response:
    """End the session on the server, then forget its cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    await run_in_threadpool(signin.sign_out, services(request), secret)
    response = redirect(SIGN_IN_PATH)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@public.get("/setup/{token}", name="web-setup")
def setup_page(request: Request, token: str) -> Response:
    """Choose one's password (the first admin, a login too) through a one-time link."""
    login = users.setup_link_login(app_services(request), token)
    if login is None:
        return render(request, "setup.html", status=410, valid=False, login="", errors=[])
    return render(request, "setup.html", valid=True, first=login == "", login=login, errors=[])


@public.post("/setup/{token}", name="web-setup-post")
async def setup(request: Request, token: str) -> Response:
    """Use the link up: the password is set and the user signed in."""
    svc = app_services(request)
    form = await request.form()
    password = str(form.get("password", ""))
    login = await run_in_threadpool(users.setup_link_login, svc, token)
    if login is None:
        return render(request, "setup.html", status=410, valid=False, login="", errors=[])
    chosen = str(form.get("login", "")) if login == "" else None
    values = {"valid": True, "first": login == "", "login": chosen or login}
    try:
        if password != str(form.get("confirm", "")):
            raise InputError(codes.PASSWORDS_DIFFER())
        user = await run_in_threadpool(
            users.use_setup_link, svc, token, login=chosen, password=password
        )
    except (InputError, ConflictError) as error:
        return _form_again(request, "setup.html", error, 400, **values)
    # The password was just hashed: checking it again would cost a second argon2 hash.
    secret = await run_in_threadpool(signin.open_session, svc, user, address=address_of(request))
    response = redirect("/")
    _set_session(request, response, secret)
    return response


@router.get("/me/password", name="web-password")
def password_page(request: Request) -> Response:
    """The form to change one's password."""
    return render(request, "password.html", errors=[], done=False)


@router.post("/me/password", name="web-password-post")
async def change_password(request: Request) -> Response:
    """Change the password; the user's other sessions end."""
    form = await request.form()
    new = str(form.get("new_password", ""))
    try:
        if new != str(form.get("confirm", "")):
            raise InputError(codes.PASSWORDS_DIFFER())
        await run_in_threadpool(
            users.change_password,
            services(request),
            str(form.get("password", "")),
            new,
            keep_session=request.cookies.get(SESSION_COOKIE),
        )
    except InputError as error:
        return _form_again(request, "password.html", error, 400, done=False)
    return render(request, "password.html", errors=[], done=True)


def _set_session(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _form_again(
    request: Request, template: str, error: FaxcastError, status: int, **values: object
) -> Response:
    messages = list(by_field(error, i18n.translator(request_lang(request))).values())
    return render(request, template, status=status, errors=messages, **values)
