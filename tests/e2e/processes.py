"""Real faxcast processes for end-to-end tests, on 127.0.0.1 only.

Every wait has a deadline and every process started here is killed when its `with` block ends,
whatever happened inside. Processes are started directly (no shell), so a process's pid is the
faxcast process itself: SIGKILL really kills the server, not a wrapper.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx

from faxcast.bootstrap import build_services
from faxcast.config import Settings
from faxcast.services.context import Services
from tests.identity import as_tester

FAXCAST = (sys.executable, "-m", "faxcast")
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0  # a loaded CI machine needs a few seconds to import and migrate
STOP_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 120.0

T = TypeVar("T")
Json = dict[str, Any]


def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def faxcast_env(data_dir: Path, **settings: str | float) -> dict[str, str]:
    """This process's environment without any FAXCAST_* variable, plus the given settings.

    `faxcast_env(tmp, database_url=url, worker_poll_s=0.1)` sets FAXCAST_DATA_DIR,
    FAXCAST_DATABASE_URL and FAXCAST_WORKER_POLL_S; nothing else of faxcast's is set. The
    locale is C.UTF-8, so that messages are in English whatever the machine's language.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAXCAST_", "LC_"))}
    env.pop("LANGUAGE", None)
    env["LANG"] = "C.UTF-8"
    env["FAXCAST_DATA_DIR"] = str(data_dir)
    for name, value in settings.items():
        env[f"FAXCAST_{name.upper()}"] = str(value)
    return env


def run_faxcast(
    *args: str,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = COMMAND_TIMEOUT_S,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `faxcast ARGS` to its end (bounded) and return its exit status and output;
    `stdin` is what it reads (else it inherits this process's)."""
    return subprocess.run(
        [*FAXCAST, *args],
        env=dict(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    alive: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    state: Callable[[], str] | None = None,
) -> T:
    """Call `check` until it returns something other than None; fail after `timeout` seconds.

    With `alive`, fail at once if that process exits meanwhile; a failure shows `state()` and
    the end of `log`.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if alive is not None and alive.poll() is not None:
            problem = f"the process exited ({alive.returncode}) while waiting for {what}"
        elif time.monotonic() >= deadline:
            problem = f"timed out after {timeout:.0f} s waiting for {what}"
        else:
            time.sleep(interval)
            continue
        seen = f"\nlast seen: {state()}" if state is not None else ""
        raise AssertionError(problem + seen + log_tail(log))


def log_tail(log: Path | None, lines: int = 40) -> str:
    """The end of a process's log but its HTTP access lines, to put in a failure message."""
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()
    tail = [line for line in text if not line.startswith(f"INFO:     {HOST}:")][-lines:]
    return f"\n--- {log.name} (last {len(tail)} lines but HTTP accesses) ---\n" + "\n".join(tail)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> int:
    """Send `sig` (if it still runs) and reap it; SIGKILL if it outlives STOP_TIMEOUT_S."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def background(
    *args: str, env: Mapping[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`faxcast ARGS` running in the background, its output in `log`; killed on leaving."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*FAXCAST, *args],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C on pytest does not reach it; the finally below does.
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process(process)


@dataclass
class Server:
    """A running `faxcast serve` and an HTTP client on it."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    env: Mapping[str, str]
    http: httpx.Client = field(init=False)
    _services: list[Services] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=f"http://{HOST}:{self.port}", timeout=10.0)

    def sign_in(self) -> None:
        """Make the client act as the tests' admin of every account (tests.identity), made in
        the server's own database."""
        # Kept open until close(): the client joins new accounts before each request.
        self._services.append(svc := build_services(server_settings(self.env), upgrade=False))
        as_tester(svc, self.http)

    @property
    def pid(self) -> int:
        """The server process itself (started without a shell)."""
        return self.process.pid

    def answers(self) -> bool:
        """Whether GET /readyz answers 200 now."""
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the server is ready, then sign the client in; fail if the process dies
        first."""
        wait_until(
            lambda: True if self.answers() else None,
            timeout=timeout,
            what=f"faxcast serve to answer on port {self.port}",
            interval=0.1,
            alive=self.process,
            log=self.log,
        )
        self.sign_in()

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the API; fail with the problem document unless the status is 2xx."""
        response = self.http.request(method, path, **kwargs)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    # The seed's flow, as a script would call the API.

    def default_line(self) -> tuple[int, int]:
        """(account id, line id) of the only account's first line."""
        accounts = cast(list[Json], self.json("GET", "/telephony"))
        assert len(accounts) == 1, accounts
        account = int(accounts[0]["id"])
        lines = cast(list[Json], self.json("GET", f"/telephony/{account}/fax"))
        return account, int(lines[0]["id"])

    def upload(self, account: int, name: str, data: bytes, media_type: str) -> Json:
        """POST /me/document as `account`."""
        return cast(
            Json,
            self.json(
                "POST",
                "/me/document",
                params={"account": account},
                files={"file": (name, data, media_type)},
            ),
        )

    def campaigns_path(self, account: int, line: int) -> str:
        """The line's campaigns collection."""
        return f"/telephony/{account}/fax/{line}/campaigns"

    def create_manual(
        self, account: int, line: int, *, name: str, document: int, numbers: str, quality: str
    ) -> Json:
        """Create a manual campaign from a typed list of numbers."""
        body = {
            "name": name,
            "documentId": document,
            "faxQuality": quality,
            "sendType": "manual",
            "recipientsType": "list",
            "recipientsList": numbers,
        }
        return cast(Json, self.json("POST", self.campaigns_path(account, line), json=body))

    def launch(self, account: int, line: int, campaign: int) -> Json:
        """POST .../start."""
        path = f"{self.campaigns_path(account, line)}/{campaign}/start"
        return cast(Json, self.json("POST", path))

    def detail(self, account: int, line: int, campaign: int) -> Json:
        """GET .../detail."""
        path = f"{self.campaigns_path(account, line)}/{campaign}/detail"
        return cast(Json, self.json("GET", path))

    def wait_finished(
        self, account: int, line: int, campaign: int, *, timeout: float, interval: float = 0.25
    ) -> Json:
        """Poll the detail until the campaign is finished (or in error); returns the detail."""

        last: list[Json] = []

        def finished() -> Json | None:
            detail = self.detail(account, line, campaign)
            last[:] = [detail]
            return detail if detail["campaign"]["state"] in ("finished", "error") else None

        return wait_until(
            finished,
            timeout=timeout,
            what=f"campaign {campaign} to finish",
            interval=interval,
            alive=self.process,
            log=self.log,
            state=lambda: describe(last[0]) if last else "nothing",
        )

    def close(self) -> None:
        """Close the HTTP client and the tests' own connections to the server's database."""
        self.http.close()
        for svc in self._services:
            svc.engine.dispose()


@contextmanager
def serve(env: Mapping[str, str], *, cwd: Path, log: Path) -> Iterator[Server]:
    """`faxcast serve` until its API answers; killed (SIGKILL) on leaving.

    The port is FAXCAST_PORT when `env` sets it, else a free one given with --port.
    """
    args: tuple[str, ...] = ("serve",)
    if "FAXCAST_PORT" in env:
        port = int(env["FAXCAST_PORT"])
    else:
        port = free_port()
        args += ("--port", str(port))
    with background(*args, env=env, cwd=cwd, log=log) as process:
        server = Server(process, port, log, env)
        try:
            server.wait_ready()
            yield server
        finally:
            server.close()


def server_settings(env: Mapping[str, str]) -> Settings:
    """The settings a faxcast process started with `env` reads (its data folder, database)."""
    return Settings(
        data_dir=Path(env["FAXCAST_DATA_DIR"]), database_url=env.get("FAXCAST_DATABASE_URL")
    )


def describe(detail: Json) -> str:
    """A campaign detail in a few lines: its state, then each recipient and its attempts."""
    c = detail["campaign"]
    out = [
        f"campaign {c['id']} {c['state']} {c['outcome']} ({c['error']}): delivered "
        f"{c['countSuccess']}, failed {c['countFailed']}, to do {c['countTodo']} "
        f"of {c['countTotal']}"
    ]
    for r in detail["recipients"]:
        reasons = "; ".join(a["reason"] for a in r["attempts"])
        out.append(f"  {r['number']} {r['state']} calls={r['calls']}: {reasons}")
    return "\n".join(out)


def run_together(
    commands: Mapping[str, tuple[str, ...]],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = COMMAND_TIMEOUT_S,
    envs: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run independent `faxcast` commands at the same time (they start slowly); by name.

    `envs` gives some commands their own environment instead of `env`. Each command is killed
    if it outlives `timeout`, counted from when they all started.
    """
    started = {
        name: subprocess.Popen(
            [*FAXCAST, *args],
            env=dict((envs or {}).get(name, env)),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    deadline = time.monotonic() + timeout
    done: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        for name, process in started.items():
            out, err = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
            done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    finally:
        for name, process in started.items():
            if name not in done:  # timed out, or another one did
                process.kill()
                process.communicate(timeout=STOP_TIMEOUT_S)
    return done
