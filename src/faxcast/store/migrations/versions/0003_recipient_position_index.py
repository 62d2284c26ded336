"""A campaign's recipients are read a page at a time, in list order, along an index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """One position per recipient of a campaign, indexed for the details' pages."""
    op.create_index(
        op.f("ix_recipients_campaign_id_position"),
        "recipients",
        ["campaign_id", "position"],
        unique=True,
    )


def downgrade() -> None:
    """Without the index."""
    op.drop_index(op.f("ix_recipients_campaign_id_position"), table_name="recipients")
