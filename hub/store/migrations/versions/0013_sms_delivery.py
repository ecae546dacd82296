"""SMS delivery reports on the outbox row, and where the report feed was read up to (issue 17)

Revision ID: 0013_sms_delivery
Revises: 0012_saved_searches
Create Date: 2026-12-01 18:00:00

- `outbox.delivery` (delivered | failed, NULL while no report came), `delivery_at` (the
  gateway's report time), `delivery_status` (its status / error code, e.g. `UNDELIV/UNSUBSCRIBED`):
  a row `sent` to the gateway is not yet a message on the customer's phone.
- `ix_outbox_delivery` (kind, state, delivery): the drain asks "any SMS sent and still without a
  report?" before it reads the gateway's feed; the `hub outbox` figure counts failed deliveries.
- `delivery_cursors`: per SMS source, the gateway's position in its delivery-report feed.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_sms_delivery"
down_revision = "0012_saved_searches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the delivery columns and index to outbox; create delivery_cursors."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("delivery", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("delivery_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivery_status", sa.String(length=80), nullable=True))
    op.create_index("ix_outbox_delivery", "outbox", ["kind", "state", "delivery"], unique=False)
    op.create_table(
        "delivery_cursors",
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_delivery_cursors"),
    )


def downgrade() -> None:
    """Drop delivery_cursors and the delivery columns."""
    op.drop_table("delivery_cursors")
    op.drop_index("ix_outbox_delivery", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("delivery_status")
        batch.drop_column("delivery_at")
        batch.drop_column("delivery")
