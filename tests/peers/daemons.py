"""Peer daemons for tests: free loopback ports, bounded waits, logs, and a stop by process id.

Each daemon runs in its own session, so stopping it signals its process group: Kamailio's worker
children go with their parent. Nothing here ever signals a process by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

HOST = "127.0.0.1"
STOP_TIMEOUT_S = 5.0
LOG_TAIL_LINES = 60

T = TypeVar("T")


def require_binary(name: str, package: str) -> str:
    """The path of `name`; fail (never skip) with the fix if the Debian package is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/setup (Debian package {package})")
    return path


def free_udp_port() -> int:
    """A UDP port nobody has bound right now on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def udp_port_bound(port: int) -> bool:
    """Whether some process has bound UDP `port` on 127.0.0.1 (or any address), from /proc.

    Read rather than probed with bind(): a probe could hold the port just when the peer binds it.
    """
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        if line.split()[1] in wanted:
            return True
    return False


@dataclass
class Daemon:
    """A peer process started by a test, with its output in `log`."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The end of the daemon's output, framed for a failure message."""
        if not self.log.exists():
            return f"\n--- {self.name}: no log at {self.log} ---"
        tail = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- {self.name} log {self.log} (last {len(tail)} lines) ---\n" + "\n".join(tail)

    def stop(self) -> int | None:
        """SIGTERM the daemon's process group, SIGKILL it after STOP_TIMEOUT_S; the exit status."""
        _signal_group(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        # Workers that outlived their parent still carry its process group.
        _signal_group(self.pid, signal.SIGKILL)
        return self.process.returncode


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


@contextmanager
def running_daemon(name: str, argv: Sequence[str], log: Path, cwd: Path) -> Iterator[Daemon]:
    """Run `argv` in the background with its output in `log`; stop it when the block ends.

    If the block raises, the end of the log goes to stderr, which pytest shows for the failed test.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    daemon = Daemon(name=name, process=process, log=log)
    try:
        yield daemon
    except BaseException:
        print(daemon.log_tail(), file=sys.stderr)
        raise
    finally:
        daemon.stop()


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    daemon: Daemon | None = None,
    interval_s: float = 0.05,
) -> T:
    """Call `check` until it returns something other than None; fail after `timeout_s`.

    With `daemon`, fail at once if it exits meanwhile (running_daemon then shows its log).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value is not None:
            return value
        if daemon is not None and not daemon.running():
            problem = f"{daemon.name} exited ({daemon.process.returncode}) before {what}"
        elif time.monotonic() >= deadline:
            problem = f"timed out after {timeout_s:.1f} s waiting for {what}"
        else:
            time.sleep(interval_s)
            continue
        raise AssertionError(problem)
