"""the judgement's two axes on tickets: business line, and whether a person must review it

Revision ID: 0009_judgement_axes
Revises: 0008_sqlite_time_text
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_judgement_axes"
down_revision = "0008_sqlite_time_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add tickets.business_line and tickets.needs_review (routing and reports read them)."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("business_line", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("needs_review", sa.Boolean(), server_default="0", nullable=False))
    op.create_index("ix_tickets_business_line", "tickets", ["business_line"], unique=False)


def downgrade() -> None:
    """Drop the two columns."""
    op.drop_index("ix_tickets_business_line", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("needs_review")
        batch.drop_column("business_line")
