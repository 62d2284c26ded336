"""How long a 100 000-recipient campaign takes to create, and what the dispatcher costs per call.

Run by hand, from the repository root, with faxcast installed (editable) and, unless
--sqlite-only, PostgreSQL answering at 127.0.0.1:5432 as user postgres (or --pg-admin-url):

    python bench/campaign.py [--sqlite-only] [--recipients N] [--run-recipients M]
                             [--spread-ms S]

Each database gets fresh, migrated databases made for the bench and removed after it: SQLite
files in a temp dir; PostgreSQL databases faxcast_bench_<hex>, dropped at the end. Everything goes
through the services (bootstrap.build_services, accounts, documents, campaigns) and the real
Worker; the only stand-in is the fax line.

(1) create   services.campaigns.create_campaign with a recipientsList of N (default 100 000)
             distinct valid French numbers in mixed spellings, the bundled 2-page demo PDF at
             "high" quality, Settings(max_recipients=N), on a database that has never rendered
             that PDF. Split: parse = domain.numbers.parse_recipients alone and render =
             render_pdf + write_tiff_f alone, each measured separately just before; store = the
             create_campaign wall time minus those two. Target: create < 3 s (wall).
(2) run      a fresh database and a campaign of M recipients (default 10 000), launched, then
             worked by a Worker whose line answers every call at once with a delivered result
             (InstantLine), line channel_limit and max_calls 64, driven by
             `await worker.tick(); await worker.idle()` until a tick claims nothing. Wall time
             is the sum of those awaits; CPU is this process's (the PostgreSQL server's own CPU
             is not counted). Split: wall in tick() (claims) against idle() (calls and their
             records); CPU and SQL statements per recipient by thread for the worker's claim
             pass (_claim_all: heartbeat, due campaigns, recovery, claims), job set-up (_job)
             and record (_record, once per batch of results written together: its runs
             against N give the batch size; an instant line ends a tick's calls together,
             the most favourable case for batching); "other" is the event loop, thread
             hand-offs and the line.
             Target: < 1 ms per recipient, judged on wall time and on CPU time.
             With --spread-ms S each call lasts a seeded pseudo-random time up to S ms, so
             results arrive one by one as real calls' do, in small batches: CPU is then the
             figure to judge (wall includes the waits).

Beside the tables it prints a reference time, `sum(range(10**8))` in the same interpreter (best
of three, before and after the runs), so that figures from another host or load can be compared:
scale them by the ratio of the reference times.

Exit 0 whatever the figures (a measurement), 1 if a run campaign did not finish with every
recipient delivered by exactly one attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url

from faxcast.bootstrap import build_services
from faxcast.clock import Clock, SystemClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.documents import render_pdf, write_tiff_f
from faxcast.domain.campaign import Campaign, CampaignOutcome, CampaignState, SendType
from faxcast.domain.models import Claim, Line
from faxcast.domain.numbers import parse_recipients
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import RecipientState
from faxcast.fax.result import FaxResult, T30Code
from faxcast.lines.base import CallResult, FaxJob, FaxLine
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.services.outcomes import Finished
from faxcast.store.tables import attempts, recipients

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COUNTRY = "FR"
QUALITY = Quality.HIGH
CHANNELS = 64
CREATE_TARGET_S = 3.0
PER_RECIPIENT_TARGET_MS = 1.0
DEFAULT_RECIPIENTS = 100_000
DEFAULT_RUN_RECIPIENTS = 10_000
MAX_RECIPIENTS = 1_000_000  # the numbers below have 8 digits for the entry's index
EXTRA_TICKS = 10
SHOWN_ERRORS = 5
SPREAD_SEED = 1


# ---------------------------------------------------------------------------- inputs


def recipients_text(count: int) -> str:
    """`count` distinct possible French numbers, one a line, in the spellings people type."""
    entries: list[str] = []
    for i in range(count):
        national = f"{1 + i % 5}{i:08d}"  # 9 digits: a geographic number, 01 to 05
        pairs = " ".join(national[k : k + 2] for k in range(1, 9, 2))
        match i % 4:
            case 0:
                entries.append(f"0{national[0]} {pairs}")
            case 1:
                entries.append(f"0{national[0]}.{pairs.replace(' ', '.')}")
            case 2:
                entries.append(f"+33 {national[0]} {pairs}")
            case _:
                entries.append(f"0{national}")
    return "\n".join(entries)


def demo_pdf() -> bytes:
    """The 2-page sample PDF shipped with faxcast."""
    return resources.files("faxcast").joinpath("samples/demo.pdf").read_bytes()


# ---------------------------------------------------------------------------- the line


class InstantLine(FaxLine):
    """A FaxLine whose far end takes every page at once: the dispatcher's cost alone remains.

    With `spread_s`, each call first waits a pseudo-random time up to it, so calls end one by
    one as real ones do, and results are recorded in small batches.
    """

    def __init__(self, clock: Clock, spread_s: float = 0.0) -> None:
        self.clock = clock
        self.calls = 0
        self.spread_s = spread_s
        self._random = random.Random(SPREAD_SEED)

    async def send(self, job: FaxJob) -> CallResult:
        """A delivered call of no duration (or of a short, spread one)."""
        self.calls += 1
        if self.spread_s:
            await asyncio.sleep(self._random.uniform(0.0, self.spread_s))
        now = self.clock.now()
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
            duration_s=0.0,
            t38=False,
            failure=None,
            reason="every page confirmed",
        )
        return CallResult(
            started_at=now,
            answered_at=now,
            ended_at=now,
            sip_status=200,
            failure=None,
            reason="delivered",
            fax=fax,
        )

    async def aclose(self) -> None:
        """Nothing to give back: no far end is really called."""


# ---------------------------------------------------------------------------- metering


@dataclass
class Phase:
    """What one part of the worker cost, summed over its threads."""

    calls: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    statements: int = 0


@dataclass
class Meter:
    """Per-phase wall, thread CPU and SQL statement counts, safe across the worker's threads."""

    phases: dict[str, Phase] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def watch(self, engine: Engine) -> None:
        """Count the statements each phase sends to the database."""

        def count(*_: Any) -> None:
            self._local.statements = getattr(self._local, "statements", 0) + 1

        event.listen(engine, "before_cursor_execute", count)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Charge what the block costs in this thread to `name`."""
        statements = getattr(self._local, "statements", 0)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        except Exception as error:
            with self._lock:
                self.errors.append(f"{name}: {type(error).__name__}: {error}")
            raise
        finally:
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            sent = getattr(self._local, "statements", 0) - statements
            with self._lock:
                phase = self.phases.setdefault(name, Phase())
                phase.calls += 1
                phase.wall_s += wall
                phase.cpu_s += cpu
                phase.statements += sent


class MeteredWorker(Worker):
    """The real Worker, its thread-side steps timed."""

    meter: Meter

    def _claim_all(self) -> list[Claim]:
        with self.meter.phase("claim"):
            return super()._claim_all()

    def _job(self, claim: Claim) -> FaxJob:
        with self.meter.phase("job"):
            return super()._job(claim)

    def _record(self, calls: list[Finished]) -> None:
        with self.meter.phase("record"):
            super()._record(calls)


# ---------------------------------------------------------------------------- databases


@dataclass(frozen=True)
class Backend:
    """A kind of database the bench runs on, and how to make a fresh one."""

    name: str
    pg_admin_url: str | None  # None: SQLite

    @contextmanager
    def database(self, workdir: Path) -> Iterator[str]:
        """The URL of a new empty database, removed after the block."""
        if self.pg_admin_url is None:
            yield f"sqlite:///{workdir / 'faxcast.db'}"
            return
        admin = create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        name = f"faxcast_bench_{uuid.uuid4().hex}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                yield (
                    make_url(self.pg_admin_url)
                    .set(database=name)
                    .render_as_string(hide_password=False)
                )
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()


@dataclass
class Setup:
    """Services on a fresh database, one account, its line and the uploaded PDF."""

    svc: Services
    account_id: int
    line: Line
    pdf_id: int

    def create(self, numbers: str, name: str) -> Campaign:
        return campaigns.create_campaign(
            self.svc,
            self.account_id,
            self.line.id,
            NewCampaign(
                name=name,
                document_id=self.pdf_id,
                quality=QUALITY,
                send_type=SendType.MANUAL,
                send_at=None,
                recipients_list=numbers,
            ),
        )


@contextmanager
def set_up(backend: Backend, workdir: Path, max_recipients: int) -> Iterator[Setup]:
    """A migrated database with an account (line of CHANNELS channels) and the demo PDF."""
    workdir.mkdir(parents=True)
    with backend.database(workdir) as url:
        settings = Settings(
            data_dir=workdir,
            database_url=url,
            max_recipients=max_recipients,
            channel_limit=CHANNELS,
            worker_max_calls=CHANNELS,
        )
        svc = build_services(settings, clock=SystemClock())
        try:
            account = accounts.create_account(svc, name="Bench", timezone="Europe/Paris")
            line = accounts.list_lines(svc, account.id)[0]
            pdf = documents.upload_document(svc, account.id, name="demo.pdf", data=demo_pdf())
            yield Setup(svc, account.id, line, pdf.id)
        finally:
            svc.engine.dispose()


# ---------------------------------------------------------------------------- (1) create


@dataclass(frozen=True)
class CreateResult:
    """Creation of one campaign: the whole, and its parts measured apart."""

    recipients: int
    parse_s: float
    render_s: float
    total_s: float
    total_cpu_s: float

    @property
    def store_s(self) -> float:
        return self.total_s - self.parse_s - self.render_s


def bench_create(backend: Backend, workdir: Path, count: int) -> CreateResult:
    """Time parse and render alone, then create_campaign as a whole, on a fresh database."""
    text = recipients_text(count)
    pdf = demo_pdf()
    parse_recipients("01 23 45 67 89", country=COUNTRY)  # phonenumbers' metadata, loaded once
    with set_up(backend, workdir, count) as setup:
        gc.collect()
        start = time.perf_counter()
        parsed = parse_recipients(text, country=COUNTRY, max_recipients=count)
        parse_s = time.perf_counter() - start
        if len(parsed.numbers) != count or parsed.duplicates or parsed.warnings:
            sys.exit(f"the bench's list parsed into {len(parsed.numbers)} numbers, not {count}")
        limits = setup.svc.settings.document_limits
        start = time.perf_counter()
        write_tiff_f(render_pdf(pdf, QUALITY.profile.resolution, limits=limits))
        render_s = time.perf_counter() - start
        del parsed
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        campaign = setup.create(text, "Bench create")
        total_s, total_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        if campaign.count_total != count:
            sys.exit(f"the campaign has {campaign.count_total} recipients, not {count}")
    return CreateResult(count, parse_s, render_s, total_s, total_cpu_s)


# ---------------------------------------------------------------------------- (2) run


@dataclass(frozen=True)
class RunResult:
    """One campaign worked to its end on an instant line."""

    recipients: int
    ticks: int
    claiming_ticks: int
    wall_s: float
    tick_wall_s: float
    pass_ms: tuple[float, ...]  # wall of each tick() that claimed something
    cpu_s: float
    phases: dict[str, Phase]
    state: CampaignState
    outcome: CampaignOutcome
    delivered: int
    attempts: int
    errors: tuple[str, ...]
    problem: str | None

    def per_recipient_ms(self, seconds: float) -> float:
        return 1000.0 * seconds / self.recipients


def bench_run(backend: Backend, workdir: Path, count: int, spread_s: float = 0.0) -> RunResult:
    """Create and launch a campaign of `count`, then tick the worker until nothing is claimed."""
    with set_up(backend, workdir, count) as setup:
        svc = setup.svc
        campaign = setup.create(recipients_text(count), "Bench run")
        campaigns.launch_campaign(svc, setup.account_id, setup.line.id, campaign.id)
        line = InstantLine(svc.clock, spread_s)

        def drivers(_: Line) -> FaxLine:
            return line

        meter = Meter()
        meter.watch(svc.engine)
        worker = MeteredWorker(
            svc, drivers, cache_dir=workdir / "cache", max_calls=CHANNELS, rand=lambda: 0.5
        )
        worker.meter = meter
        max_ticks = math.ceil(count / CHANNELS) + EXTRA_TICKS

        passes: list[float] = []

        async def drive() -> tuple[int, int, float, float]:
            ticks = claiming = 0
            wall = tick_wall = 0.0
            for _ in range(max_ticks):
                start = time.perf_counter()
                claimed = await worker.tick()
                middle = time.perf_counter()
                await worker.idle()
                end = time.perf_counter()
                ticks += 1
                wall += end - start
                tick_wall += middle - start
                if not claimed:
                    break
                claiming += 1
                passes.append(1000.0 * (middle - start))
            return ticks, claiming, wall, tick_wall

        gc.collect()
        cpu = time.process_time()
        ticks, claiming, wall_s, tick_wall_s = asyncio.run(drive())
        cpu_s = time.process_time() - cpu

        final = campaigns.get_campaign(svc, setup.account_id, setup.line.id, campaign.id)
        with svc.transaction() as conn:
            delivered = conn.execute(
                select(func.count())
                .select_from(recipients)
                .where(
                    recipients.c.campaign_id == campaign.id,
                    recipients.c.state == RecipientState.DELIVERED.value,
                )
            ).scalar_one()
            made = conn.execute(
                select(func.count())
                .select_from(attempts)
                .where(attempts.c.campaign_id == campaign.id)
            ).scalar_one()
    problem = None
    if final.state is not CampaignState.FINISHED or final.outcome is not CampaignOutcome.SUCCESS:
        problem = f"campaign {final.state.value}/{final.outcome.value} after {ticks} ticks"
    elif not delivered == made == final.count_delivered == line.calls == count:
        problem = (
            f"{delivered} recipients delivered, {made} attempts, {line.calls} calls "
            f"for {count} recipients"
        )
    return RunResult(
        count,
        ticks,
        claiming,
        wall_s,
        tick_wall_s,
        tuple(passes),
        cpu_s,
        meter.phases,
        final.state,
        final.outcome,
        delivered,
        made,
        tuple(meter.errors),
        problem,
    )


# ---------------------------------------------------------------------------- report


def _verdict(value: float, target: float, unit: str) -> str:
    figure = f"{value:.3f} {unit}"
    return f"met ({figure})" if value < target else f"NOT met ({figure})"


def print_create(results: dict[str, CreateResult]) -> None:
    print("\n(1) create a campaign: create_campaign wall time, parse and render measured alone")
    header = (
        f"{'database':<11} {'N':>8} {'parse s':>8} {'render s':>9} {'store s':>8} "
        f"{'total s':>8} {'CPU s':>7} {'store rows/s':>13}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        rows = r.recipients / r.store_s if r.store_s > 0 else math.inf
        print(
            f"{name:<11} {r.recipients:>8,} {r.parse_s:>8.3f} {r.render_s:>9.3f} "
            f"{r.store_s:>8.3f} {r.total_s:>8.3f} {r.total_cpu_s:>7.3f} {rows:>13,.0f}"
        )


def print_run(results: dict[str, RunResult]) -> None:
    print(
        f"\n(2) run a campaign on an instant line (channel_limit = max_calls = {CHANNELS}): "
        "per recipient"
    )
    header = (
        f"{'database':<11} {'N':>7} {'ticks':>6} {'wall s':>7} {'CPU s':>7} {'wall ms':>8} "
        f"{'CPU ms':>7} {'tick ms':>8} {'idle ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        ms = r.per_recipient_ms
        print(
            f"{name:<11} {r.recipients:>7,} {r.ticks:>6} {r.wall_s:>7.2f} {r.cpu_s:>7.2f} "
            f"{ms(r.wall_s):>8.3f} {ms(r.cpu_s):>7.3f} {ms(r.tick_wall_s):>8.3f} "
            f"{ms(r.wall_s - r.tick_wall_s):>8.3f}"
        )
    print(
        "  tick = wall in worker.tick() (claim pass); idle = wall in worker.idle() (calls, records)"
    )
    for name, r in results.items():
        if r.pass_ms:
            print(
                f"  {name}: one claim pass (tick) took {r.pass_ms[0]:.1f} ms first, "
                f"{statistics.median(r.pass_ms):.1f} median, {r.pass_ms[-1]:.1f} last, "
                f"{max(r.pass_ms):.1f} max ms"
            )
    print("\n    CPU ms and SQL statements per recipient, by worker step (thread CPU)")
    header = (
        f"{'database':<11} {'step':<7} {'runs':>7} {'CPU ms':>7} {'thread wall ms':>15} {'SQL':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        accounted = 0.0
        for step in ("claim", "job", "record"):
            phase = r.phases.get(step, Phase())
            accounted += phase.cpu_s
            print(
                f"{name:<11} {step:<7} {phase.calls:>7,} {r.per_recipient_ms(phase.cpu_s):>7.3f} "
                f"{r.per_recipient_ms(phase.wall_s):>15.3f} "
                f"{phase.statements / r.recipients:>6.1f}"
            )
        print(
            f"{name:<11} {'other':<7} {'':>7} {r.per_recipient_ms(r.cpu_s - accounted):>7.3f} "
            f"{'':>15} {'':>6}"
        )
    print(
        "  thread wall sums every thread's time in the step (they overlap; it includes waits "
        "for locks and pool connections)"
    )


def print_verdicts(
    creates: dict[str, CreateResult], runs: dict[str, RunResult], count: int
) -> None:
    names = list(creates)
    print("\nTargets")
    header = f"{'target':<40}" + "".join(f" {name:<24}" for name in names)
    print(header)
    print("-" * len(header))
    row = f"{f'create {count:,} recipients < {CREATE_TARGET_S:g} s':<40}"
    for name in names:
        row += f" {_verdict(creates[name].total_s, CREATE_TARGET_S, 's'):<24}"
    print(row)
    for label, pick in (("wall", "wall_s"), ("CPU", "cpu_s")):
        sizes = {r.recipients for r in runs.values()}
        size = f"{sizes.pop():,}" if len(sizes) == 1 else "N"
        target = f"run {size}: {label} per recipient < {PER_RECIPIENT_TARGET_MS:g} ms"
        row = f"{target:<40}"
        for name in names:
            r = runs[name]
            value = r.per_recipient_ms(float(getattr(r, pick)))
            row += f" {_verdict(value, PER_RECIPIENT_TARGET_MS, 'ms'):<24}"
        print(row)


def reference_s() -> float:
    """`sum(range(10**8))` in this interpreter, best of three: how fast this host runs Python."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        sum(range(10**8))
        best = min(best, time.perf_counter() - start)
    return best


def pg_version(admin_url: str) -> str:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--recipients",
        type=int,
        default=DEFAULT_RECIPIENTS,
        help=f"recipients of the campaign created in (1) ({DEFAULT_RECIPIENTS:,})",
    )
    parser.add_argument(
        "--run-recipients",
        type=int,
        default=DEFAULT_RUN_RECIPIENTS,
        help=f"recipients of the campaign run in (2) ({DEFAULT_RUN_RECIPIENTS:,})",
    )
    parser.add_argument(
        "--spread-ms",
        type=float,
        default=0.0,
        help="in (2), each call lasts a pseudo-random time up to this, so calls end one by one "
        "and results are recorded in small batches; judge CPU then, wall includes the waits (0)",
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help=f"({PG_ADMIN_URL})")
    args = parser.parse_args()
    count = max(1, min(int(args.recipients), MAX_RECIPIENTS))
    run_count = max(1, min(int(args.run_recipients), MAX_RECIPIENTS))
    spread_s = max(0.0, float(args.spread_ms)) / 1000.0

    backends = [Backend("SQLite", None)]
    versions = f"SQLite {sqlite3.sqlite_version}"
    if not args.sqlite_only:
        try:
            versions += f", PostgreSQL {pg_version(args.pg_admin_url)}"
        except sqlalchemy.exc.OperationalError as error:
            print(
                f"PostgreSQL does not answer at {args.pg_admin_url} ({error.orig}); "
                "start it or pass --sqlite-only",
                file=sys.stderr,
            )
            return 1
        backends.append(Backend("PostgreSQL", args.pg_admin_url))
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {platform.node()}; "
        f"SQLAlchemy {sqlalchemy.__version__}; {versions}"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"create: {count:,} recipients; run: {run_count:,} recipients, calls lasting up to "
        f"{1000 * spread_s:g} ms; "
        f"{os.cpu_count()} CPUs, load average {load} (other work on the host inflates wall times)"
    )

    reference_before = reference_s()
    creates: dict[str, CreateResult] = {}
    runs: dict[str, RunResult] = {}
    with tempfile.TemporaryDirectory(prefix="faxcast-bench-") as tmp:
        for backend in backends:
            key = backend.name.lower()
            creates[backend.name] = bench_create(backend, Path(tmp) / f"{key}-create", count)
            runs[backend.name] = bench_run(backend, Path(tmp) / f"{key}-run", run_count, spread_s)
    reference_after = reference_s()
    print_create(creates)
    print_run(runs)
    print_verdicts(creates, runs, count)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nReference: sum(range(10**8)) takes {reference_before:.2f} s before the runs and "
        f"{reference_after:.2f} s after them in this interpreter (best of 3 each); "
        f"load average {load} at the end"
    )
    failed = False
    for name, r in runs.items():
        for message in r.errors[:SHOWN_ERRORS]:
            print(f"{name}: a worker step raised: {message}", file=sys.stderr)
        if len(r.errors) > SHOWN_ERRORS:
            print(f"{name}: and {len(r.errors) - SHOWN_ERRORS} more errors", file=sys.stderr)
        if r.problem is not None:
            print(f"FAILED on {name}: {r.problem}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
