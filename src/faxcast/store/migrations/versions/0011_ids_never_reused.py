"""A deleted object's id is never given again on SQLite either: its tables use AUTOINCREMENT.

Without it SQLite gives the next row max(id) + 1, so deleting the newest campaign hands its id
to the next one created, and a script, a bookmark or another tab acting on that id acts on
someone else's campaign. SQLite sets AUTOINCREMENT only when a table is created: the tables whose
ids users see are rebuilt, their rows and ids kept; the sequence starts at their largest id.
PostgreSQL's sequences never reuse a number: nothing to do there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# Parents before children, as 0001 created them.
_TABLES = (
    "accounts",
    "users",
    "api_tokens",
    "audit_events",
    "lines",
    "documents",
    "campaigns",
    "attempts",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    """SQLite: the tables rebuilt with AUTOINCREMENT; PostgreSQL: nothing."""
    _rebuild(autoincrement=True)


def downgrade() -> None:
    """SQLite: the tables rebuilt without AUTOINCREMENT; PostgreSQL: nothing."""
    _rebuild(autoincrement=False)
