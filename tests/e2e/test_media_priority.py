"""FAXCAST_MEDIA_PRIORITY puts a worker's event loop thread, which paces every call's media,
in real-time round-robin scheduling; the threads it starts stay ordinary; refused, it says so.

Real `faxcast worker` processes on a fresh SQLite data folder; the tests run as root, and
`setpriv` drops CAP_SYS_NICE for the refusal.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.e2e.processes import FAXCAST, faxcast_env, log_tail, stop_process, wait_until


def start_worker(tmp_path: Path, *prefix: str, **settings: str | float) -> subprocess.Popen[bytes]:
    log = tmp_path / "worker.log"
    env = faxcast_env(tmp_path / "data", worker_poll_s=0.1, **settings)
    with log.open("ab") as out:
        return subprocess.Popen(
            [*prefix, *FAXCAST, "worker"],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def said(tmp_path: Path, text: str) -> bool | None:
    return text in (tmp_path / "worker.log").read_text(errors="replace") or None


def test_the_worker_loop_runs_round_robin_at_the_priority_and_its_threads_do_not(
    tmp_path: Path,
) -> None:
    worker = start_worker(tmp_path, media_priority=7)
    log = tmp_path / "worker.log"
    try:
        wait_until(
            lambda: said(tmp_path, "media paced at real-time priority 7"),
            timeout=30, what="the worker's priority message", alive=worker, log=log,
        )  # fmt: skip
        # The first polls run in the default executor's threads: wait for one to exist.
        tasks = wait_until(
            lambda: sorted(int(t) for t in os.listdir(f"/proc/{worker.pid}/task"))[1:] or None,
            timeout=10, what="a thread of the worker", alive=worker, log=log,
        )  # fmt: skip
        assert os.sched_getscheduler(worker.pid) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR
        assert os.sched_getparam(worker.pid).sched_priority == 7
        assert {os.sched_getscheduler(task) for task in tasks} == {os.SCHED_OTHER}
    finally:
        assert stop_process(worker, signal.SIGTERM) == 0, log_tail(log)


def test_a_refused_priority_is_said_and_the_worker_runs_on_at_the_ordinary_one(
    tmp_path: Path,
) -> None:
    worker = start_worker(tmp_path, "setpriv", "--bounding-set", "-sys_nice", media_priority=7)
    log = tmp_path / "worker.log"
    try:
        wait_until(
            lambda: said(tmp_path, "FAXCAST_MEDIA_PRIORITY=7 was refused"),
            timeout=30, what="the worker's refusal message", alive=worker, log=log,
        )  # fmt: skip
        wait_until(
            lambda: said(tmp_path, "faxcast worker: running"),
            timeout=30, what="the worker running", alive=worker, log=log,
        )  # fmt: skip
        assert os.sched_getscheduler(worker.pid) == os.SCHED_OTHER
    finally:
        assert stop_process(worker, signal.SIGTERM) == 0, log_tail(log)


def test_without_the_setting_the_worker_stays_ordinary(tmp_path: Path) -> None:
    worker = start_worker(tmp_path)
    log = tmp_path / "worker.log"
    try:
        wait_until(
            lambda: said(tmp_path, "faxcast worker: running"),
            timeout=30, what="the worker running", alive=worker, log=log,
        )  # fmt: skip
        assert os.sched_getscheduler(worker.pid) == os.SCHED_OTHER
        assert "priority" not in log.read_text()
    finally:
        assert stop_process(worker, signal.SIGTERM) == 0, log_tail(log)
