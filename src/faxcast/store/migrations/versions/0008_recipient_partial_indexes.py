"""Storing a large list writes less: the in-call and held indexes are partial, no line key.

The indexes only rows in a call or held need get no entry for a new list's pending rows, and the
recipient's line is no longer checked against lines: its campaign's foreign key implies it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_IN_CALL = "state = 'in_call'"
_HELD = "held_until IS NOT NULL"


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(
        op.f(name),
        "recipients",
        columns,
        unique=False,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    """Partial in-call and held indexes; the line's foreign key dropped."""
    with op.batch_alter_table("recipients") as batch:
        batch.drop_constraint(op.f("fk_recipients_line_id_lines"), type_="foreignkey")
    op.drop_index(op.f("ix_recipients_state_due_at"), table_name="recipients")
    op.drop_index(op.f("ix_recipients_line_id_state"), table_name="recipients")
    op.drop_index(op.f("ix_recipients_held_until_line_id"), table_name="recipients")
    _partial("ix_recipients_lease_expires_at", ["lease_expires_at"], _IN_CALL)
    _partial("ix_recipients_line_id", ["line_id"], _IN_CALL)
    _partial("ix_recipients_held_until_line_id", ["held_until", "line_id"], _HELD)


def downgrade() -> None:
    """Full indexes and the line's foreign key again."""
    op.drop_index(op.f("ix_recipients_held_until_line_id"), table_name="recipients")
    op.drop_index(op.f("ix_recipients_line_id"), table_name="recipients")
    op.drop_index(op.f("ix_recipients_lease_expires_at"), table_name="recipients")
    op.create_index(
        op.f("ix_recipients_held_until_line_id"), "recipients", ["held_until", "line_id"]
    )
    op.create_index(op.f("ix_recipients_line_id_state"), "recipients", ["line_id", "state"])
    op.create_index(op.f("ix_recipients_state_due_at"), "recipients", ["state", "due_at"])
    with op.batch_alter_table("recipients") as batch:
        batch.create_foreign_key(
            op.f("fk_recipients_line_id_lines"), "lines", ["line_id"], ["id"], ondelete="CASCADE"
        )
