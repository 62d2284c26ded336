"""Each recipient's entry as the user typed it, shown beside the number it became.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the typed entry; recipients stored before have none (the number is shown alone)."""
    op.add_column("recipients", sa.Column("typed", sa.Text(), nullable=True))


def downgrade() -> None:
    """Without the typed entries: numbers are shown as stored."""
    op.drop_column("recipients", "typed")
