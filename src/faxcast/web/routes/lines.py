"""A line's pages: its General tab (settings) and its Fax tab, which leads to the campaigns."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from faxcast.web import i18n
from faxcast.web.rendering import HtmlRoute, render, request_lang, services
from faxcast.web.where import LINE_PATH, where_of

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get(LINE_PATH, name="web-line")
def line_page(request: Request, account: int, line: int) -> Response:
    """A line's General tab: its settings."""
    where = where_of(services(request), account, line)
    crumbs = where.crumbs(request, request_lang(request))
    crumbs[-1] = (crumbs[-1][0], "")
    return render(request, "line.html", where=where, crumbs=crumbs)


@router.get(LINE_PATH + "/fax", name="web-fax")
def fax_page(request: Request, account: int, line: int) -> Response:
    """A line's Fax tab, which leads to its campaigns."""
    where = where_of(services(request), account, line)
    crumbs = where.crumbs(
        request, request_lang(request), (i18n.translator(request_lang(request))("tab.fax"), "")
    )
    return render(request, "fax.html", where=where, crumbs=crumbs)
