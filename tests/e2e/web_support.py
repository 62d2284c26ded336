"""What the web tests share: a real `faxcast serve`, Debian's Chromium, an in-process client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import httpx
from playwright.sync_api import BrowserContext

from faxcast.bootstrap import build_services
from faxcast.config import Settings
from faxcast.web.rendering import SESSION_COOKIE
from tests.identity import tester

CHROMIUM: Final = Path("/usr/bin/chromium")
# No sandbox: tests run as root in containers. The rest keeps Chromium off the (closed) network.
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS: Final = Path(__file__).resolve().parents[2] / "artifacts" / "web"
_START_TIMEOUT_S: Final = 60.0
# Short retry waits so that campaigns with retryable numbers settle within a test.
_FAST_RETRIES: Final = {
    "FAXCAST_RETRY_BUSY_S": "1",
    "FAXCAST_RETRY_NO_ANSWER_S": "1",
    "FAXCAST_RETRY_CONGESTION_S": "1",
    "FAXCAST_RETRY_NO_FAX_S": "1",
    "FAXCAST_RETRY_TRANSFER_S": "1",
    "FAXCAST_WORKER_POLL_S": "0.2",
}


@dataclass
class Server:
    """A running `faxcast serve`: its base URL, where it logs, and the tests' admin's session
    (tests.identity) once it is up."""

    url: str
    log: Path
    session: str = ""
    token: str = ""

    @property
    def bearer(self) -> dict[str, str]:
        """The Authorization header of the tests' admin's API token."""
        return {"Authorization": f"Bearer {self.token}"}

    def sign_in(self, context: BrowserContext) -> None:
        """Make a browser context the tests' admin, signed in."""
        context.add_cookies([{"name": SESSION_COOKIE, "value": self.session, "url": self.url}])

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(data_dir: Path) -> Iterator[Server]:
    """`faxcast serve` on a free port with a fresh SQLite data folder, stopped on exit."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FAXCAST_")  # the developer's own settings must not leak in
    }
    env |= _FAST_RETRIES | {
        "FAXCAST_DATA_DIR": str(data_dir),
        "FAXCAST_HOST": "127.0.0.1",
        "FAXCAST_PORT": str(port),
    }
    log = data_dir.parent / f"{data_dir.name}-serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "faxcast", "serve"], env=env, stdout=out, stderr=out
        )
        server = Server(f"http://127.0.0.1:{port}", log)
        try:
            _wait_until_up(server, process, out)
            svc = build_services(Settings(data_dir=data_dir), upgrade=False)
            try:
                me = tester(svc)
                server.session, server.token = me.session, me.token
            finally:
                svc.engine.dispose()
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_until_up(server: Server, process: subprocess.Popen[bytes], out: IO[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out.flush()
            raise RuntimeError(f"faxcast serve exited {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    out.flush()
    raise RuntimeError(
        f"faxcast serve did not answer in {_START_TIMEOUT_S} s:\n{server.log_tail()}"
    )
