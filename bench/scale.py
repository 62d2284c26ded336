"""How many recipients per second the dispatcher moves, and how busy it keeps a line's channels.

Run by hand, from the repository root, with faxcast installed (editable) and PostgreSQL answering
at 127.0.0.1:5432 as user postgres (or --pg-admin-url):

    python bench/scale.py [--recipients N] [--util-recipients M] [--seed S]
                          [--sandbox-recipients K] [--only-sandbox]

Every run gets a fresh, migrated PostgreSQL database faxcast_bench_<hex>, dropped after it.
Everything goes through the services and the real Worker; the only stand-in is the fax line.

(a) throughput   a campaign of N recipients (default 2 000) on a line of CHANNELS_A channels
                 whose far end answers every call at once with a delivered result
                 (InstantLine), worked by 1, 2 and 4 worker processes (spawned, each its own
                 interpreter, event loop and connection pool; max_calls CALLS_A each). The
                 clock runs from the launch until every recipient is delivered (the bench
                 polls the database every POLL_DONE_S). In-process baselines: one Worker in
                 the bench's own process, woken when a call ends, and the same Worker polling
                 only (worker_poll_s = 0.5 s, as before issue 13).
(b) utilisation  a campaign of M recipients (default 160) on a line of 16 channels whose calls
                 last a seeded pseudo-random 2-4 s (TimedLine), one Worker in the bench's
                 process: busy channel-seconds / (16 x the time while work was due, from the
                 launch to the start of the last call). Target >= 95 %. Baseline: the same,
                 polling only.
(c) sandbox      a campaign of K recipients (default 2 000) on a sandbox line of 16 channels,
                 the real sandbox network (faxcast.lines.sandbox, not paced to the wall clock:
                 each call is real T.30 through the fax engine, as fast as the CPU allows),
                 one Worker in the bench's process: faxes/s, the channels' utilisation (as in
                 (b)) and the cores busy (this process's CPU, which runs both fax machines of
                 every call, / wall). Baseline: the same, polling only (issue 13 measured 31
                 faxes/s, capped by the 0.5 s poll, 0.58 of a core busy).

A reference time (sum(range(10**8)) in this interpreter) and the load average are printed beside
the figures. Exit 0 whatever the figures (a measurement), 1 if a campaign did not end with every
recipient delivered by exactly one attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import sqlalchemy
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from faxcast.bootstrap import build_services, line_drivers
from faxcast.clock import Clock, SystemClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.domain.campaign import SendType
from faxcast.domain.models import Line
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.fax.result import FaxResult, T30Code
from faxcast.lines.base import CallResult, FaxJob, FaxLine
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.store.tables import attempts, recipients

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
QUALITY = Quality.HIGH
POLL_S = 0.5  # worker_poll_s, the default
WORKER_COUNTS = (1, 2, 4)
CHANNELS_A = 256  # (a): the line never bounds the workers' claims
CALLS_A = 64  # (a): max_calls of each worker
CHANNELS_B = 16
CALL_MIN_S, CALL_MAX_S = 2.0, 4.0
CHANNELS_C = 16
DEFAULT_SANDBOX_RECIPIENTS = 2_000
FAX_DEADLINE_S = 1.0  # (c): each sandbox fax, however slow the host (its CPU does the T.30)
UTILISATION_TARGET = 0.95
DEFAULT_RECIPIENTS = 2_000
DEFAULT_UTIL_RECIPIENTS = 160
MAX_RECIPIENTS = 100_000
POLL_DONE_S = 0.05
DEADLINE_S = 120.0  # any one run, however slow the host
REFERENCE = 10**8


# ---------------------------------------------------------------------------- lines


def _delivered(clock: Clock, job: FaxJob, duration_s: float) -> CallResult:
    """A call of `job` that delivered every page, ending now."""
    now = clock.now()
    pages = job.document.pages - job.document.start_page
    fax = FaxResult(
        success=True,
        code=T30Code.OK,
        code_text="OK",
        pages_total=pages,
        pages_transferred=pages,
        pages_confirmed=pages,
        bit_rate=14400,
        ecm=job.profile.ecm,
        resolution=job.profile.resolution,
        remote_ident=job.number[:20],
        duration_s=duration_s,
        t38=False,
        failure=None,
        reason="every page confirmed",
    )
    return CallResult(now, now, now, 200, None, "delivered", fax)


class InstantLine(FaxLine):
    """A FaxLine whose far end takes every page at once: the dispatcher's cost alone remains."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls = 0

    async def send(self, job: FaxJob) -> CallResult:
        """A delivered call of no duration."""
        self.calls += 1
        return _delivered(self.clock, job, 0.0)

    async def aclose(self) -> None:
        """Nothing to give back: no far end is really called."""


class TimedLine(FaxLine):
    """Each call lasts a seeded pseudo-random CALL_MIN_S-CALL_MAX_S, then delivers; spans kept."""

    def __init__(self, clock: Clock, seed: int) -> None:
        self.clock = clock
        self.spans: list[tuple[float, float]] = []  # (start, end), time.monotonic()
        self._random = random.Random(seed)

    async def send(self, job: FaxJob) -> CallResult:
        """A delivered call that holds its channel for its drawn duration."""
        start = time.monotonic()
        duration = self._random.uniform(CALL_MIN_S, CALL_MAX_S)
        await asyncio.sleep(duration)
        self.spans.append((start, time.monotonic()))
        return _delivered(self.clock, job, duration)

    async def aclose(self) -> None:
        """Nothing to give back: no far end is really called."""


class TimedSandbox(FaxLine):
    """A sandbox line's driver, each call's span kept (time.monotonic())."""

    def __init__(self, line: FaxLine, spans: list[tuple[float, float]]) -> None:
        self.line = line
        self.spans = spans

    async def __aenter__(self) -> TimedSandbox:
        await self.line.__aenter__()
        return self

    async def send(self, job: FaxJob) -> CallResult:
        """The sandbox network's call, timed."""
        start = time.monotonic()
        result = await self.line.send(job)
        self.spans.append((start, time.monotonic()))
        return result

    async def aclose(self) -> None:
        """The sandbox line's own."""
        await self.line.aclose()


class PollingWorker(Worker):
    """The baseline: the Worker as before issue 13, claiming again only on its poll."""

    async def _nap(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.svc.settings.worker_poll_s)


# ---------------------------------------------------------------------------- databases


@contextmanager
def database(admin_url: str) -> Iterator[str]:
    """The URL of a new empty PostgreSQL database, dropped after the block."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"faxcast_bench_{uuid.uuid4().hex}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def settings_for(url: str, workdir: Path, count: int, channels: int, calls: int) -> Settings:
    """The bench's settings: `channels` on the account's line, `calls` per worker."""
    return Settings(
        data_dir=workdir,
        database_url=url,
        max_recipients=count,
        channel_limit=channels,
        worker_max_calls=calls,
        worker_poll_s=POLL_S,
    )


@dataclass(frozen=True)
class Campaign:
    """A created, not yet launched, campaign of `count` recipients."""

    account_id: int
    line: Line
    campaign_id: int
    count: int

    def launch(self, svc: Services) -> None:
        campaigns.launch_campaign(svc, self.account_id, self.line.id, self.campaign_id)

    def tally(self, svc: Services) -> tuple[int, int]:
        """Recipients delivered, and attempts made."""
        with svc.transaction() as conn:
            delivered = conn.execute(
                select(func.count())
                .select_from(recipients)
                .where(
                    recipients.c.campaign_id == self.campaign_id,
                    recipients.c.state == RecipientState.DELIVERED.value,
                )
            ).scalar_one()
            made = conn.execute(
                select(func.count())
                .select_from(attempts)
                .where(attempts.c.campaign_id == self.campaign_id)
            ).scalar_one()
        return int(delivered), int(made)

    def problem(self, svc: Services) -> str | None:
        delivered, made = self.tally(svc)
        if delivered == made == self.count:
            return None
        return f"{delivered} delivered and {made} attempts for {self.count} recipients"


def create(svc: Services, count: int) -> Campaign:
    """An account (its line as the settings say), the demo PDF and a campaign of `count`."""
    account = accounts.create_account(svc, name="Bench", timezone="Europe/Paris")
    line = accounts.list_lines(svc, account.id)[0]
    pdf = resources.files("faxcast").joinpath("samples/demo.pdf").read_bytes()
    document = documents.upload_document(svc, account.id, name="demo.pdf", data=pdf)
    # Distinct geographic French numbers: 01 to 05, the entry's index, then 777, so that none
    # ends like a sandbox test number (0486 is busy...): on the sandbox network all deliver.
    numbers = "\n".join(f"0{1 + i % 5}{i:05d}777" for i in range(count))
    new = NewCampaign("Bench scale", document.id, QUALITY, SendType.MANUAL, None, numbers)
    created = campaigns.create_campaign(svc, account.id, line.id, new)
    return Campaign(account.id, line, created.id, count)


# ---------------------------------------------------------------------------- (a) throughput


@dataclass(frozen=True)
class Throughput:
    """One campaign worked to its end on an instant line."""

    label: str
    recipients: int
    wall_s: float
    cpu_s: float  # the workers' processes' (or the bench process's), not PostgreSQL's
    problem: str | None

    @property
    def per_s(self) -> float:
        return self.recipients / self.wall_s


def _worker_process(
    url: str, workdir: str, count: int, ready: Event, go: Event, stop: Event, out: Queue[float]
) -> None:
    """A worker process of (a): ready, then work from `go` until `stop`; reports its CPU s."""
    settings = settings_for(url, Path(workdir), count, CHANNELS_A, CALLS_A)
    svc = build_services(settings, clock=SystemClock(), upgrade=False)
    line = InstantLine(svc.clock)
    worker = Worker(svc, lambda _: line, cache_dir=Path(workdir) / "cache", rand=lambda: 0.5)
    ready.set()
    go.wait(DEADLINE_S)
    cpu = time.process_time()

    async def work() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(worker.run(stopping))
        while not stop.is_set() and not task.done():
            await asyncio.sleep(POLL_DONE_S)
        stopping.set()
        await task

    asyncio.run(work())
    out.put(time.process_time() - cpu)
    svc.engine.dispose()


def until_delivered(svc: Services, campaign: Campaign) -> float:
    """Poll until every recipient is delivered (bounded); the time it took from now."""
    start = time.perf_counter()
    while time.perf_counter() - start < DEADLINE_S:
        if campaign.tally(svc)[0] >= campaign.count:
            break
        time.sleep(POLL_DONE_S)
    return time.perf_counter() - start


def throughput_processes(admin_url: str, workdir: Path, count: int, procs: int) -> Throughput:
    """(a) with `procs` worker processes sharing one PostgreSQL database."""
    context = multiprocessing.get_context("spawn")
    with database(admin_url) as url:
        settings = settings_for(url, workdir, count, CHANNELS_A, CALLS_A)
        svc = build_services(settings, clock=SystemClock())
        try:
            campaign = create(svc, count)
            go, stop = context.Event(), context.Event()
            out: Queue[float] = context.Queue()
            readies = [context.Event() for _ in range(procs)]
            workers = [
                context.Process(
                    target=_worker_process,
                    args=(url, str(workdir), count, ready, go, stop, out),
                    name=f"bench-worker-{n}",
                )
                for n, ready in enumerate(readies)
            ]
            for process in workers:
                process.start()
            try:
                for ready in readies:
                    if not ready.wait(DEADLINE_S):
                        raise RuntimeError("a worker process did not start")
                campaign.launch(svc)
                go.set()
                wall_s = until_delivered(svc, campaign)
                stop.set()
                cpu_s = sum(out.get(timeout=DEADLINE_S) for _ in workers)
            finally:
                stop.set()
                go.set()
                for process in workers:
                    process.join(DEADLINE_S)
            problem = campaign.problem(svc)
        finally:
            svc.engine.dispose()
    label = f"{procs} process{'es' if procs > 1 else ''}"
    return Throughput(label, count, wall_s, cpu_s, problem)


def throughput_in_process(
    admin_url: str, workdir: Path, count: int, kind: type[Worker], label: str
) -> Throughput:
    """(a) with one worker of `kind` in the bench's own process and event loop."""
    with database(admin_url) as url:
        settings = settings_for(url, workdir, count, CHANNELS_A, CALLS_A)
        svc = build_services(settings, clock=SystemClock())
        try:
            campaign = create(svc, count)
            line = InstantLine(svc.clock)
            worker = kind(svc, lambda _: line, cache_dir=workdir / "cache", rand=lambda: 0.5)
            campaign.launch(svc)
            start, cpu = time.perf_counter(), time.process_time()
            asyncio.run(_work_until(worker, lambda: line.calls >= count))
            wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
            problem = campaign.problem(svc)
        finally:
            svc.engine.dispose()
    return Throughput(label, count, wall_s, cpu_s, problem)


async def _work_until(
    worker: Worker, done: Callable[[], bool], deadline_s: float = DEADLINE_S
) -> None:
    """Run `worker` until `done()` (checked every POLL_DONE_S, bounded), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    deadline = time.perf_counter() + deadline_s
    while not done() and not task.done() and time.perf_counter() < deadline:
        await asyncio.sleep(POLL_DONE_S)
    stop.set()
    await task


# ---------------------------------------------------------------------------- (b) utilisation


@dataclass(frozen=True)
class Utilisation:
    """One campaign on a line of realistic call durations."""

    label: str
    recipients: int
    due_s: float  # from the launch to the start of the last call
    busy_s: float  # channel-seconds in calls within that time
    wall_s: float
    cpu_s: float
    problem: str | None
    channels: int = CHANNELS_B

    @property
    def share(self) -> float:
        return self.busy_s / (self.channels * self.due_s) if self.due_s > 0 else 0.0


def utilisation(
    admin_url: str, workdir: Path, count: int, seed: int, kind: type[Worker], label: str
) -> Utilisation:
    """(b) with one worker of `kind` in the bench's process, on a fresh database."""
    with database(admin_url) as url:
        settings = settings_for(url, workdir, count, CHANNELS_B, CHANNELS_B)
        svc = build_services(settings, clock=SystemClock())
        try:
            campaign = create(svc, count)
            line = TimedLine(svc.clock, seed)
            worker = kind(svc, lambda _: line, cache_dir=workdir / "cache", rand=lambda: 0.5)
            campaign.launch(svc)
            start, cpu = time.monotonic(), time.process_time()
            asyncio.run(_work_until(worker, lambda: len(line.spans) >= count))
            wall_s, cpu_s = time.monotonic() - start, time.process_time() - cpu
            problem = campaign.problem(svc)
        finally:
            svc.engine.dispose()
    due_end = max((begin for begin, _ in line.spans), default=start)
    busy_s = sum(max(0.0, min(end, due_end) - begin) for begin, end in line.spans)
    return Utilisation(label, count, due_end - start, busy_s, wall_s, cpu_s, problem)


# ---------------------------------------------------------------------------- (c) sandbox


def sandbox(
    admin_url: str, workdir: Path, count: int, kind: type[Worker], label: str
) -> Utilisation:
    """(c) with one worker of `kind` in the bench's process, on the real sandbox network."""
    with database(admin_url) as url:
        settings = settings_for(url, workdir, count, CHANNELS_C, CHANNELS_C)
        svc = build_services(settings, clock=SystemClock())
        try:
            campaign = create(svc, count)
            spans: list[tuple[float, float]] = []
            real = line_drivers(svc)
            worker = kind(
                svc,
                lambda line: TimedSandbox(real(line), spans),
                cache_dir=workdir / "cache",
                rand=lambda: 0.5,
            )
            campaign.launch(svc)
            start, cpu = time.monotonic(), time.process_time()
            asyncio.run(_work_until(worker, lambda: len(spans) >= count, count * FAX_DEADLINE_S))
            wall_s, cpu_s = time.monotonic() - start, time.process_time() - cpu
            problem = campaign.problem(svc)
        finally:
            svc.engine.dispose()
    due_end = max((begin for begin, _ in spans), default=start)
    busy_s = sum(max(0.0, min(end, due_end) - begin) for begin, end in spans)
    return Utilisation(label, count, due_end - start, busy_s, wall_s, cpu_s, problem, CHANNELS_C)


# ---------------------------------------------------------------------------- report


def reference_s() -> float:
    """The time sum(range(10**8)) takes in this interpreter: the host's speed, for comparison."""
    start = time.perf_counter()
    sum(range(REFERENCE))
    return time.perf_counter() - start


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def print_throughput(results: list[Throughput]) -> None:
    print(
        f"\n(a) throughput on an instant line, PostgreSQL (line {CHANNELS_A} channels, "
        f"max_calls {CALLS_A} per worker, worker_poll_s {POLL_S:g})"
    )
    header = f"{'workers':<34} {'N':>6} {'wall s':>7} {'recipients/s':>13} {'cores busy':>11}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.label:<34} {r.recipients:>6,} {r.wall_s:>7.2f} {r.per_s:>13,.0f} "
            f"{r.cpu_s / r.wall_s:>11.2f}"
        )
    print("  cores busy: the workers' CPU time / wall (PostgreSQL's own CPU not counted)")


def print_utilisation(results: list[Utilisation], title: str) -> None:
    print(title)
    header = (
        f"{'worker':<24} {'N':>5} {'work due s':>11} {'busy ch-s':>10} {'utilisation':>12} "
        f"{'faxes/s':>8} {'cores busy':>11}  target >= {UTILISATION_TARGET:.0%}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        verdict = "met" if r.share >= UTILISATION_TARGET else "NOT met"
        print(
            f"{r.label:<24} {r.recipients:>5} {r.due_s:>11.2f} {r.busy_s:>10.1f} "
            f"{r.share:>12.1%} {r.recipients / r.wall_s:>8.2f} {r.cpu_s / r.wall_s:>11.3f}  "
            f"{verdict}"
        )
    print(
        "  work due: launch to the start of the last call; busy: call time within it; "
        "cores busy: this process's CPU / wall"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--recipients",
        type=int,
        default=DEFAULT_RECIPIENTS,
        help=f"recipients of each campaign in (a) ({DEFAULT_RECIPIENTS:,})",
    )
    parser.add_argument(
        "--util-recipients",
        type=int,
        default=DEFAULT_UTIL_RECIPIENTS,
        help=f"recipients of each campaign in (b) ({DEFAULT_UTIL_RECIPIENTS})",
    )
    parser.add_argument("--seed", type=int, default=1, help="of (b)'s call durations (1)")
    parser.add_argument(
        "--sandbox-recipients",
        type=int,
        default=DEFAULT_SANDBOX_RECIPIENTS,
        help=f"recipients of each campaign in (c) ({DEFAULT_SANDBOX_RECIPIENTS:,})",
    )
    parser.add_argument("--only-sandbox", action="store_true", help="run (c) alone")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help=f"({PG_ADMIN_URL})")
    args = parser.parse_args()
    count = max(1, min(int(args.recipients), MAX_RECIPIENTS))
    util_count = max(1, min(int(args.util_recipients), MAX_RECIPIENTS))
    sandbox_count = max(1, min(int(args.sandbox_recipients), MAX_RECIPIENTS))
    admin_url = str(args.pg_admin_url)

    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            version = str(conn.exec_driver_sql("SHOW server_version").scalar())
    except sqlalchemy.exc.OperationalError as error:
        print(f"PostgreSQL does not answer at {admin_url} ({error.orig})", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {platform.node()}; "
        f"SQLAlchemy {sqlalchemy.__version__}; PostgreSQL {version}; {os.cpu_count()} CPUs"
    )
    print(f"reference: sum(range(10**8)) takes {reference_s():.2f} s; load average {load()}")

    throughputs: list[Throughput] = []
    utilisations: list[Utilisation] = []
    sandboxes: list[Utilisation] = []
    with tempfile.TemporaryDirectory(prefix="faxcast-bench-") as tmp:
        runs = iter(Path(tmp) / f"run-{n}" for n in range(100))
        if not args.only_sandbox:
            for kind, label in (
                (PollingWorker, "polling only"),
                (Worker, "woken at a call's end"),
            ):
                utilisations.append(
                    utilisation(admin_url, next(runs), util_count, args.seed, kind, label)
                )
            for kind, label in (
                (PollingWorker, "1 in-process, polling only"),
                (Worker, "1 in-process, woken at a call's end"),
            ):
                throughputs.append(throughput_in_process(admin_url, next(runs), count, kind, label))
            for procs in WORKER_COUNTS:
                throughputs.append(throughput_processes(admin_url, next(runs), count, procs))
        for kind, label in ((PollingWorker, "polling only"), (Worker, "woken at a call's end")):
            sandboxes.append(sandbox(admin_url, next(runs), sandbox_count, kind, label))
    if throughputs:
        print_throughput(throughputs)
    if utilisations:
        print_utilisation(
            utilisations,
            f"\n(b) channel utilisation, PostgreSQL, {CHANNELS_B} channels, calls of "
            f"{CALL_MIN_S:g}-{CALL_MAX_S:g} s",
        )
    print_utilisation(
        sandboxes,
        f"\n(c) a sandbox campaign, PostgreSQL, {CHANNELS_C} channels, the sandbox network "
        "unpaced (real T.30 in this process)",
    )
    print(f"\nload average after: {load()}; reference again: {reference_s():.2f} s")
    failed = False
    results: list[Throughput | Utilisation] = [*throughputs, *utilisations, *sandboxes]
    for result in results:
        if result.problem is not None:
            print(f"FAILED ({result.label}): {result.problem}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
