"""Engines for the two databases: SQLite (one file, the default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry

from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.store.sql import PLAN_EACH_RUN

SQLITE_FILE_NAME = "faxcast.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_POSTGRESQL_DRIVERS = {"postgresql", "postgresql+psycopg"}

# Applied to every new SQLite connection, outside any transaction (journal_mode cannot change inside
# one). WAL lets readers run beside the single writer; NORMAL is durable across application crashes
# in WAL mode and only risks the last commits on power loss.
_SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
)
_SQLITE_RETRY_S = 0.005


def database_url_for(data_dir: Path) -> str:
    """The default database: a SQLite file in the data directory."""
    return URL.create("sqlite", database=str(data_dir / SQLITE_FILE_NAME)).render_as_string()


def create_engine_for(url: str) -> Engine:
    """An engine for a sqlite:// or postgresql:// URL, set up as faxcast needs it."""
    parsed = _parse(url)
    if parsed.drivername in _SQLITE_DRIVERS:
        return _sqlite_engine(parsed)
    # psycopg 3 whatever the URL says: SQLAlchemy's bare "postgresql" means psycopg2.
    # TimeZone=UTC so that timestamps SQL computes itself (now(), date_trunc) are UTC too.
    engine = create_engine(
        parsed.set(drivername="postgresql+psycopg"),
        pool_pre_ping=True,
        connect_args={"options": "-c TimeZone=UTC"},
    )

    @event.listens_for(engine, "do_execute")
    def _on_execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
        # psycopg prepares a statement run often, and the server then may keep one plan for it;
        # these are planned at each run, for the table's size now (sql.PLAN_EACH_RUN).
        if context.execution_options.get(PLAN_EACH_RUN):
            cursor.execute(statement, parameters, prepare=False)
            return True
        return None

    return engine


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(codes.NOT_A_DATABASE_URL(), field=Field.DATABASE_URL) from None
    if parsed.drivername not in _SQLITE_DRIVERS | _POSTGRESQL_DRIVERS:
        raise InputError(
            codes.UNSUPPORTED_DATABASE(driver=parsed.drivername), field=Field.DATABASE_URL
        )
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # isolation_level None stops the sqlite3 module from opening transactions itself
        # (it would open a deferred one, and only before DML); _on_begin opens them instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                _execute_retrying_lock(cursor, pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: Any) -> None:
        # SQLAlchemy's isolation-level reset (after an isolation_level execution option) puts
        # the sqlite3 module back in charge of BEGIN; take it back for every checkout.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        # IMMEDIATE takes the write lock at BEGIN, waiting up to busy_timeout for it. A deferred
        # transaction that reads and then writes must upgrade its lock, and in WAL mode that
        # fails at once with SQLITE_BUSY if another writer committed since it began reading.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _execute_retrying_lock(cursor: Any, statement: str) -> None:
    # Switching a file to WAL fails at once with "database is locked" when other processes open
    # the same new file together: SQLite does not call the busy handler there, so wait here.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute(statement).fetchall()
        except sqlite3.OperationalError as exc:
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(_SQLITE_RETRY_S)
        else:
            return
