"""Engines on a real SQLite file and a real PostgreSQL: pragmas, locks, foreign keys, UTC times."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, StatementError

from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.store import queue
from faxcast.store.database import create_engine_for, database_url_for
from faxcast.store.tables import accounts, lines

PARIS_SUMMER = timezone(timedelta(hours=2))


def _account(name: str = "acme", created_at: datetime | None = None) -> dict[str, object]:
    return {
        "name": name,
        "timezone": "Europe/Paris",
        "created_at": created_at or datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    }


def _sqlite_file(engine: Engine) -> str:
    database = engine.url.database
    assert database is not None
    return database


def test_database_url_for_names_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    url = make_url(database_url_for(tmp_path / "data dir?x"))
    assert url.drivername == "sqlite"
    assert url.database == str(tmp_path / "data dir?x" / "faxcast.db")


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/faxcast", "postgresql+psycopg2://u@h/db", "not a url"]
)
def test_unknown_database_urls_are_refused(url: str) -> None:
    with pytest.raises(InputError) as refused:
        create_engine_for(url)
    assert refused.value.field is Field.DATABASE_URL


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgresql+psycopg://u@h/db"])
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    engine = create_engine_for(url)
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_sqlite_connections_get_faxcast_pragmas(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("foreign_keys", "journal_mode", "busy_timeout", "synchronous")
        }
    assert pragmas == {
        "foreign_keys": 1,
        "journal_mode": "wal",
        "busy_timeout": 30_000,
        "synchronous": 1,  # NORMAL
    }


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    line = {
        "account_id": 999,
        "name": "main",
        "kind": "sandbox",
        "country": "FR",
        "ident": "+33100000000",
        "header": "ACME",
        "channel_limit": 4,
        "created_at": datetime.now(UTC),
    }
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(lines).values(line))


def test_rollback_undoes_every_statement_of_the_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(insert(accounts).values(_account("one")))
        conn.execute(insert(accounts).values(_account("two")))
        conn.rollback()
        assert conn.execute(select(func.count()).select_from(accounts)).scalar() == 0


def test_sqlite_transactions_take_the_write_lock_at_begin(sqlite_engine: Engine) -> None:
    other = sqlite3.connect(_sqlite_file(sqlite_engine), timeout=0, isolation_level=None)
    try:
        with sqlite_engine.begin() as conn:
            conn.execute(select(accounts.c.id)).all()  # a read only: still holds the write lock
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_sqlite_autocommit_option_does_not_leak_into_later_transactions(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(insert(accounts).values(_account("autocommitted")))
    other = sqlite3.connect(_sqlite_file(sqlite_engine), timeout=0, isolation_level=None)
    try:
        with sqlite_engine.begin() as conn:
            # The driver is kept out of transaction control, whatever the last checkout did.
            assert getattr(conn.connection.dbapi_connection, "isolation_level", "") is None
            assert conn.execute(select(func.count()).select_from(accounts)).scalar() == 1
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_two_threads_read_then_write_the_same_sqlite_file(sqlite_engine: Engine) -> None:
    # Read-then-write is how a claim works; with deferred transactions one thread would get
    # "database is locked" when upgrading its read lock after the other thread committed.
    rounds = 40
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            start.wait()
            for i in range(rounds):
                with sqlite_engine.begin() as conn:
                    seen = conn.execute(select(func.count()).select_from(accounts)).scalar_one()
                    conn.execute(insert(accounts).values(_account(f"{name}-{i}-{seen}")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accounts)).scalar() == 2 * rounds


def _open_new_files(root: str, rounds: int, barrier: Any) -> None:
    for i in range(rounds):
        barrier.wait(timeout=20)
        engine = create_engine_for(database_url_for(Path(root) / str(i)))
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        finally:
            engine.dispose()


def test_processes_opening_a_new_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    # Switching a new file to WAL does not wait for the busy timeout by itself (first start of a
    # server and a CLI command, say).
    rounds, processes = 20, 4
    for i in range(rounds):
        (tmp_path / str(i)).mkdir()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    racers = [
        context.Process(target=_open_new_files, args=(str(tmp_path), rounds, barrier))
        for _ in range(processes)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
    assert [racer.exitcode for racer in racers] == [0] * processes


def test_aware_datetimes_come_back_as_aware_utc(engine: Engine) -> None:
    moment = datetime(2024, 3, 31, 3, 30, 15, 123456, tzinfo=PARIS_SUMMER)
    with engine.begin() as conn:
        conn.execute(insert(accounts).values(_account(created_at=moment)))
    with engine.connect() as conn:
        stored = conn.execute(select(accounts.c.created_at)).scalar_one()
        later = conn.execute(
            select(func.count())
            .select_from(accounts)
            .where(accounts.c.created_at > moment - timedelta(microseconds=1))
        ).scalar()
    assert stored == moment
    assert stored.tzinfo is UTC
    assert stored.hour == 1
    assert later == 1


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetimes") as refused, engine.begin() as conn:
        conn.execute(insert(accounts).values(_account(created_at=datetime(2024, 1, 1, 12))))
    assert isinstance(refused.value.orig, ValueError)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accounts)).scalar() == 0


def test_postgresql_plans_the_attempts_lookup_at_each_run(postgresql_database_url: str) -> None:
    # The attempts table grows from empty as calls end: a plan kept from its first batches would
    # read the whole table at every later one. psycopg prepares what runs 5 times; not this.
    engine = create_engine_for(postgresql_database_url)
    try:
        with engine.connect() as conn:
            for _ in range(8):
                queue.attempts_on_record(conn, [1, 2, 3])
                queue.heartbeat(conn, "worker-1", now=datetime(2024, 1, 2, tzinfo=UTC))
            prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
            texts = [" ".join(text.split()) for text in prepared.scalars()]
    finally:
        engine.dispose()

    assert any(text.startswith("UPDATE workers SET heartbeat_at") for text in texts)
    assert not any("FROM attempts" in text for text in texts)
