"""Alembic environment: runs faxcast's migrations on the connection faxcast.store.migrate passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from faxcast.store.migrate import include_object
from faxcast.store.tables import metadata


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or not isinstance(connection, Connection):
        raise RuntimeError(
            "faxcast migrations run through faxcast.store.migrate, which passes a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object(connection.dialect.name),
    )
    # migrate.py holds the connection inside one transaction, so this block only marks the span.
    with context.begin_transaction():
        context.run_migrations()


_run()
