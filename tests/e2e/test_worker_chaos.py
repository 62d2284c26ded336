"""Real worker processes on PostgreSQL under a seeded mix of SIGKILL, SIGTERM and SIGSTOP.

Three `faxcast worker` processes and the API's own worker (two calls each) share a 6-channel
sandbox line in realtime mode (a call lasts ~20 s, far longer than the 3 s lease). While the
campaign runs, a seeded sequence of faults hits workers that have calls: SIGKILL (the worker
is started again at once, or two leases later as a supervisor's back-off would; either way
its calls are known to have ended on this host and are dialled again soon), SIGTERM (it
drains its calls, renewing their leases, then is started again: a rolling restart) and
SIGSTOP for one to two leases then SIGCONT (its calls are recovered yet held until it hangs
up and records them). The API's worker is left alone, to be asked how things went.

Sampled all along: never more busy channels than the line has. From the attempts' times: never
one number in two calls at once, never more calls than channels. At the end: every recipient
delivered by exactly one attempt, every call on record once, the counts add up (issue 13).

FAXCAST_CHAOS_SEEDS="1,2,3" runs other seeds (a failure names its seed).
"""

from __future__ import annotations

import enum
import os
import random
import signal
import subprocess
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, or_, select

from faxcast.domain.retry import RetryPolicy
from faxcast.services.outcomes import HUNG_UP, INTERRUPTED, LEASE_LOST
from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts, campaigns, recipients, workers
from tests import pdfs
from tests.e2e.attempts import check_one_call_at_a_time, moment
from tests.e2e.processes import (
    Json,
    Server,
    background,
    describe,
    faxcast_env,
    free_port,
    log_tail,
    wait_until,
)

CHANNELS = 6
WORKERS = 3
NUMBERS = [f"+33 1 23 45 70 {i:02d}" for i in range(12)]
LEASE_S = 3.0
FAULTS = 5
SAMPLE_S = 0.2
START_TIMEOUT_S = 60.0
# What a call cut short by a fault to its worker is recorded as.
CUT_SHORT = frozenset({INTERRUPTED, LEASE_LOST, HUNG_UP})
TARGET_TIMEOUT_S = 30.0  # for a worker with calls, between two faults
EXIT_TIMEOUT_S = 40.0  # a drain ends with its calls (~20 s)
TEST_TIMEOUT_S = 170.0
SEEDS = [int(s) for s in os.environ.get("FAXCAST_CHAOS_SEEDS", "1").split(",") if s.strip()]


class Fault(enum.Enum):
    KILL = "SIGKILL, then started again at once or after two leases"
    TERM = "SIGTERM (drains), then started again"
    STOP = "SIGSTOP for one to two leases, then SIGCONT"


def fault_plan(rand: random.Random) -> list[Fault]:
    """FAULTS faults in a seeded order, every kind once among the first (while work is left)."""
    kinds = list(Fault)
    rand.shuffle(kinds)
    return kinds + rand.choices(list(Fault), k=FAULTS - len(Fault))


@dataclass
class Slot:
    """One of the worker processes, replaced when it is killed or has drained."""

    process: subprocess.Popen[bytes]
    log: Path
    state: str = "running"  # or "paused", "draining", "killed"
    resume_at: float = 0.0  # when a paused one is continued, a killed one started again


@dataclass
class Chaos:
    """The worker processes, the faults done to them and the busy channels seen."""

    engine: Engine
    stack: ExitStack
    env: dict[str, str]
    cwd: Path
    slots: list[Slot] = field(default_factory=list)
    started: int = 0
    done: list[str] = field(default_factory=list)
    most_busy: int = 0

    def start(self) -> Slot:
        log = self.cwd / f"worker-{self.started}.log"
        self.started += 1
        worker = background("worker", env=self.env, cwd=self.cwd, log=log)
        return Slot(self.stack.enter_context(worker), log)

    def busy_channels(self) -> int:
        """Channels the claims count as busy now: calls, and recovered calls still held."""
        with self.engine.connect() as conn:
            now = conn.execute(select(func.now())).scalar_one()
            busy = conn.execute(
                select(func.count())
                .select_from(recipients)
                .where(or_(recipients.c.state == "in_call", recipients.c.held_until > now))
            ).scalar_one()
        return int(busy)

    def calls_of(self) -> dict[int, int]:
        """Calls in progress by worker pid."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(workers.c.pid, func.count())
                .join(recipients, recipients.c.worker_id == workers.c.id)
                .where(recipients.c.state == "in_call")
                .group_by(workers.c.pid)
            ).all()
        return {int(pid): int(n) for pid, n in rows}

    def state(self) -> str:
        """The recipients and workers as the database has them, for a failure message."""
        with self.engine.connect() as conn:
            now = conn.execute(select(func.now())).scalar_one()
            rows = conn.execute(
                select(recipients, workers.c.pid)
                .outerjoin(workers, workers.c.id == recipients.c.worker_id)
                .order_by(recipients.c.id)
            ).all()
            made = conn.execute(
                select(attempts.c.recipient_id, attempts.c.reason).order_by(attempts.c.id)
            ).all()
        reasons: dict[int, list[str]] = {}
        for recipient_id, reason in made:
            reasons.setdefault(recipient_id, []).append(reason)
        slots = [f"{s.process.pid}:{s.state}:{s.process.poll()}" for s in self.slots]
        lines = [f"at {now:%H:%M:%S}, worker processes (pid:state:exit) {slots}"]
        for r in rows:
            lines.append(
                f"  {r.number} {r.state} calls={r.calls} pid={r.pid} due={r.due_at} "
                f"held={r.held_until} lease={r.lease_expires_at} {reasons.get(r.id, [])}"
            )
        return "\n".join(lines)

    def campaign_over(self, campaign_id: int) -> bool:
        with self.engine.connect() as conn:
            state = conn.execute(
                select(campaigns.c.state).where(campaigns.c.id == campaign_id)
            ).scalar_one()
        return state in ("finished", "error")

    def tend(self) -> None:
        """Sample the channels; resume paused workers and restart drained ones when due."""
        busy = self.busy_channels()
        self.most_busy = max(self.most_busy, busy)
        assert busy <= CHANNELS, f"{busy} busy channels on a line of {CHANNELS}: {self.done}"
        for i, slot in enumerate(self.slots):
            if slot.state == "paused" and time.monotonic() >= slot.resume_at:
                os.kill(slot.process.pid, signal.SIGCONT)
                slot.state = "running"
            elif slot.state == "killed" and time.monotonic() >= slot.resume_at:
                self.slots[i] = self.start()
            elif slot.state == "draining" and slot.process.poll() is not None:
                code = slot.process.returncode
                assert code == 0, f"a draining worker exited with {code}" + log_tail(slot.log)
                self.slots[i] = self.start()

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, tending every SAMPLE_S."""
        end = time.monotonic() + seconds
        while True:
            self.tend()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(SAMPLE_S, left))

    def target(self, rand: random.Random, campaign_id: int, timeout: float) -> Slot | None:
        """A running worker process with calls, chosen by `rand`; None if the campaign ends or
        none has calls within `timeout` (the API's worker may have the last ones)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.campaign_over(campaign_id):
            self.tend()
            calls = self.calls_of()
            ready = [s for s in self.slots if s.state == "running" and calls.get(s.process.pid)]
            if ready:
                return rand.choice(ready)
            time.sleep(SAMPLE_S)
        return None

    def strike(self, fault: Fault, slot: Slot, rand: random.Random) -> None:
        pid = slot.process.pid
        self.done.append(f"{fault.name} {pid}")
        if fault is Fault.KILL:
            slot.process.kill()
            assert slot.process.wait(timeout=EXIT_TIMEOUT_S) == -signal.SIGKILL
            # Started again at once, or after its leases expired (a supervisor's back-off):
            # either way its calls are known to have ended and may be dialled again soon.
            delay = rand.choice((0.0, 2 * LEASE_S))
            slot.state = "killed"
            slot.resume_at = time.monotonic() + delay
            self.done[-1] += f" (started again after {delay:g} s)"
        elif fault is Fault.TERM:
            slot.process.send_signal(signal.SIGTERM)
            slot.state = "draining"
        else:
            os.kill(pid, signal.SIGSTOP)
            slot.state = "paused"
            slot.resume_at = time.monotonic() + rand.uniform(LEASE_S, 2 * LEASE_S)

    def resume_all(self) -> None:
        for slot in self.slots:
            if slot.state == "paused":
                os.kill(slot.process.pid, signal.SIGCONT)
                slot.state = "running"


def _attempt_count(engine: Engine, campaign_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(attempts)
                .where(attempts.c.campaign_id == campaign_id)
            ).scalar_one()
        )


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_killed_stopped_and_paused_workers_never_put_a_number_in_two_calls(
    postgresql_database_url: str, tmp_path: Path, seed: int
) -> None:
    url = postgresql_database_url
    rand = random.Random(seed)
    plan = fault_plan(rand)
    env = faxcast_env(
        tmp_path / "data",
        database_url=url,
        sandbox_realtime=1,
        channel_limit=CHANNELS,
        worker_poll_s=0.1,
        worker_max_calls=2,
        dead_worker_s=LEASE_S,
        heartbeat_s=0.3,
        # Due during a pause: only the hold keeps a second call from the paused one's numbers.
        retry_transfer_s=1,
        retry_no_fax_s=1,
        retry_busy_s=1,
        retry_no_answer_s=1,
        retry_congestion_s=1,
    )
    deadline = time.monotonic() + TEST_TIMEOUT_S
    api_log = tmp_path / "serve.log"
    port = free_port()
    engine = create_engine_for(url)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        server = stack.enter_context(
            background("serve", "--port", str(port), env=env, cwd=tmp_path, log=api_log)
        )
        api = stack.enter_context(closing(Server(server, port, api_log, env)))
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
        chaos = Chaos(engine, stack, env, tmp_path)
        chaos.slots = [chaos.start() for _ in range(WORKERS)]
        api.launch(account, line, created["id"])
        wait_until(
            lambda: True if chaos.busy_channels() == CHANNELS else None,
            timeout=START_TIMEOUT_S,
            what="every channel in a call",
            log=chaos.slots[0].log,
        )
        context = f"seed {seed}, plan {[f.name for f in plan]}"
        try:
            for fault in plan:
                slot = chaos.target(rand, created["id"], TARGET_TIMEOUT_S)
                if slot is None:
                    break
                chaos.strike(fault, slot, rand)
                chaos.wait(rand.uniform(1.0, 6.0))

            def finished() -> bool | None:
                chaos.tend()
                return True if chaos.campaign_over(created["id"]) else None

            wait_until(
                finished,
                timeout=max(1.0, deadline - time.monotonic()),
                what=f"the campaign to finish ({context}, done {chaos.done})",
                interval=SAMPLE_S,
                log=api_log,
                state=chaos.state,
            )
        finally:
            chaos.resume_all()
        detail: Json = api.detail(account, line, created["id"])
        made_on_record = _attempt_count(engine, created["id"])
        for slot in chaos.slots:  # a drain still going on ends well
            if slot.state == "draining":
                assert slot.process.wait(timeout=EXIT_TIMEOUT_S) == 0, log_tail(slot.log)

    _check_outcome(detail, made_on_record, chaos, context + f", done {chaos.done}")


def _check_outcome(detail: Json, made_on_record: int, chaos: Chaos, context: str) -> None:
    """Every recipient delivered once or failed by the faults alone, every call on record once,
    no overlap, counts add up.

    An interrupted call counts as a failed transfer (DESIGN.md), so a recipient whose every
    try the faults cut short fails once its tries are spent: that is the policy, not a loss.
    """
    summary = detail["campaign"]
    shown = context + "\n" + describe(detail)
    assert summary["state"] == "finished", shown
    made: list[Json] = []
    failed = 0
    for recipient in detail["recipients"]:
        calls = recipient["attempts"]
        assert recipient["calls"] == len(calls), shown
        if recipient["state"] == "failed":
            failed += 1
            assert len(calls) == RetryPolicy().max_tries, shown
            assert all(a["reason"] in CUT_SHORT for a in calls), shown
        else:
            assert recipient["state"] == "delivered", shown
            assert sum(a["delivered"] for a in calls) == 1, shown
        for a in calls:
            assert moment(a["startedAt"]) <= moment(a["endedAt"]), context
        made += [{**a, "number": recipient["number"]} for a in calls]
    assert len(detail["recipients"]) == summary["countTotal"] == len(NUMBERS)
    assert (summary["countSuccess"], summary["countFailed"], summary["countTodo"]) == (
        len(NUMBERS) - failed,
        failed,
        0,
    ), context
    assert summary["outcome"] == ("success" if failed == 0 else "partial"), shown
    assert made_on_record == len(made), context
    assert {done.split()[0] for done in chaos.done} == {f.name for f in Fault}, context
    assert 0 < chaos.most_busy <= CHANNELS
    check_one_call_at_a_time(made, channels=CHANNELS)
