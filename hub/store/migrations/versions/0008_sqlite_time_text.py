"""SQLite: one text form for stored times

Revision ID: 0008_sqlite_time_text
Revises: 0007_ix_id_hash
Create Date: 2026-11-23 09:10:00

Rows written by the bulk writer before this revision stored whole-second times as
`2026-11-01 00:04:29`, while Core writes `2026-11-01 00:04:29.000000`. SQLite
compares these as text, so a time stored the short way sorted before the very same
time as a query parameter (a report day starting at midnight missed a ticket received
at midnight). The short form gets its microseconds. PostgreSQL stores real timestamps:
nothing to do there.
"""
from alembic import op

revision = "0008_sqlite_time_text"
down_revision = "0007_ix_id_hash"
branch_labels = None
depends_on = None

#: the timestamp columns the bulk writer fills (raw records, new tickets, ticket events)
COLUMNS = {
    "raw_records": ["fetched_at", "landed_at"],
    "tickets": ["received_at", "ingested_at", "updated_at", "resolved_at", "next_due_at"],
    "ticket_events": ["at"],
}


def upgrade() -> None:
    """On SQLite, give whole-second times of the bulk writer their microseconds."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in COLUMNS.items():
        for col in columns:
            op.execute(f"UPDATE {table} SET {col} = {col} || '.000000' WHERE length({col}) = 19")  # noqa: S608


def downgrade() -> None:
    """Nothing to undo: times keep the long form Core writes anyway."""
    pass  # the long form is what Core writes anyway
