"""Long-running commands: the server with its embedded worker, a worker alone, migrations."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType

import click
import prometheus_client
import uvicorn

from faxcast.bootstrap import line_drivers
from faxcast.cli.context import CliState, pass_state
from faxcast.config import Settings, http_url
from faxcast.dispatch.worker import Worker
from faxcast.i18n import codes, environment_language, translator
from faxcast.services import accounts, users
from faxcast.services.context import Services
from faxcast.sip import pacing
from faxcast.store import migrate, revisions
from faxcast.store.database import create_engine_for, database_url_for


@click.command()
@click.option("--host", help="Default: FAXCAST_HOST or 127.0.0.1.")
@click.option("--port", type=int, help="Default: FAXCAST_PORT or 8080.")
@click.option("--no-worker", is_flag=True, help="Serve the API only; `faxcast worker` dials.")
@pass_state
def serve(state: CliState, host: str | None, port: int | None, no_worker: bool) -> None:
    """Run the web customer space, the REST API and an embedded worker."""
    svc = state.services
    # The server serves every account; a first start creates a default one with a sandbox line.
    existing = accounts.list_accounts(svc) or [accounts.create_account(svc, name="default")]
    names = ", ".join(f"{account.id} '{account.name}'" for account in existing)
    click.echo(f"faxcast: accounts ready: {names}", err=True)
    host, port = host or svc.settings.host, port or svc.settings.port
    link = users.first_admin_link(svc)
    if link is not None:
        # On the console only: whoever reads it is trusted with the server already.
        base = svc.settings.public_url or http_url(host, port)
        message = codes.SETUP_LINK_PRINTED(url=link.url(base), count=link.valid_hours)
        click.echo(f"faxcast: {translator(environment_language(os.environ)).message(message)}")
    asyncio.run(_serve(svc, host, port, worker=not no_worker))


async def _serve(svc: Services, host: str, port: int, *, worker: bool) -> None:
    from faxcast.bootstrap import create_app

    config = uvicorn.Config(create_app(svc), host=host, port=port, log_level="info")
    stop = asyncio.Event()
    if not worker:
        await _Server(config, drain=None).serve()
        return
    task = asyncio.create_task(_work(svc, stop))
    loop = asyncio.get_running_loop()
    server = _Server(config, drain=lambda: loop.call_soon_threadsafe(stop.set))
    # The worker has drained (or failed): the server may stop answering now.
    task.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        stop.set()
        await task


class _Server(uvicorn.Server):
    """uvicorn's server, which keeps answering while the embedded worker drains.

    A first stop signal only stops the worker from starting calls; the server stops once the
    calls in progress have ended and been recorded (a second signal stops it at once). uvicorn
    also re-raises SIGTERM/SIGINT after serving, which would kill the process before the worker
    has drained: that is not done either.
    """

    def __init__(self, config: uvicorn.Config, *, drain: Callable[[], object] | None) -> None:
        super().__init__(config)
        self._drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Drain on the first signal; stop serving on the next, or once drained."""
        if self._drain is not None:
            drain, self._drain = self._drain, None
            drain()
            return
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


@click.command()
@click.option(
    "--metrics-port",
    type=int,
    help="Serve this worker's Prometheus metrics at FAXCAST_HOST on this port (/metrics).",
)
@pass_state
def worker(state: CliState, metrics_port: int | None) -> None:
    """Place the calls of running campaigns (many may share one PostgreSQL database)."""
    svc = state.services
    if metrics_port is not None:
        # The process's counters only: the server's /metrics reads the queue for everyone.
        prometheus_client.start_http_server(
            metrics_port, addr=svc.settings.host, registry=svc.metrics.registry
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        click.echo("faxcast worker: running (Ctrl-C stops after the calls in progress)", err=True)
        await _work(svc, stop)

    asyncio.run(main())


async def _work(svc: Services, stop: asyncio.Event) -> None:
    priority = svc.settings.media_priority
    if priority:
        # The loop's thread paces every call's media: it alone goes real-time.
        done = pacing.run_in_realtime(priority)
        message = (codes.MEDIA_PRIORITY_SET if done else codes.MEDIA_PRIORITY_REFUSED)(
            priority=priority
        )
        click.echo(
            f"faxcast: {translator(environment_language(os.environ)).message(message)}", err=True
        )
    await Worker(svc, line_drivers(svc), cache_dir=svc.settings.data_dir / "cache").run(stop)


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url or database_url_for(settings.data_dir))
    migrate.upgrade(engine)
    click.echo(f"database at revision {revisions.current_revision(engine)}")
