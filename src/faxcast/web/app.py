"""The web customer space: the seed's screens, server-rendered over the same use cases as the API.

Lines grouped by account → a line → its Fax tab → campaigns: the table (sortable, filtered,
paginated, refreshed by app.js), "+ New campaign" with its preview, details with every recipient,
results as CSV, and the "..." actions. Every POST carries the CSRF token (csrf.py); service errors
become HTML pages in one place, `rendering.HtmlRoute`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from faxcast.web import csrf
from faxcast.web.rendering import WebState, templates
from faxcast.web.routes import ROUTERS

STATIC_DIR: Final = Path(__file__).parent / "static"


def install(app: FastAPI, *, secret_key: bytes) -> None:
    """Serve the pages under / and their files under /static; forms are signed with `secret_key`."""
    app.state.web = WebState(templates(), csrf.signing_key(secret_key))
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
