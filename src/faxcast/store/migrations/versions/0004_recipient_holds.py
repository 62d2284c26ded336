"""A recovered call whose holder may still be calling holds its channel and number a while.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the hold's end and the index that finds the holds in force."""
    op.add_column("recipients", sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        op.f("ix_recipients_held_until_line_id"),
        "recipients",
        ["held_until", "line_id"],
        unique=False,
    )


def downgrade() -> None:
    """Without holds."""
    op.drop_index(op.f("ix_recipients_held_until_line_id"), table_name="recipients")
    op.drop_column("recipients", "held_until")
