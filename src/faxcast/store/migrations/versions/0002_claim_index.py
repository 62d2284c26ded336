"""Recipients are claimed along an index in claim order, not sorted at every claim.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Widen the (campaign, state) index with the due time and the id."""
    op.create_index(
        op.f("ix_recipients_campaign_id_state_due_at_id"),
        "recipients",
        ["campaign_id", "state", "due_at", "id"],
        unique=False,
    )
    op.drop_index(op.f("ix_recipients_campaign_id_state"), table_name="recipients")


def downgrade() -> None:
    """Back to the (campaign, state) index."""
    op.create_index(
        op.f("ix_recipients_campaign_id_state"),
        "recipients",
        ["campaign_id", "state"],
        unique=False,
    )
    op.drop_index(op.f("ix_recipients_campaign_id_state_due_at_id"), table_name="recipients")
