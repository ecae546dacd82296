"""index tickets by ID-number hash (case linking looks customers up by it)

Revision ID: 0007_ix_id_hash
Revises: 0001
Create Date: 2026-11-23 07:30:00
"""
from alembic import op

revision = "0007_ix_id_hash"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the (id_hash, received_at) index on tickets."""
    # without it the id_hash lookup of every normalise batch scans the whole window: O(n) per batch
    op.create_index("ix_tickets_id_hash", "tickets", ["id_hash", "received_at"], unique=False)


def downgrade() -> None:
    """Drop the (id_hash, received_at) index."""
    op.drop_index("ix_tickets_id_hash", table_name="tickets")
