"""DESIGN.md's "Nothing is lost", proven on real processes: SIGKILL the server mid-campaign.

`faxcast serve` runs a campaign on the sandbox network in realtime mode (each call lasts as long
as on a real line, ~20 s for the one short page sent here), so the kill surely lands while calls
are in progress. The restarted server must close those calls as interrupted attempts, retry
them, and finish the campaign with every recipient delivered, once, with counts that add up.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from faxcast.store.database import create_engine_for
from faxcast.store.tables import recipients
from tests import pdfs
from tests.e2e.attempts import check_one_call_at_a_time, moment
from tests.e2e.processes import Json, describe, faxcast_env, serve, wait_until

CHANNELS = 10
NUMBERS = [f"+33 1 23 45 6{i // 10} {i % 10}{i % 10}" for i in range(20)]  # all healthy
E164 = [n.replace(" ", "") for n in NUMBERS]
CALL_S = 20.0  # one realtime call of the short page, answer to hang-up, about
MID_FLIGHT_TIMEOUT_S = 3 * CALL_S
FINISH_TIMEOUT_S = 4 * CALL_S


@dataclass(frozen=True)
class Crash:
    """What the first server left when it was killed."""

    account: int
    line: int
    campaign: int
    killed_at: datetime
    seen_in_call: set[str]  # by the API just before the kill


def mid_flight(detail: Json) -> Json | None:
    """The detail once some recipients are delivered, not all, and calls are in progress.

    It waits for the first round of calls (one per channel) to be over, so that the calls in
    progress have just started: they surely last until the kill that follows.
    """
    states = [r["state"] for r in detail["recipients"]]
    delivered = states.count("delivered")
    if CHANNELS <= delivered < len(states) and "in_call" in states:
        return detail
    return None


def in_call_in_database(database_url: str) -> set[str]:
    """Numbers whose recipient the database says is in a call: what the kill left behind."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(recipients.c.number).where(recipients.c.state == "in_call"))
            return {row.number for row in rows}
    finally:
        engine.dispose()


def launch_and_kill(env: Mapping[str, str], tmp_path: Path) -> Crash:
    """Start a server, launch the campaign, SIGKILL the server while calls are in progress."""
    with serve(env, cwd=tmp_path, log=tmp_path / "serve-1.log") as first:
        account, line = first.default_line()
        document = first.upload(account, "short.pdf", pdfs.short_page_pdf(), "application/pdf")
        created = first.create_manual(
            account,
            line,
            name="Crash proof",
            document=document["id"],
            numbers="\n".join(NUMBERS),
            quality="normal",
        )
        campaign = created["id"]
        assert created["countTotal"] == len(NUMBERS)
        first.launch(account, line, campaign)
        seen = wait_until(
            lambda: mid_flight(first.detail(account, line, campaign)),
            timeout=MID_FLIGHT_TIMEOUT_S,
            what="a first round of deliveries and calls in progress",
            alive=first.process,
            log=first.log,
        )
        os.kill(first.pid, signal.SIGKILL)  # the server itself: started without a shell
        killed_at = datetime.now(UTC)
        assert first.process.wait(timeout=10) == -signal.SIGKILL
    in_call = {r["number"] for r in seen["recipients"] if r["state"] == "in_call"}
    return Crash(account, line, campaign, killed_at, in_call)


def test_a_server_killed_mid_campaign_loses_nothing(database_url: str, tmp_path: Path) -> None:
    env = faxcast_env(
        tmp_path / "data",
        database_url=database_url,
        sandbox_realtime=1,
        channel_limit=CHANNELS,
        worker_poll_s=0.1,
        dead_worker_s=2,
        retry_transfer_s=1,
        retry_no_fax_s=1,
        retry_busy_s=1,
        retry_no_answer_s=1,
        retry_congestion_s=1,
    )

    crash = launch_and_kill(env, tmp_path)
    interrupted = in_call_in_database(database_url)
    assert crash.seen_in_call
    # What the API showed in a call was still in one when the process died (a call lasts
    # ~20 s); another call may have started between that look and the kill.
    assert crash.seen_in_call <= interrupted

    with serve(env, cwd=tmp_path, log=tmp_path / "serve-2.log") as second:
        detail = second.wait_finished(
            crash.account, crash.line, crash.campaign, timeout=FINISH_TIMEOUT_S
        )

    # The campaign: everyone accounted for, everyone delivered.
    summary = detail["campaign"]
    assert (summary["state"], summary["outcome"]) == ("finished", "success"), describe(detail)
    assert summary["countTotal"] == len(NUMBERS)
    assert summary["countTotal"] == summary["countSuccess"] + summary["countFailed"]
    assert (summary["countSuccess"], summary["countFailed"], summary["countTodo"]) == (20, 0, 0)
    assert (detail["todo"], detail["failed"]) == ([], [])
    assert sorted(detail["success"]) == sorted(E164)

    # Each recipient: delivered by its last call, after an interrupted one if it was in a call.
    attempts: list[Json] = []
    for recipient in detail["recipients"]:
        calls = recipient["attempts"]
        assert recipient["state"] == "delivered", recipient
        assert recipient["calls"] == len(calls), recipient
        assert calls[-1]["delivered"] is True, recipient
        assert calls[-1]["pagesConfirmed"] == calls[-1]["pagesTotal"] == 1
        if recipient["number"] in interrupted:
            assert len(calls) == 2, recipient
            cut = calls[0]
            assert (cut["delivered"], cut["failure"]) == (False, "transfer_failed"), cut
            assert "interrupted" in cut["reason"], cut
            assert moment(cut["startedAt"]) < crash.killed_at <= moment(cut["endedAt"]), cut
        else:
            assert len(calls) == 1, recipient
        attempts += [{**a, "number": recipient["number"]} for a in calls]
    assert len(attempts) == len(NUMBERS) + len(interrupted)
    assert sum("interrupted" in a["reason"] for a in attempts) == len(interrupted)
    check_one_call_at_a_time(attempts, channels=CHANNELS)
