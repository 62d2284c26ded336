"""A sip line's settings: one JSON text column, and the trunk's password in a column of its own.

One JSON column rather than twenty: the settings belong to one kind of line (null for every
sandbox line), are read and written whole, never searched, and will grow with the SIP layer
without a migration each time. It is text, encoded by the repository, so both databases and the
queue's plain SQL (`SELECT * FROM lines`) read back the same thing. The password stays out of
it, so the settings document can be read, copied or logged without it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Add the settings and the password, empty for every existing (sandbox) line."""
    op.add_column("lines", sa.Column("sip", sa.Text(), nullable=True))
    op.add_column("lines", sa.Column("sip_password", sa.Text(), nullable=True))


def downgrade() -> None:
    """Without SIP settings: sip lines lose theirs."""
    op.drop_column("lines", "sip_password")
    op.drop_column("lines", "sip")
