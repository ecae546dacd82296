"""A store lease per source: one sync of a source at a time even where Prefect's limit does not reach (issue 17)

Revision ID: 0014_sync_leases
Revises: 0013_sms_delivery
Create Date: 2026-12-01 18:10:00

- `sync_leases`: per source, who holds it (`host:pid:token`), since when and until when. A holder
  renews `expires_at` while it runs; a holder that died is taken over once it expired
  (hub/store/sync_lease.py).
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_sync_leases"
down_revision = "0013_sms_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create sync_leases."""
    op.create_table(
        "sync_leases",
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("holder", sa.String(120), nullable=True),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source", name="pk_sync_leases"),
    )


def downgrade() -> None:
    """Drop sync_leases."""
    op.drop_table("sync_leases")
