"""A line's fax campaigns, with the provider's names: /telephony/{account}/fax/{line}/campaigns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from faxcast.api import schemas
from faxcast.api.deps import AccountId, CampaignId, LineId, ServicesDep
from faxcast.api.problems import problem_responses, texts
from faxcast.api.routes import received as received_routes
from faxcast.domain.campaign import CampaignState
from faxcast.domain.models import Attempt, CampaignSort
from faxcast.errors import raise_all
from faxcast.services import campaigns
from faxcast.services.new_campaign import validate_campaign

router = APIRouter(
    prefix="/telephony/{account}/fax/{line}/campaigns",
    tags=["campaigns"],
    responses=problem_responses(404, 422),
)
_PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "the page as PNG"}
}


@router.get("", name="list")
def list_campaigns(
    svc: ServicesDep,
    account: AccountId,
    line: LineId,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=500)] = 50,
    state: Annotated[
        list[CampaignState] | None, Query(description="only campaigns in these states")
    ] = None,
    sort: CampaignSort = CampaignSort.CREATED_AT,
    order: schemas.SortOrder = "desc",
) -> schemas.CampaignPage:
    """The line's campaigns, newest first unless sorted otherwise."""
    found = campaigns.list_campaigns(
        svc,
        account,
        line,
        states=tuple(state or ()),
        sort=sort,
        descending=order == "desc",
        page=page,
        page_size=page_size,
    )
    return schemas.CampaignPage.of(found)


@router.post("", name="create", status_code=status.HTTP_201_CREATED)
def create_campaign(
    request: Request,
    response: Response,
    svc: ServicesDep,
    account: AccountId,
    line: LineId,
    body: schemas.CampaignCreate,
) -> schemas.CampaignCreated:
    """Check every field, then store the campaign and its recipients at once, or nothing.

    The answer also lists the numbers kept with a warning (dialled as typed) and the entries
    merged into one number, with their line and column.
    """
    created = campaigns.create_campaign_told(svc, account, line, body.to_new_campaign())
    campaign = created.campaign
    location = router.url_path_for("get", account=account, line=line, campaign=campaign.id)
    response.headers["Location"] = str(location.make_absolute_url(request.base_url))
    return schemas.CampaignCreated.told(campaign, created.recipients, texts(request))


@router.post(
    "/check",
    name="check",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={
        200: {
            "model": schemas.NumbersReport,
            "description": "the campaign can be created; some numbers call for attention",
        },
        204: {"description": "the campaign can be created as it is"},
    },
)
def check_campaign(
    request: Request,
    svc: ServicesDep,
    account: AccountId,
    line: LineId,
    body: schemas.CampaignCreate,
) -> Response:
    """Check a new campaign as creating it would, and store nothing: every problem, or success.

    Success is 204 when there is nothing to tell, as before warnings existed, so scripts that
    test for it keep working on clean lists; 200 with the warnings and merges otherwise.
    """
    verdict = validate_campaign(svc, account, line, body.to_new_campaign())
    raise_all(verdict.errors)
    recipients = verdict.recipients
    if recipients is None or not (recipients.warning_count or recipients.duplicate_count):
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    report = schemas.NumbersReport.of_list(recipients, texts(request))
    return Response(
        report.model_dump_json(by_alias=True),
        media_type="application/json",
        headers={"Content-Language": texts(request).lang},
    )


@router.get("/{campaign}", name="get")
def get_campaign(
    svc: ServicesDep, account: AccountId, line: LineId, campaign: CampaignId
) -> schemas.Campaign:
    """One campaign."""
    return schemas.Campaign.of(campaigns.get_campaign(svc, account, line, campaign))


@router.delete(
    "/{campaign}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409),
)
def delete_campaign(
    svc: ServicesDep, account: AccountId, line: LineId, campaign: CampaignId
) -> None:
    """Remove a campaign from the history; refused while it runs or stops."""
    campaigns.delete_campaign(svc, account, line, campaign)


@router.post("/{campaign}/start", name="start", responses=problem_responses(409))
def start_campaign(
    svc: ServicesDep, account: AccountId, line: LineId, campaign: CampaignId
) -> schemas.Campaign:
    """Launch a waiting campaign now (manual ones, or one that was stopped)."""
    return schemas.Campaign.of(campaigns.launch_campaign(svc, account, line, campaign))


@router.post("/{campaign}/stop", name="stop", responses=problem_responses(409))
def stop_campaign(
    svc: ServicesDep, account: AccountId, line: LineId, campaign: CampaignId
) -> schemas.Campaign:
    """Stop a scheduled or running campaign: no new call starts; it then waits for a launch."""
    return schemas.Campaign.of(campaigns.stop_campaign(svc, account, line, campaign))


@router.post(
    "/{campaign}/recipients/remove-flagged",
    name="remove-flagged",
    responses=problem_responses(409),
)
def remove_flagged(
    svc: ServicesDep, account: AccountId, line: LineId, campaign: CampaignId
) -> schemas.FlaggedRemoved:
    """Remove, in one go, the numbers flagged as probably invalid (the creation's `warnings`)
    from a campaign that has not started; the answer is the campaign as it now stands.

    409 once the campaign has started, when no number is flagged, or when all are (delete
    the campaign instead); nothing changes then.
    """
    removed = campaigns.remove_flagged(svc, account, line, campaign)
    return schemas.FlaggedRemoved.of_removal(removed.campaign, removed.count)


@router.get("/{campaign}/detail", name="detail")
def campaign_detail(
    request: Request, svc: ServicesDep, account: AccountId, line: LineId, campaign: CampaignId
) -> schemas.CampaignDetail:
    """The campaign's numbers by outcome, then every recipient with every call made to it."""

    def received(attempt: Attempt) -> str | None:
        if attempt.received_sha256 is None:
            return None
        path = received_routes.router.url_path_for(
            "fax", account=account, line=line, attempt=attempt.id
        )
        return str(path.make_absolute_url(request.base_url))

    detail = campaigns.campaign_detail(svc, account, line, campaign)
    return schemas.CampaignDetail.of(detail, received=received)


@router.get("/{campaign}/pages/{page}.png", name="page", response_class=Response, responses=_PNG)
def page_png(
    svc: ServicesDep, account: AccountId, line: LineId, campaign: CampaignId, page: int
) -> Response:
    """One page of what the campaign sends, as the far end will print it."""
    png = campaigns.campaign_preview_png(svc, account, line, campaign, page)
    return Response(png, media_type="image/png")
