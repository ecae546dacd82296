"""index a customer's tickets with what sticky routing reads: the history of a batch from the index alone

Revision ID: 0016_ix_phone_history
Revises: 0015_ix_open_load
Create Date: 2026-12-02 00:10:00
"""
from alembic import op

revision = "0016_ix_phone_history"
down_revision = "0015_ix_open_load"
branch_labels = None
depends_on = None

#: what `Assigner.load_history` selects and filters on, after the (phone_hash, received_at) it seeks by
HISTORY = ["phone_hash", "received_at", "kind", "team", "handler", "first_handler", "sub_category", "case_id",
           "ticket_id"]


def upgrade() -> None:
    """Replace the (phone_hash, received_at) index with one that also holds the history columns."""
    # every enrich batch reads the earlier tickets of its customers (180 days, up to 200 each): 14.8k
    # rows for 2,000 new tickets in a 1M store, each a table-row lookup through the narrow index —
    # 130-180 ms a batch; from this index alone 57-63 ms (`bench/enrich.py --stored 10000 1000000`:
    # 950 → 1,024 tickets/CPU-s at 1M, 10k unchanged). Its prefix serves every phone look-up.
    op.create_index("ix_tickets_phone_history", "tickets", HISTORY, unique=False)
    op.drop_index("ix_tickets_phone_hash", table_name="tickets")


def downgrade() -> None:
    """Back to the (phone_hash, received_at) index."""
    op.create_index("ix_tickets_phone_hash", "tickets", ["phone_hash", "received_at"], unique=False)
    op.drop_index("ix_tickets_phone_history", table_name="tickets")
