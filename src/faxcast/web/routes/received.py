"""What a sandbox fax machine received in one attempt: its pages, and each page as PNG."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from faxcast.documents import read_tiff_f
from faxcast.domain.models import Attempt, CampaignDetail
from faxcast.errors import NotFoundError
from faxcast.i18n import codes
from faxcast.services import campaigns
from faxcast.web import i18n
from faxcast.web.rendering import HtmlRoute, render, request_lang, services
from faxcast.web.where import CAMPAIGN_PATH, where_of

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _attempt_of(detail: CampaignDetail, attempt: int) -> Attempt:
    for recipient in detail.recipients:
        for found in recipient.attempts:
            if found.id == attempt:
                return found
    raise NotFoundError(
        codes.NO_ATTEMPT_IN_CAMPAIGN(attempt=attempt, reference=detail.campaign.reference)
    )


@router.get(CAMPAIGN_PATH + "/attempts/{attempt}/received", name="web-received")
def received_page(
    request: Request, account: int, line: int, campaign: int, attempt: int
) -> Response:
    """The pages one sandbox fax machine received."""
    svc = services(request)
    lang = request_lang(request)
    t = i18n.translator(lang)
    where = where_of(svc, account, line)
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
    return render(
        request,
        "received.html",
        where=where,
        crumbs=crumbs,
        campaign=detail.campaign,
        attempt=found,
        pages=pages,
        back=back,
    )


@router.get(CAMPAIGN_PATH + "/attempts/{attempt}/received/{page}.png", name="web-received-page")
def received_png(
    request: Request, account: int, line: int, campaign: int, attempt: int, page: int
) -> Response:
    """One received page as PNG."""
    svc = services(request)
    _attempt_of(campaigns.campaign_detail(svc, account, line, campaign), attempt)
    png = campaigns.received_page_png(svc, account, line, attempt, page)
    return Response(png, media_type="image/png")
