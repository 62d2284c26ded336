"""Schema migrations (Alembic) driven from code: no alembic.ini, the package carries its scripts.

Which revision a database is at, and the newest, are read without Alembic (store/revisions.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, ForeignKeyConstraint

from faxcast.store.revisions import MIGRATIONS_DIR
from faxcast.store.tables import TRIGGERS_ON

# Any constant shared by every faxcast process: hosts starting together migrate one at a time.
_POSTGRESQL_LOCK_KEY = 0x66617863  # "faxc"
# Alembic keeps the running migration in module globals (alembic.context, alembic.op).
_ALEMBIC_LOCK = threading.Lock()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision` (the newest by default), in one transaction."""
    _run(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision` ("base" removes every table), in one transaction."""
    _run(engine, lambda config: command.downgrade(config, revision))


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's include_object filter, comparing a `dialect` database with the metadata: a
    foreign key its migrations made triggers (tables.TRIGGERS_ON) is not looked for there."""

    def include(item: Any, _name: str | None, kind: str, reflected: bool, _other: Any) -> bool:
        if kind != "foreign_key_constraint" or reflected:
            return True
        elements = item.elements if isinstance(item, ForeignKeyConstraint) else ()
        return not any(element.info.get(TRIGGERS_ON) == dialect for element in elements)

    return include


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Without it Alembic warns that it falls back to legacy path splitting.
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _run(engine: Engine, step: Callable[[Config], None]) -> None:
    with _ALEMBIC_LOCK, engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite's own procedure for schema changes: with foreign keys on, the DROP TABLE of a
            # batch-mode table rebuild would cascade-delete the referencing rows. The pragma is a
            # no-op inside a transaction, so it goes straight to the driver, before BEGIN.
            _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_POSTGRESQL_LOCK_KEY})")
                step(_config(conn))
                if sqlite:
                    _check_sqlite_foreign_keys(conn)
        finally:
            if sqlite and not conn.invalidated:
                _sqlite_pragma(conn, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    cursor = conn.connection.cursor()
    try:
        cursor.execute(pragma)
    finally:
        cursor.close()


def _check_sqlite_foreign_keys(conn: Connection) -> None:
    violations = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if violations:
        shown = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in violations[:10])
        raise RuntimeError(f"migration broke {len(violations)} foreign keys: {shown}")
