"""Real worker processes on PostgreSQL, one stopped (SIGTERM) and one paused (SIGSTOP) mid-call.

Three `faxcast worker` processes and the API's own worker (two calls each) share a 6-channel
sandbox line in realtime mode (a call lasts ~20 s). While the first round of calls is on the
line, a worker with calls is told to stop: it drains for longer than a lease, renewing it, so
nobody takes its calls. Another, with two calls, is paused for two leases: its calls are
recovered, yet held (their channels busy, their numbers skipped, though their retry is due)
until it runs again, hangs up and records them, while the others have room to dial. From the
attempts' times: never one number in two calls at once, never more calls than channels,
every recipient delivered exactly once (issue 13).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts, recipients, workers
from tests import pdfs
from tests.e2e.attempts import check_one_call_at_a_time
from tests.e2e.processes import (
    Json,
    Server,
    background,
    describe,
    faxcast_env,
    free_port,
    wait_until,
)

CHANNELS = 6
NUMBERS = [f"+33 1 23 45 70 {i:02d}" for i in range(8)]
LEASE_S = 3.0
PAUSE_S = 2 * LEASE_S
START_TIMEOUT_S = 60.0
FINISH_TIMEOUT_S = 100.0


def _in_call_by_worker(database_url: str) -> dict[str, int]:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(recipients.c.worker_id).where(recipients.c.state == "in_call")
            ).all()
    finally:
        engine.dispose()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.worker_id] = counts.get(row.worker_id, 0) + 1
    return counts


def _line_full(database_url: str) -> dict[str, int] | None:
    """The calls of each worker once every channel is in a call."""
    calls = _in_call_by_worker(database_url)
    return calls if sum(calls.values()) == CHANNELS else None


def _worker_pids(database_url: str) -> dict[str, int]:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(workers.c.id, workers.c.pid)).all()
    finally:
        engine.dispose()
    return {row.id: row.pid for row in rows}


def _interrupted(database_url: str) -> int:
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            reasons = conn.execute(select(attempts.c.reason)).scalars().all()
    finally:
        engine.dispose()
    return sum("interrupted" in reason for reason in reasons)


@pytest.mark.slow
def test_stopped_and_paused_workers_never_put_a_number_in_two_calls(
    postgresql_database_url: str, tmp_path: Path
) -> None:
    url = postgresql_database_url
    env = faxcast_env(
        tmp_path / "data",
        database_url=url,
        sandbox_realtime=1,
        channel_limit=CHANNELS,
        worker_poll_s=0.1,
        worker_max_calls=2,
        dead_worker_s=LEASE_S,
        heartbeat_s=0.3,
        # Due during the pause: only the hold keeps a second call from the paused one's numbers.
        retry_transfer_s=1,
        retry_no_fax_s=1,
        retry_busy_s=1,
        retry_no_answer_s=1,
        retry_congestion_s=1,
    )
    deadline = time.monotonic() + 110
    api_log = tmp_path / "serve.log"
    port = free_port()
    with (
        # The API dials too: a fourth worker, with room while the paused one is recovered.
        background("serve", "--port", str(port), env=env, cwd=tmp_path, log=api_log) as server,
        contextlib.closing(Server(server, port, api_log)) as api,
    ):
        api.wait_ready()
        account, line = api.default_line()
        document = api.upload(account, "short.pdf", pdfs.short_page_pdf(), "application/pdf")
        created = api.create_manual(
            account,
            line,
            name="Chaos",
            document=document["id"],
            numbers="\n".join(NUMBERS),
            quality="normal",
        )
        logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
        with (
            background("worker", env=env, cwd=tmp_path, log=logs[0]) as first,
            background("worker", env=env, cwd=tmp_path, log=logs[1]) as second,
            background("worker", env=env, cwd=tmp_path, log=logs[2]) as third,
        ):
            api.launch(account, line, created["id"])
            in_call = wait_until(
                lambda: _line_full(url),
                timeout=START_TIMEOUT_S,
                what="every channel in a call",
                log=logs[0],
            )
            # Four workers of two calls for six channels: one of the three has two calls, and
            # another has one at least. The API's stays up, to be asked how things went.
            pids = _worker_pids(url)
            calls_of = {p: in_call.get(w, 0) for w, p in pids.items() if p != server.pid}
            processes = sorted((first, second, third), key=lambda p: -calls_of.get(p.pid, 0))
            paused, stopped = processes[0], processes[1]
            assert (calls_of[paused.pid], calls_of.get(stopped.pid, 0) > 0) == (2, True), in_call
            stopped.send_signal(signal.SIGTERM)  # drains its calls, ~20 s
            os.kill(paused.pid, signal.SIGSTOP)
            try:
                time.sleep(PAUSE_S)
                # The draining worker kept its claims; only the paused one's were taken.
                assert _interrupted(url) == 2, _in_call_by_worker(url)
            finally:
                os.kill(paused.pid, signal.SIGCONT)
            detail: Json = api.wait_finished(
                account, line, created["id"], timeout=max(1.0, deadline - time.monotonic())
            )
            assert stopped.wait(timeout=30) == 0

    summary = detail["campaign"]
    assert (summary["state"], summary["outcome"]) == ("finished", "success"), describe(detail)
    made: list[Json] = []
    for recipient in detail["recipients"]:
        calls = recipient["attempts"]
        assert recipient["state"] == "delivered", describe(detail)
        assert sum(a["delivered"] for a in calls) == 1, describe(detail)
        made += [{**a, "number": recipient["number"]} for a in calls]
    check_one_call_at_a_time(made, channels=CHANNELS)
