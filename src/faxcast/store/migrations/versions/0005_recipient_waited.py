"""The time a recipient's retries waited, due, before being called: the kill time skips it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the time waited, none so far for every recipient."""
    op.add_column(
        "recipients", sa.Column("waited_s", sa.Float(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    """Without the time waited: the kill time counts from the first dial again."""
    op.drop_column("recipients", "waited_s")
