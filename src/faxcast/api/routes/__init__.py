"""One router per resource; the app includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from faxcast.api.routes import (
    accounts,
    audit,
    campaigns,
    documents,
    lines,
    me,
    monitoring,
    received,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    accounts.router,
    lines.router,
    documents.router,
    campaigns.router,
    received.router,
    users.router,
    audit.router,
    me.router,
    monitoring.router,
)
