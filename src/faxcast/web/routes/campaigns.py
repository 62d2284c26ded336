"""A line's campaigns: the table (and its live fragment), a campaign's details and its CSV."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from faxcast.domain.campaign import CampaignState
from faxcast.domain.models import CampaignDetail
from faxcast.services import campaigns
from faxcast.services.spreadsheets import MEDIA_TYPE, attachment
from faxcast.web import i18n
from faxcast.web.detail import RECIPIENTS_PAGE_SIZE, status
from faxcast.web.navigation import notice
from faxcast.web.rendering import HtmlRoute, render, request_lang, services, web_state
from faxcast.web.results_csv import file_name, results_csv
from faxcast.web.table import TableQuery, table
from faxcast.web.where import CAMPAIGN_PATH, CAMPAIGNS_PATH, dt, where_of

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get(CAMPAIGNS_PATH, name="web-campaigns")
def campaigns_page(request: Request, account: int, line: int) -> Response:
    """The campaigns table, with the notice of what was just done."""
    svc = services(request)
    lang = request_lang(request)
    t = i18n.translator(lang)
    where = where_of(svc, account, line)
    query = TableQuery.of(dict(request.query_params))
    fax = str(request.app.url_path_for("web-fax", account=str(account), line=str(line)))
    crumbs = where.crumbs(request, lang, (t("tab.fax"), fax), (t("campaigns.title"), ""))
    return render(
        request,
        "campaigns.html",
        where=where,
        crumbs=crumbs,
        notice=notice(request, t, secret=web_state(request).secret),
        states=list(CampaignState),
        dt=dt(where, lang),
        **table(svc, where, query),
    )


@router.get(CAMPAIGNS_PATH + "/table", name="web-campaigns-table")
def campaigns_table(request: Request, account: int, line: int) -> Response:
    """The table alone, fetched every few seconds by app.js."""
    svc = services(request)
    where = where_of(svc, account, line)
    query = TableQuery.of(dict(request.query_params))
    return render(
        request,
        "_table.html",
        where=where,
        dt=dt(where, request_lang(request)),
        **table(svc, where, query),
    )


@router.get(CAMPAIGN_PATH, name="web-campaign")
def campaign_page(request: Request, account: int, line: int, campaign: int) -> Response:
    """Details: the campaign, its counts and every recipient with its result."""
    svc = services(request)
    lang = request_lang(request)
    t = i18n.translator(lang)
    where = where_of(svc, account, line)
    detail = _detail_page(request, account, line, campaign)
    ids = {"account": str(account), "line": str(line)}
    crumbs = where.crumbs(
        request,
        lang,
        (t("tab.fax"), str(request.app.url_path_for("web-fax", **ids))),
        (t("campaigns.title"), str(request.app.url_path_for("web-campaigns", **ids))),
        (detail.campaign.reference, ""),
    )
    return render(
        request,
        "detail.html",
        where=where,
        crumbs=crumbs,
        notice=notice(request, t, secret=web_state(request).secret),
        dt=dt(where, lang),
        flagged=campaigns.flagged_count(svc, account, line, campaign),
        **status(where, detail),
    )


@router.get(CAMPAIGN_PATH + "/status", name="web-campaign-status")
def campaign_status(request: Request, account: int, line: int, campaign: int) -> Response:
    """The details' live part alone, fetched every few seconds by app.js."""
    svc = services(request)
    where = where_of(svc, account, line)
    detail = _detail_page(request, account, line, campaign)
    return render(
        request,
        "_status.html",
        where=where,
        dt=dt(where, request_lang(request)),
        **status(where, detail),
    )


def _detail_page(request: Request, account: int, line: int, campaign: int) -> CampaignDetail:
    """The campaign and the page of recipients asked for with ?page= (the first by default)."""
    page = request.query_params.get("page", "1")
    return campaigns.campaign_detail(
        services(request),
        account,
        line,
        campaign,
        page=int(page) if page.isdigit() else 1,
        page_size=RECIPIENTS_PAGE_SIZE,
    )


@router.get(CAMPAIGN_PATH + "/results.csv", name="web-campaign-csv")
def campaign_csv(request: Request, account: int, line: int, campaign: int) -> Response:
    """Every recipient's result as CSV (stable English column names and values)."""
    svc = services(request)
    where = where_of(svc, account, line)
    detail = campaigns.campaign_detail(svc, account, line, campaign)
    return Response(
        results_csv(detail, where.account.timezone),
        media_type=MEDIA_TYPE,
        headers=attachment(file_name(detail)),
    )
