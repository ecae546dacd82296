"""Saved queue filters per console user (issue 18)

Revision ID: 0012_saved_searches
Revises: 0011_ticket_signatures
Create Date: 2026-12-01 16:40:00

- `saved_searches`: (username, name) → the filter keys of the queue (status, urgency, source,
  business line, deadline, date range). The search text is never stored: it may be a phone number.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_saved_searches"
down_revision = "0011_ticket_signatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the saved_searches table."""
    op.create_table(
        "saved_searches",
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "name", name="pk_saved_searches"),
    )


def downgrade() -> None:
    """Drop the saved_searches table."""
    op.drop_table("saved_searches")
