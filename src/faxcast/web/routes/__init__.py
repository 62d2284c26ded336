"""The web pages' routes, one module per resource; `ROUTERS` in the order the app includes them."""

from __future__ import annotations

from fastapi import APIRouter

from faxcast.web.routes import (
    account,
    actions,
    api_tokens,
    audit_log,
    campaigns,
    home,
    lines,
    members,
    new_campaign,
    received,
    session,
)

ROUTERS: tuple[APIRouter, ...] = (
    session.public,
    session.router,
    home.public,
    home.router,
    account.router,
    lines.router,
    # Before campaigns: ".../campaigns/new" would otherwise match ".../campaigns/{campaign}".
    new_campaign.router,
    campaigns.router,
    actions.router,
    received.router,
    members.router,
    api_tokens.router,
    audit_log.router,
)
