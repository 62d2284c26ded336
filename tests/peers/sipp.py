"""SIPp as a scripted SIP peer in tests: one scenario, one call, bounded in time.

`sipp_peer("busy", workdir)` runs `sipp` with tests/peers/sipp/busy.xml as a UAS on a free
127.0.0.1 port; `finish()` waits for its end and returns its exit status and statistics. SIPp
exits 0 when every call followed the scenario, 1 when one failed. The block kills it if it is
still running, so a scenario that waits for a message that never comes cannot hang a test.

Scenarios (tests/peers/sipp/, each file says what it does): UAS busy (486), not_found (404),
unavailable (503), ring_then_cancel (180, then 200 to CANCEL and 487), auth_then_answer (401,
then 200 PCMA for keys user/password, waits for BYE), bye_mid_call (200 PCMA, BYE after
pause_ms), t38_refused (200 PCMA, 488 to a T.38 re-INVITE, waits for BYE), malformed (a broken
200, then waits for CANCEL); UAC uac_call (calls key number, BYE after pause_ms).
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers.daemons import (
    HOST,
    Daemon,
    free_udp_port,
    require_binary,
    running_daemon,
    udp_port_bound,
    wait_until,
)

SCENARIOS_DIR = Path(__file__).parent / "sipp"
DEFAULT_TIMEOUT_S = 20.0
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SippResult:
    """How a SIPp run ended: its exit status and its final statistics row (column -> value)."""

    exit_status: int
    statistics: Mapping[str, str]
    messages: str = field(repr=False)

    @property
    def successful_calls(self) -> int:
        return int(self.statistics.get("SuccessfulCall(C)", "0"))

    @property
    def failed_calls(self) -> int:
        return int(self.statistics.get("FailedCall(C)", "0"))

    @property
    def succeeded(self) -> bool:
        """SIPp exited 0 and every call it made or took went through the scenario to its end."""
        return self.exit_status == 0 and self.successful_calls > 0 and self.failed_calls == 0


@dataclass
class SippPeer:
    """A SIPp process listening on `port` (SIP) and `media_port` (the port its SDP names)."""

    scenario: Path
    host: str
    port: int
    media_port: int
    daemon: Daemon
    workdir: Path
    timeout_s: float

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def finish(self, timeout_s: float | None = None) -> SippResult:
        """Wait (bounded) for SIPp to exit and read its statistics; AssertionError on a hang."""
        wait_s = self.timeout_s + 5.0 if timeout_s is None else timeout_s
        try:
            status = self.daemon.process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            problem = f"SIPp {self.scenario.name} still running after {wait_s} s"
            raise AssertionError(problem) from None
        return SippResult(status, self._statistics(), self._read("messages.log"))

    def _statistics(self) -> dict[str, str]:
        path = self.workdir / "stats.csv"
        if not path.exists():
            return {}
        rows = list(csv.reader(path.read_text(errors="replace").splitlines(), delimiter=";"))
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0], rows[-1], strict=False))

    def _read(self, name: str) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace") if path.exists() else ""


def scenario_path(name: str) -> Path:
    """tests/peers/sipp/NAME.xml, checked to exist."""
    path = SCENARIOS_DIR / f"{name}.xml"
    if not path.is_file():
        raise FileNotFoundError(f"no SIPp scenario {path}")
    return path


@contextmanager
def sipp_peer(
    scenario: str,
    workdir: Path,
    *,
    remote: tuple[str, int] | None = None,
    keys: Mapping[str, str] | None = None,
    pause_ms: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    calls: int = 1,
) -> Iterator[SippPeer]:
    """Run SIPp with scenario NAME until the block ends (then kill it if still running).

    A UAS scenario waits for `calls` INVITEs; with `remote`, SIPp calls that address (UAC).
    `keys` become `-key NAME VALUE` ([NAME] in the scenario), `pause_ms` the length of the
    scenario's `<pause/>`. SIPp gives up after `timeout_s` (and then exits non-zero).
    """
    binary = require_binary("sipp", "sip-tester")
    path = scenario_path(scenario)
    workdir.mkdir(parents=True, exist_ok=True)
    port, media_port = free_udp_port(), free_udp_port()
    argv = [
        binary,
        "-sf", str(path),
        "-i", HOST,
        "-p", str(port),
        "-mp", str(media_port),
        "-cp", str(free_udp_port()),
        "-m", str(calls),
        "-timeout", f"{timeout_s}s",
        "-timeout_error",
        "-nostdin",
        "-trace_msg", "-message_file", str(workdir / "messages.log"),
        "-trace_err", "-error_file", str(workdir / "errors.log"),
        "-trace_stat", "-stf", str(workdir / "stats.csv"), "-fd", "1",
        "-trace_screen", "-screen_file", str(workdir / "screen.log"),
    ]  # fmt: skip
    if pause_ms is not None:
        argv += ["-d", str(pause_ms)]
    for name, value in (keys or {}).items():
        argv += ["-key", name, value]
    if remote is not None:
        argv.append(f"{remote[0]}:{remote[1]}")
    with running_daemon(f"sipp {scenario}", argv, workdir / "sipp.log", cwd=workdir) as daemon:
        wait_until(
            lambda: udp_port_bound(port) or None,
            timeout_s=START_TIMEOUT_S,
            what=f"SIPp to bind udp:{HOST}:{port}",
            daemon=daemon,
        )
        yield SippPeer(path, HOST, port, media_port, daemon, workdir, timeout_s)
