"""Shared pytest set-up. tests/ is a package: helpers are imported as `from tests import pdfs`.

Databases: every test that asks for one gets its own, already migrated, copied from a template that
is migrated once per session (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, make_url

from faxcast.store.database import SQLITE_FILE_NAME, create_engine_for, database_url_for
from faxcast.store.migrate import upgrade

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_PG_START_TIMEOUT_S = 30.0
DATABASES = ["sqlite", "postgresql"]


def _pg_answers() -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2
        ):
            return True
    except psycopg.OperationalError:
        return False


def _start_pg() -> str:
    """Start the local cluster; returns what pg_ctlcluster said, for the failure message."""
    try:
        versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: int(v) if v.isdigit() else 0)
    except OSError as exc:
        return f"no PostgreSQL cluster configured ({exc})"
    if not versions:
        return "no PostgreSQL cluster configured in /etc/postgresql"
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{' '.join(command)}: {exc}"
    return f"{' '.join(command)} exited {done.returncode}: {(done.stdout + done.stderr).strip()}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    """PostgreSQL at 127.0.0.1:5432 (started if down; the run fails if it cannot be): admin URL."""
    if _pg_answers():
        return PG_ADMIN_URL
    report = _start_pg()
    deadline = time.monotonic() + _PG_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _pg_answers():
            return PG_ADMIN_URL
        time.sleep(0.2)
    pytest.fail(
        f"PostgreSQL does not answer at 127.0.0.1:5432 and could not be started ({report}); "
        "the integration tests need it",
        pytrace=False,
    )


def _pg_url(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin_engine(pg_server: str) -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server's `postgres` database, for CREATE/DROP DATABASE."""
    engine = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@contextmanager
def _pg_database(admin: Engine, name: str, template: str) -> Iterator[str]:
    """Create database `name` from `template`, yield its URL, then drop it whoever still uses it."""
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(admin.url.render_as_string(hide_password=False), name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template(pg_admin_engine: Engine) -> Iterator[str]:
    """Name of this session's migrated template database, faxcast_template_<pid>."""
    name = f"faxcast_template_{os.getpid()}"
    with pg_admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with _pg_database(pg_admin_engine, name, "template0") as url:
        engine = create_engine_for(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        # CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template.
        with pg_admin_engine.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        yield name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This session's migrated SQLite template file, copied by every SQLite test."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    engine = create_engine_for(database_url_for(directory))
    try:
        upgrade(engine)
    finally:
        # Closing the last connection checkpoints the WAL into the main file.
        engine.dispose()
    path = directory / SQLITE_FILE_NAME
    leftovers = [p.name for p in directory.iterdir() if p != path]
    assert not leftovers, f"the SQLite template left {leftovers}: a copy would miss them"
    return path


@pytest.fixture
def sqlite_database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database, tmp_path/faxcast.db (tmp_path is its data dir)."""
    shutil.copyfile(sqlite_template, tmp_path / SQLITE_FILE_NAME)
    return database_url_for(tmp_path)


@pytest.fixture
def postgresql_database_url(pg_admin_engine: Engine, pg_template: str) -> Iterator[str]:
    """A fresh migrated PostgreSQL database for this test, faxcast_test_<uuid>, dropped after it."""
    with _pg_database(pg_admin_engine, f"faxcast_test_{uuid.uuid4().hex}", pg_template) as url:
        yield url


@pytest.fixture(params=DATABASES, ids=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database for this test; the test runs once on SQLite, once on PostgreSQL."""
    return cast(str, request.getfixturevalue(f"{request.param}_database_url"))


@pytest.fixture(params=DATABASES, ids=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all (for migration tests), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield database_url_for(tmp_path)
        return
    admin = cast(Engine, request.getfixturevalue("pg_admin_engine"))
    with _pg_database(admin, f"faxcast_test_{uuid.uuid4().hex}", "template0") as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """create_engine_for(database_url), disposed after the test; runs on both databases."""
    engine = create_engine_for(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_database_url: str) -> Iterator[Engine]:
    """An engine on a fresh migrated SQLite database, for tests that need only one database."""
    engine = create_engine_for(sqlite_database_url)
    yield engine
    engine.dispose()
