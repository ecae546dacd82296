"""Each ticket's case-linking signature, stored once (issue 19)

Revision ID: 0011_ticket_signatures
Revises: 0010_revocable_access
Create Date: 2026-12-01 16:20:00

- `ticket_signatures`: the MinHash signature, shingle count, topics and amounts of a ticket's
  matter (encrypted like the free text they come from: amounts may be phone numbers) (hub/pipeline/dedupe.py), keyed by ticket and valid for one raw record (`raw_hash`) and
  one similarity configuration (`config_key`): case linking reads it instead of decrypting and
  re-describing a customer's earlier tickets on every batch.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_ticket_signatures"
down_revision = "0010_revocable_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the signature table (filled as tickets are linked; a missing row is computed then)."""
    op.create_table(
        "ticket_signatures",
        sa.Column("ticket_id", sa.String(40), nullable=False),
        sa.Column("raw_hash", sa.String(64), nullable=False),
        sa.Column("config_key", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("descriptor", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_ticket_signatures"),
    )


def downgrade() -> None:
    """Drop the signature table."""
    op.drop_table("ticket_signatures")
