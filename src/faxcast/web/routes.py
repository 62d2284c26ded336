"""The web customer space: the seed's screens, server-rendered over the same use cases as the API.

Lines grouped by account → a line → its Fax tab → campaigns: the table (sortable, filtered,
paginated, refreshed by app.js), "+ New campaign" with its preview, details with every recipient,
results as CSV, and the "..." actions. Every POST carries the CSRF token (csrf.py); service errors
become HTML pages in one place, `_HtmlRoute`.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from faxcast.documents import preview_png, read_tiff_f, render_pdf
from faxcast.domain.campaign import Campaign, CampaignState, Command, allowed_commands
from faxcast.domain.models import (
    Account,
    Attempt,
    CampaignDetail,
    Line,
    LineKind,
    Page,
    Recipient,
)
from faxcast.domain.quality import Quality
from faxcast.errors import ConflictError, DocumentError, NotFoundError
from faxcast.i18n import codes
from faxcast.services import accounts, campaigns
from faxcast.services.context import Services
from faxcast.web import csrf, i18n
from faxcast.web.campaign_form import FIELDS, CampaignForm, Errors, Upload, submit

STATIC_DIR: Final = Path(__file__).parent / "static"
TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
PAGE_SIZE: Final = 20
RECIPIENTS_PAGE_SIZE: Final = 100
PREVIEW_PAGES: Final = 3
LANG_COOKIE: Final = "lang"
_YEAR_S: Final = 365 * 24 * 3600
# States whose campaigns change without the user: the table refreshes often while one is shown.
_LIVE: Final = frozenset({CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.STOPPING})
# Web sort keys → services.campaigns.SORTABLE; dates sort newest first on the first click.
_SORTS: Final[Mapping[str, str]] = {
    "name": "name",
    "reference": "reference",
    "state": "state",
    "outcome": "outcome",
    "schedule": "send_at",
    "created": "created_at",
}
_FIRST_DESCENDING: Final = frozenset({"schedule", "created"})
_ACTIONS: Final[Mapping[Command, str]] = {
    Command.LAUNCH: "launch",
    Command.STOP: "stop",
    Command.DELETE: "delete",
}
_NOTICES: Final = frozenset({"created", "launched", "stopped", "deleted"})


@dataclass(frozen=True)
class WebState:
    """What the pages need from the app: the templates and the CSRF signing key."""

    templates: jinja2.Environment
    secret: bytes


class _HtmlRoute(APIRoute):
    """A route whose failures are HTML pages, and whose POSTs must carry the CSRF token."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, wrapped."""
        handler = super().get_route_handler()

        async def html_errors(request: Request) -> Response:
            try:
                if request.method not in ("GET", "HEAD"):
                    await _check_csrf(request)
                return await handler(request)
            except csrf.CsrfError:
                return _error_page(request, 403, "error.csrf")
            except (NotFoundError, RequestValidationError):
                return _error_page(request, 404, "error.not_found")
            except ConflictError as error:
                detail = i18n.translator(_lang(request)).message(error.message)
                return _error_page(request, 409, "error.conflict", detail=detail)
            finally:
                await request.close()  # the uploaded files of a form this wrapper parsed

        return html_errors


router = APIRouter(route_class=_HtmlRoute, include_in_schema=False)


def install(app: FastAPI) -> None:
    """Serve the pages under / and their files under /static; a new CSRF key per app."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.state.web = WebState(templates, csrf.new_secret())
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


# --- rendering ---------------------------------------------------------------------------------


def _web(request: Request) -> WebState:
    return cast(WebState, request.app.state.web)


def _services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


def _lang(request: Request) -> str:
    return i18n.negotiate(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def _render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """A page (or fragment) in the request's language, with the session's CSRF token."""
    web = _web(request)
    lang = _lang(request)
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


def _error_page(request: Request, status: int, key: str, *, detail: str = "") -> HTMLResponse:
    return _render(request, "error.html", status=status, message_key=key, detail=detail)


async def _check_csrf(request: Request) -> None:
    submitted = request.headers.get(csrf.HEADER)
    if submitted is None:
        form = await request.form()
        value = form.get(csrf.FIELD)
        submitted = value if isinstance(value, str) else None
    csrf.check(_web(request).secret, request.cookies.get(csrf.COOKIE), submitted)


def _safe_next(value: object, default: str) -> str:
    """A local path to go back to; anything else (another site, a scheme) gives `default`."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 32 for c in value):
        return default
    return value


def _with_notice(path: str, notice: str, reference: str) -> str:
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("notice", "ref")]
    query += [("notice", notice), ("ref", reference)]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def _notice(request: Request, t: i18n.Translator) -> str:
    """What was just done, from the redirect's ?notice=…&ref=… (only known notices)."""
    notice = request.query_params.get("notice", "")
    reference = request.query_params.get("ref", "")
    if notice in _NOTICES and reference.isalnum() and len(reference) <= 16:
        return t(f"notice.{notice}", ref=reference)
    return ""


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# --- what pages show ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """The account and line a page is about (scoped: another account's line is not found)."""

    account: Account
    line: Line

    def crumbs(self, request: Request, lang: str, *last: tuple[str, str]) -> list[tuple[str, str]]:
        """Telephony, account, line, then `last`, as (label, href); the last is the current page."""
        t = i18n.translator(lang)
        ids = {"account": str(self.account.id), "line": str(self.line.id)}
        return [
            (t("home.title"), str(request.app.url_path_for("web-home"))),
            (t("home.account", name=self.account.name), ""),
            (self.line.name, str(request.app.url_path_for("web-line", **ids))),
            *last,
        ]


def _where(svc: Services, account: int, line: int) -> _Where:
    return _Where(accounts.get_account(svc, account), accounts.get_line(svc, account, line))


def _actions(campaign: Campaign) -> frozenset[str]:
    """What the "..." menu offers: the domain decides from the campaign's state."""
    allowed = allowed_commands(campaign.state)
    return frozenset(name for command, name in _ACTIONS.items() if command in allowed)


@dataclass(frozen=True)
class _TableQuery:
    """Filter, sort and page of the campaigns table, read leniently from the query string."""

    state: CampaignState | None = None
    sort: str = "created"
    descending: bool = True
    page: int = 1

    @classmethod
    def of(cls, params: Mapping[str, str]) -> _TableQuery:
        """Unknown values fall back to the defaults rather than failing."""
        try:
            state = CampaignState(params.get("state", "")) if params.get("state") else None
        except ValueError:
            state = None
        sort = params.get("sort", "created")
        if sort not in _SORTS:
            sort = "created"
        descending = params.get("order", "desc" if sort in _FIRST_DESCENDING else "asc") == "desc"
        page_text = params.get("page", "1")
        page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 10**6 else 1
        return cls(state, sort, descending, page)

    def params(self, **changes: object) -> str:
        """The query string of this view, with some values changed."""
        values: dict[str, object] = {
            "state": self.state.value if self.state else "",
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "page": self.page,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def sort_params(self, key: str) -> str:
        """The query string of a click on a column header: same column flips the order."""
        if key == self.sort:
            return self.params(order="asc" if self.descending else "desc", page=1)
        return self.params(sort=key, order="desc" if key in _FIRST_DESCENDING else "asc", page=1)

    def aria_sort(self, key: str) -> str:
        """The header's aria-sort value."""
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


def _table(svc: Services, where: _Where, query: _TableQuery) -> dict[str, Any]:
    def fetch(page: int) -> Page[Campaign]:
        return campaigns.list_campaigns(
            svc,
            where.account.id,
            where.line.id,
            states=(query.state,) if query.state else (),
            sort=_SORTS[query.sort],
            descending=query.descending,
            page=page,
            page_size=PAGE_SIZE,
        )

    found = fetch(query.page)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    if query.page > pages:
        # A page past the end (the last campaign of the last page was deleted): show the last.
        query = _TableQuery(query.state, query.sort, query.descending, pages)
        found = fetch(pages)
    rows = list(found.items)
    return {
        "rows": rows,
        "total": found.total,
        "pages": pages,
        "q": query,
        "live": any(c.state in _LIVE for c in rows),
        "actions": _actions,
    }


def _dt(where: _Where, lang: str) -> Callable[[Any], str]:
    return lambda moment: i18n.format_datetime(moment, where.account.timezone, lang)


def _received_attempt(recipient: Recipient) -> Attempt | None:
    """The latest call whose pages the far end kept (sandbox lines), if any."""
    received = [a for a in recipient.attempts if a.received_sha256 is not None]
    return received[-1] if received else None


def _status(where: _Where, detail: CampaignDetail, page: int) -> dict[str, Any]:
    count = len(detail.recipients)
    pages = max(1, math.ceil(count / RECIPIENTS_PAGE_SIZE))
    page = min(max(page, 1), pages)
    first = (page - 1) * RECIPIENTS_PAGE_SIZE
    return {
        "campaign": detail.campaign,
        "recipients": detail.recipients[first : first + RECIPIENTS_PAGE_SIZE],
        "recipient_page": page,
        "recipient_pages": pages,
        "first": first + 1,
        "last": min(count, first + RECIPIENTS_PAGE_SIZE),
        "count": count,
        "sandbox": where.line.kind is LineKind.SANDBOX,
        "received_attempt": _received_attempt,
        "live": detail.campaign.state in _LIVE,
        "actions": _actions,
        "stored_reason": i18n.stored_reason,
    }


# --- pages -------------------------------------------------------------------------------------

_LINE: Final = "/accounts/{account}/lines/{line}"
_CAMPAIGNS: Final = _LINE + "/fax/campaigns"
_CAMPAIGN: Final = _CAMPAIGNS + "/{campaign}"


@router.get("/", name="web-home")
def home(request: Request) -> Response:
    """Telephony: the fax lines, grouped by account."""
    svc = _services(request)
    groups = [(a, accounts.list_lines(svc, a.id)) for a in accounts.list_accounts(svc)]
    return _render(request, "home.html", groups=groups)


@router.get("/lang/{code}", name="web-lang")
def choose_language(request: Request, code: str, next: str = "/") -> Response:
    """Remember the language chosen with the switch, then go back."""
    if code not in i18n.LANGUAGES:
        raise NotFoundError(codes.NO_LANGUAGE(code=code))
    response = _redirect(_safe_next(next, "/"))
    response.set_cookie(LANG_COOKIE, code, max_age=_YEAR_S, samesite="lax")
    return response


@router.get(_LINE, name="web-line")
def line_page(request: Request, account: int, line: int) -> Response:
    """A line's General tab: its settings."""
    where = _where(_services(request), account, line)
    crumbs = where.crumbs(request, _lang(request))
    crumbs[-1] = (crumbs[-1][0], "")
    return _render(request, "line.html", where=where, crumbs=crumbs)


@router.get(_LINE + "/fax", name="web-fax")
def fax_page(request: Request, account: int, line: int) -> Response:
    """A line's Fax tab, which leads to its campaigns."""
    where = _where(_services(request), account, line)
    crumbs = where.crumbs(request, _lang(request), (i18n.translator(_lang(request))("tab.fax"), ""))
    return _render(request, "fax.html", where=where, crumbs=crumbs)


@router.get(_CAMPAIGNS, name="web-campaigns")
def campaigns_page(request: Request, account: int, line: int) -> Response:
    """The campaigns table, with the notice of what was just done."""
    svc = _services(request)
    lang = _lang(request)
    t = i18n.translator(lang)
    where = _where(svc, account, line)
    query = _TableQuery.of(dict(request.query_params))
    fax = str(request.app.url_path_for("web-fax", account=str(account), line=str(line)))
    crumbs = where.crumbs(request, lang, (t("tab.fax"), fax), (t("campaigns.title"), ""))
    return _render(
        request,
        "campaigns.html",
        where=where,
        crumbs=crumbs,
        notice=_notice(request, t),
        states=list(CampaignState),
        dt=_dt(where, lang),
        **_table(svc, where, query),
    )


@router.get(_CAMPAIGNS + "/table", name="web-campaigns-table")
def campaigns_table(request: Request, account: int, line: int) -> Response:
    """The table alone, fetched every few seconds by app.js."""
    svc = _services(request)
    where = _where(svc, account, line)
    query = _TableQuery.of(dict(request.query_params))
    return _render(
        request,
        "_table.html",
        where=where,
        dt=_dt(where, _lang(request)),
        **_table(svc, where, query),
    )


def _form_page(
    request: Request, where: _Where, form: CampaignForm, errors: Errors, *, status: int = 200
) -> Response:
    lang = _lang(request)
    t = i18n.translator(lang)
    ids = {"account": str(where.account.id), "line": str(where.line.id)}
    crumbs = where.crumbs(
        request,
        lang,
        (t("tab.fax"), str(request.app.url_path_for("web-fax", **ids))),
        (t("campaigns.title"), str(request.app.url_path_for("web-campaigns", **ids))),
        (t("new.title"), ""),
    )
    return _render(
        request,
        "new.html",
        status=status,
        where=where,
        crumbs=crumbs,
        form=form,
        errors={name: errors.by_field[name] for name in FIELDS if name in errors.by_field},
        qualities=list(Quality),
        max_pages=_services(request).settings.max_pages,
    )


@router.get(_CAMPAIGNS + "/new", name="web-campaign-new")
def new_campaign(request: Request, account: int, line: int) -> Response:
    """The "+ New campaign" form."""
    where = _where(_services(request), account, line)
    return _form_page(request, where, CampaignForm(), Errors())


async def _upload(form: FormData, name: str, limit: int) -> Upload | None:
    """The file chosen in field `name` (at most `limit` + 1 bytes are read), or None."""
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    return Upload(value.filename, await value.read(limit + 1))


@router.post(_CAMPAIGNS + "/new", name="web-campaign-create")
async def create_campaign(request: Request, account: int, line: int) -> Response:
    """Create the campaign and go to the table, or show the form again with every error."""
    svc = _services(request)
    where = await run_in_threadpool(_where, svc, account, line)
    form_data = await request.form()
    texts = {k: v for k, v in form_data.items() if isinstance(v, str)}
    form = CampaignForm.of(texts)
    limit = svc.settings.max_document_bytes
    pdf = await _upload(form_data, "pdf", limit)
    numbers_file = await _upload(form_data, "recipients_file", limit)
    form.pdf_name = pdf.name if pdf else ""
    form.recipients_file_name = numbers_file.name if numbers_file else ""
    result = await run_in_threadpool(
        submit,
        svc,
        where.account,
        where.line,
        form,
        pdf=pdf,
        numbers_file=numbers_file,
        lang=_lang(request),
    )
    if isinstance(result, Errors):
        return _form_page(request, where, form, result, status=422)
    table = str(request.app.url_path_for("web-campaigns", account=str(account), line=str(line)))
    return _redirect(_with_notice(table, "created", result.reference))


@router.post(_LINE + "/fax/preview", name="web-preview")
async def preview(request: Request, account: int, line: int) -> Response:
    """The first pages of a PDF as the recipient's machine will print them at a quality."""
    svc = _services(request)
    await run_in_threadpool(_where, svc, account, line)
    form = await request.form()
    pdf = await _upload(form, "pdf", svc.settings.max_document_bytes)
    quality_value = form.get("quality")
    try:
        quality = Quality(quality_value if isinstance(quality_value, str) else "")
    except ValueError:
        quality = Quality.NORMAL
    if pdf is None:
        return _render(request, "_preview.html", images=[], count=0, error="")

    def render() -> tuple[list[str], int]:
        document = render_pdf(
            pdf.data, quality.profile.resolution, limits=svc.settings.document_limits
        )
        pages = document.pages
        images = [
            "data:image/png;base64," + base64.b64encode(preview_png(page)).decode()
            for page in pages[:PREVIEW_PAGES]
        ]
        return images, len(pages)

    try:
        images, count = await run_in_threadpool(render)
    except DocumentError as error:
        t = i18n.translator(_lang(request))
        message = t(f"doc.{error.problem.value}", pages=svc.settings.max_pages)
        return _render(request, "_preview.html", images=[], count=0, error=message)
    return _render(request, "_preview.html", images=images, count=count, error="")


@router.get(_CAMPAIGN, name="web-campaign")
def campaign_page(request: Request, account: int, line: int, campaign: int) -> Response:
    """Details: the campaign, its counts and every recipient with its result."""
    svc = _services(request)
    lang = _lang(request)
    t = i18n.translator(lang)
    where = _where(svc, account, line)
    detail = campaigns.campaign_detail(svc, account, line, campaign)
    ids = {"account": str(account), "line": str(line)}
    crumbs = where.crumbs(
        request,
        lang,
        (t("tab.fax"), str(request.app.url_path_for("web-fax", **ids))),
        (t("campaigns.title"), str(request.app.url_path_for("web-campaigns", **ids))),
        (detail.campaign.reference, ""),
    )
    page = request.query_params.get("page", "1")
    return _render(
        request,
        "detail.html",
        where=where,
        crumbs=crumbs,
        notice=_notice(request, t),
        dt=_dt(where, lang),
        **_status(where, detail, int(page) if page.isdigit() else 1),
    )


@router.get(_CAMPAIGN + "/status", name="web-campaign-status")
def campaign_status(request: Request, account: int, line: int, campaign: int) -> Response:
    """The details' live part alone, fetched every few seconds by app.js."""
    svc = _services(request)
    where = _where(svc, account, line)
    detail = campaigns.campaign_detail(svc, account, line, campaign)
    page = request.query_params.get("page", "1")
    return _render(
        request,
        "_status.html",
        where=where,
        dt=_dt(where, _lang(request)),
        **_status(where, detail, int(page) if page.isdigit() else 1),
    )


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get(_CAMPAIGN + "/results.csv", name="web-campaign-csv")
def campaign_csv(request: Request, account: int, line: int, campaign: int) -> Response:
    """Every recipient's result as CSV (stable English column names and values)."""
    svc = _services(request)
    where = _where(svc, account, line)
    detail = campaigns.campaign_detail(svc, account, line, campaign)
    zone = where.account.timezone
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["position", "number", "result", "attempts", "pages_confirmed", "reason", "settled_at"]
    )
    for r in detail.recipients:
        settled = r.settled_at.astimezone(ZoneInfo(zone)).isoformat() if r.settled_at else ""
        writer.writerow(
            [
                r.position,
                r.number,
                r.state.value,
                len(r.attempts),
                r.pages_confirmed,
                _cell(r.reason or ""),
                settled,
            ]
        )
    name = f"faxcast-{detail.campaign.reference}-results.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _action(
    request: Request,
    account: int,
    line: int,
    campaign: int,
    use_case: Callable[[Services, int, int, int], object],
    notice: str,
) -> Response:
    svc = _services(request)
    found = await run_in_threadpool(campaigns.get_campaign, svc, account, line, campaign)
    await run_in_threadpool(use_case, svc, account, line, campaign)
    form = await request.form()
    table = str(request.app.url_path_for("web-campaigns", account=str(account), line=str(line)))
    return _redirect(_with_notice(_safe_next(form.get("next"), table), notice, found.reference))


@router.post(_CAMPAIGN + "/launch", name="web-campaign-launch")
async def launch(request: Request, account: int, line: int, campaign: int) -> Response:
    """The seed's "Lancer la campagne"."""
    return await _action(request, account, line, campaign, campaigns.launch_campaign, "launched")


@router.post(_CAMPAIGN + "/stop", name="web-campaign-stop")
async def stop(request: Request, account: int, line: int, campaign: int) -> Response:
    """The seed's "Stopper la campagne"."""
    return await _action(request, account, line, campaign, campaigns.stop_campaign, "stopped")


@router.get(_CAMPAIGN + "/delete", name="web-campaign-confirm-delete")
def confirm_delete(request: Request, account: int, line: int, campaign: int) -> Response:
    """Ask before deleting; the form below posts the deletion."""
    svc = _services(request)
    where = _where(svc, account, line)
    found = campaigns.get_campaign(svc, account, line, campaign)
    table = str(request.app.url_path_for("web-campaigns", account=str(account), line=str(line)))
    back = _safe_next(request.query_params.get("next"), table)
    return _render(request, "delete.html", where=where, campaign=found, back=back)


@router.post(_CAMPAIGN + "/delete", name="web-campaign-delete")
async def delete(request: Request, account: int, line: int, campaign: int) -> Response:
    """The seed's "Supprimer", once confirmed."""
    return await _action(request, account, line, campaign, campaigns.delete_campaign, "deleted")


def _attempt_of(detail: CampaignDetail, attempt: int) -> Attempt:
    for recipient in detail.recipients:
        for found in recipient.attempts:
            if found.id == attempt:
                return found
    raise NotFoundError(
        codes.NO_ATTEMPT_IN_CAMPAIGN(attempt=attempt, reference=detail.campaign.reference)
    )


@router.get(_CAMPAIGN + "/attempts/{attempt}/received", name="web-received")
def received_page(
    request: Request, account: int, line: int, campaign: int, attempt: int
) -> Response:
    """The pages one sandbox fax machine received."""
    svc = _services(request)
    lang = _lang(request)
    t = i18n.translator(lang)
    where = _where(svc, account, line)
    detail = campaigns.campaign_detail(svc, account, line, campaign)
    found = _attempt_of(detail, attempt)
    pages = len(read_tiff_f(campaigns.received_fax(svc, account, line, attempt)).pages)
    ids = {"account": str(account), "line": str(line)}
    back = str(request.app.url_path_for("web-campaign", campaign=str(campaign), **ids))
    crumbs = where.crumbs(
        request,
        lang,
        (t("campaigns.title"), str(request.app.url_path_for("web-campaigns", **ids))),
        (detail.campaign.reference, back),
        (found.number, ""),
    )
    return _render(
        request,
        "received.html",
        where=where,
        crumbs=crumbs,
        campaign=detail.campaign,
        attempt=found,
        pages=pages,
        back=back,
    )


@router.get(_CAMPAIGN + "/attempts/{attempt}/received/{page}.png", name="web-received-page")
def received_png(
    request: Request, account: int, line: int, campaign: int, attempt: int, page: int
) -> Response:
    """One received page as PNG."""
    svc = _services(request)
    _attempt_of(campaigns.campaign_detail(svc, account, line, campaign), attempt)
    png = campaigns.received_page_png(svc, account, line, attempt, page)
    return Response(png, media_type="image/png")
