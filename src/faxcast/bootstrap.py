"""The composition root: settings in, wired services and line drivers out (no work at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faxcast.clock import Clock, SystemClock
from faxcast.config import Settings, secret_key
from faxcast.domain.models import Line, LineKind
from faxcast.services import documents
from faxcast.services.context import Services
from faxcast.store import repository, revisions
from faxcast.store.blobs import blob_store_for
from faxcast.store.database import create_engine_for, database_url_for

if TYPE_CHECKING:
    from fastapi import FastAPI

    from faxcast.lines.base import FaxLine, LineDrivers


def build_services(
    settings: Settings, *, clock: Clock | None = None, upgrade: bool = True
) -> Services:
    """Open the database (migrated to the newest schema unless told not to) and the blobs."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url or database_url_for(settings.data_dir))
    if upgrade and not revisions.at_head(engine):
        # Alembic is loaded only to migrate: every command opens the services, few migrate.
        from faxcast.store import migrate

        migrate.upgrade(engine)
    svc = Services(
        engine=engine,
        blobs=blob_store_for(settings.blob_store, settings.data_dir),
        clock=clock or SystemClock(),
        settings=settings,
    )
    if upgrade:
        # Passwords an older faxcast stored in clear are sealed now, not at their next edit:
        # a line nobody edits would otherwise keep its password readable in every backup.
        with svc.transaction() as conn:
            repository.seal_clear_passwords(conn)
        # Calls of renderings stored before need their page bits to size their watchdog.
        documents.measure_renditions(svc)
    return svc


def line_drivers(svc: Services) -> LineDrivers:
    """A new driver for a line, by its kind: sandbox lines share one network, a `sip` line
    calls through its own trunk."""
    # Imported here: the line drivers bring the fax engine and SIP, which only calls need.
    from faxcast.lines.sandbox import SandboxLine, SandboxNetwork
    from faxcast.lines.sip.line import SipLine

    sandbox = SandboxNetwork(svc.clock, realtime=svc.settings.sandbox_realtime)

    def driver(line: Line) -> FaxLine:
        if line.kind is LineKind.SIP:
            return SipLine(line, svc.clock)
        return SandboxLine(sandbox)

    return driver


def create_app(svc: Services) -> FastAPI:
    """The server's one ASGI app: the REST API, and the web customer space under /."""
    # Imported here: CLI commands that never serve need not load FastAPI and the templates.
    from faxcast.api import create_api
    from faxcast.web.app import install as install_web

    app = create_api(svc)
    install_web(app, secret_key=secret_key(svc.settings))
    _limit_bodies(app, svc.settings)
    return app


def _limit_bodies(app: FastAPI, settings: Settings) -> None:
    """Refuse request bodies over the limit as they stream in: a page for the web's forms,
    problem+json for the API."""
    from fastapi import Request, Response

    from faxcast.api.body_limit import BodyLimit, too_large_message, too_large_problem
    from faxcast.web import too_large

    limits = {"limit": settings.max_request_bytes, "document_limit": settings.max_document_bytes}

    def refuse(request: Request, size: int | None) -> Response:
        message = too_large_message(size, **limits)
        if too_large.is_page(request):
            return too_large.too_large_page(request, message)
        return too_large_problem(request, message)

    app.add_middleware(BodyLimit, limit=settings.max_request_bytes, refuse=refuse)
