"""How the web pages are rendered: the app's web state, the HTML route class, and `render`.

Every page goes through `render` (language, CSRF token, no caching); every route through
`HtmlRoute`, which sends whoever is not signed in to the sign-in page, finds an account in the
path that is not the user's "not found", checks the CSRF token of each POST, and turns service
errors into HTML pages. `PublicHtmlRoute` is for the pages before sign-in.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, cast
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from faxcast.domain.access import Caller
from faxcast.errors import ConflictError, ForbiddenError, NotFoundError
from faxcast.services import signin
from faxcast.services.context import Services
from faxcast.services.guard import require_member
from faxcast.web import csrf, i18n
from faxcast.web.navigation import safe_next

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
LANG_COOKIE: Final = "lang"
SESSION_COOKIE: Final = "faxcast_session"
SIGN_IN_PATH: Final = "/sign-in"


@dataclass(frozen=True)
class WebState:
    """What the pages need from the app: the templates and the CSRF signing key."""

    templates: jinja2.Environment
    secret: bytes


def templates() -> jinja2.Environment:
    """The page templates: autoescaped, and an undefined value is an error, not a blank."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class HtmlRoute(APIRoute):
    """A page for signed-in users: failures are HTML pages, POSTs must carry the CSRF token."""

    public: ClassVar[bool] = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, wrapped."""
        handler = super().get_route_handler()
        public = self.public

        async def html_errors(request: Request) -> Response:
            try:
                if not public:
                    caller = await run_in_threadpool(_session_caller, request)
                    if caller is None:
                        return _to_sign_in(request)
                    request.state.caller = caller
                    _check_account(request)
                if request.method not in ("GET", "HEAD"):
                    await _check_csrf(request)
                return await handler(request)
            except csrf.CsrfError:
                return error_page(request, 403, "error.csrf")
            except ForbiddenError:
                return error_page(request, 403, "error.forbidden")
            except (NotFoundError, RequestValidationError):
                return error_page(request, 404, "error.not_found")
            except ConflictError as error:
                detail = i18n.translator(request_lang(request)).message(error.message)
                return error_page(request, 409, "error.conflict", detail=detail)
            finally:
                await request.close()  # the uploaded files of a form this wrapper parsed

        return html_errors


class PublicHtmlRoute(HtmlRoute):
    """A page anyone may open: sign-in, set-up links, the language switch."""

    public = True


def web_state(request: Request) -> WebState:
    """The web state the app was set up with."""
    return cast(WebState, request.app.state.web)


def services(request: Request) -> Services:
    """The Services the app was created with, acting for the signed-in user."""
    svc = app_services(request)
    caller = caller_of(request)
    return svc if caller is None else svc.acting_for(caller)


def app_services(request: Request) -> Services:
    """The Services the app was created with, acting for nobody yet."""
    return cast(Services, request.app.state.services)


def caller_of(request: Request) -> Caller | None:
    """The signed-in user, on the pages that need one."""
    return cast(Caller | None, getattr(request.state, "caller", None))


def address_of(request: Request) -> str:
    """Where the request comes from, as the audit log and the throttling name it."""
    return request.client.host if request.client else ""


def request_lang(request: Request) -> str:
    """The request's language: the switch's cookie, else the browser's preference."""
    return i18n.negotiate(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """A page (or fragment) in the request's language, with the session's CSRF token."""
    web = web_state(request)
    lang = request_lang(request)
    token = csrf.token_of(web.secret, request.cookies.get(csrf.COOKIE))
    fresh = token is None
    token = token or csrf.new_token()
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")

    def url(name: str, **params: object) -> str:
        return str(request.app.url_path_for(name, **{k: str(v) for k, v in params.items()}))

    context: dict[str, Any] = {
        "lang": lang,
        "t": i18n.translator(lang),
        "languages": list(i18n.LANGUAGE_NAMES.items()),
        "csrf_field": csrf.FIELD,
        "csrf_token": token,
        "here": here,
        "url": url,
        "static": lambda path: url("static", path=path),
        "crumbs": [],
        "user": caller_of(request),
    }
    context.update(values)
    html = web.templates.get_template(template).render(context)
    response = HTMLResponse(html, status_code=status)
    # Pages hold the CSRF token and live data: never cached.
    response.headers["Cache-Control"] = "no-store"
    if fresh:
        response.set_cookie(
            csrf.COOKIE, csrf.sign(web.secret, token), httponly=True, samesite="strict"
        )
    return response


def error_page(request: Request, status: int, key: str, *, detail: str = "") -> HTMLResponse:
    """The error page saying `key`'s message, with `status`."""
    return render(request, "error.html", status=status, message_key=key, detail=detail)


def _session_caller(request: Request) -> Caller | None:
    return signin.session_caller(
        app_services(request), request.cookies.get(SESSION_COOKIE), address=address_of(request)
    )


def _to_sign_in(request: Request) -> Response:
    if request.headers.get("x-requested-with") == "fetch":
        return Response(status_code=401)  # a page's own refresh (app.js): it reloads the page
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        # After sign-in, back to the page the form was on (its POST is not repeated).
        back = safe_next(urlsplit(request.headers.get("referer", "")).path, "/")
    return RedirectResponse(f"{SIGN_IN_PATH}?{urlencode({'next': back})}", status_code=303)


def _check_account(request: Request) -> None:
    account = request.path_params.get("account")
    if account is not None:
        try:
            account_id = int(account)
        except ValueError:
            return  # the route's own validation refuses it
        require_member(services(request), account_id)


async def _check_csrf(request: Request) -> None:
    submitted = request.headers.get(csrf.HEADER)
    if submitted is None:
        form = await request.form()
        value = form.get(csrf.FIELD)
        submitted = value if isinstance(value, str) else None
    csrf.check(web_state(request).secret, request.cookies.get(csrf.COOKIE), submitted)
