"""Each attempt names the claim its call was placed under, once: result writes are idempotent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the claim's time; the unique index on it replaces the index of recipients alone."""
    op.add_column("attempts", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index(op.f("ix_attempts_recipient_id"), table_name="attempts")
    # Attempts written before have no claim time: NULLs never collide in a unique index.
    op.create_index(
        op.f("ix_attempts_recipient_id_claimed_at"),
        "attempts",
        ["recipient_id", "claimed_at"],
        unique=True,
    )


def downgrade() -> None:
    """Without the claim's time: a retried write may leave a second attempt again."""
    op.drop_index(op.f("ix_attempts_recipient_id_claimed_at"), table_name="attempts")
    op.create_index(op.f("ix_attempts_recipient_id"), "attempts", ["recipient_id"], unique=False)
    op.drop_column("attempts", "claimed_at")
