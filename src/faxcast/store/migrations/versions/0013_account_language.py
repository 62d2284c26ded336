"""Each account's language, the one its faxes' header line is written in.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the language; accounts made before write French, the server's default."""
    op.add_column(
        "accounts", sa.Column("language", sa.String(8), nullable=False, server_default="fr")
    )


def downgrade() -> None:
    """Without the language: headers are as the engine writes them."""
    op.drop_column("accounts", "language")
