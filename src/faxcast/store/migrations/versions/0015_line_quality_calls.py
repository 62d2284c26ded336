"""Each line's default send quality and its limit on calls per recipient.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add both; lines made before send at normal quality and follow the server's policy."""
    op.add_column(
        "lines", sa.Column("quality", sa.String(16), nullable=False, server_default="normal")
    )
    op.add_column("lines", sa.Column("max_calls", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Without them: every line follows the server's policy, campaigns say their quality."""
    op.drop_column("lines", "max_calls")
    op.drop_column("lines", "quality")
