"""One router per resource; the app includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from faxcast.api.routes import accounts, campaigns, documents, lines, monitoring, received

ROUTERS: tuple[APIRouter, ...] = (
    accounts.router,
    lines.router,
    documents.router,
    campaigns.router,
    received.router,
    monitoring.router,
)
