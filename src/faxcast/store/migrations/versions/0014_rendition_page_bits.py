"""Each rendition's page bits on the line, from which a call's watchdog is sized.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the page bits; renditions stored before get theirs from their TIFF at the next start
    (services.documents.measure_renditions), which can read the blobs where they are kept."""
    op.add_column("renditions", sa.Column("page_bits", sa.Text(), nullable=True))


def downgrade() -> None:
    """Without the page bits: the watchdog of older faxcast counts pages alone."""
    op.drop_column("renditions", "page_bits")
