"""What the far end received in one attempt (sandbox lines keep it): the TIFF-F and its pages."""

from __future__ import annotations

from fastapi import APIRouter, Response

from faxcast.api.deps import AccountId, LineId, ServicesDep
from faxcast.api.problems import problem_responses
from faxcast.services import campaigns

router = APIRouter(
    prefix="/telephony/{account}/fax/{line}/attempts/{attempt}",
    tags=["received"],
    responses=problem_responses(404, 422),
)


@router.get(
    "/received.tif",
    name="fax",
    response_class=Response,
    responses={200: {"content": {"image/tiff": {}}, "description": "the fax as TIFF-F"}},
)
def received_fax(svc: ServicesDep, account: AccountId, line: LineId, attempt: int) -> Response:
    """The TIFF-F the far end's machine received."""
    return Response(campaigns.received_fax(svc, account, line, attempt), media_type="image/tiff")


@router.get(
    "/received/{page}.png",
    name="page",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the page as PNG"}},
)
def received_page(
    svc: ServicesDep, account: AccountId, line: LineId, attempt: int, page: int
) -> Response:
    """One received page, as the far end's machine printed it."""
    png = campaigns.received_page_png(svc, account, line, attempt, page)
    return Response(png, media_type="image/png")
