"""The "..." menu's actions on a campaign: launch, stop, and delete once confirmed; and the
removal of its flagged numbers (created and details pages)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from faxcast.services import campaigns
from faxcast.services.context import Services
from faxcast.web.navigation import redirect, safe_next, with_notice
from faxcast.web.rendering import HtmlRoute, render, services, web_state
from faxcast.web.where import CAMPAIGN_PATH, where_of

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


async def _action(
    request: Request,
    account: int,
    line: int,
    campaign: int,
    use_case: Callable[[Services, int, int, int], object],
    notice: str,
) -> Response:
    svc = services(request)
    found = await run_in_threadpool(campaigns.get_campaign, svc, account, line, campaign)
    done = await run_in_threadpool(use_case, svc, account, line, campaign)
    count = None
    if isinstance(done, campaigns.Stopped) and done.calls:
        # The true state: the stop waits for the calls in progress to end.
        notice, count = "stopping", done.calls
    form = await request.form()
    table = str(request.app.url_path_for("web-campaigns", account=str(account), line=str(line)))
    return redirect(
        with_notice(
            safe_next(form.get("next"), table),
            notice,
            found,
            secret=web_state(request).secret,
            count=count,
        )
    )


@router.post(CAMPAIGN_PATH + "/launch", name="web-campaign-launch")
async def launch(request: Request, account: int, line: int, campaign: int) -> Response:
    """The seed's "Lancer la campagne"."""
    return await _action(request, account, line, campaign, campaigns.launch_campaign, "launched")


@router.post(CAMPAIGN_PATH + "/stop", name="web-campaign-stop")
async def stop(request: Request, account: int, line: int, campaign: int) -> Response:
    """The seed's "Stopper la campagne"."""
    return await _action(request, account, line, campaign, campaigns.stop_campaign_told, "stopped")


@router.get(CAMPAIGN_PATH + "/delete", name="web-campaign-confirm-delete")
def confirm_delete(request: Request, account: int, line: int, campaign: int) -> Response:
    """Ask before deleting; the form below posts the deletion."""
    svc = services(request)
    where = where_of(svc, account, line)
    found = campaigns.get_campaign(svc, account, line, campaign)
    table = str(request.app.url_path_for("web-campaigns", account=str(account), line=str(line)))
    back = safe_next(request.query_params.get("next"), table)
    return render(request, "delete.html", where=where, campaign=found, back=back)


@router.post(CAMPAIGN_PATH + "/delete", name="web-campaign-delete")
async def delete(request: Request, account: int, line: int, campaign: int) -> Response:
    """The seed's "Supprimer", once confirmed."""
    return await _action(request, account, line, campaign, campaigns.delete_campaign, "deleted")


@router.post(CAMPAIGN_PATH + "/remove-flagged", name="web-campaign-remove-flagged")
async def remove_flagged(request: Request, account: int, line: int, campaign: int) -> Response:
    """ "Retirer les N numéros signalés": then the details say how many left."""
    removed = await run_in_threadpool(
        campaigns.remove_flagged, services(request), account, line, campaign
    )
    ids = {"account": str(account), "line": str(line), "campaign": str(campaign)}
    details = str(request.app.url_path_for("web-campaign", **ids))
    secret = web_state(request).secret
    return redirect(
        with_notice(
            details, "flagged_removed", removed.campaign, secret=secret, count=removed.count
        )
    )
