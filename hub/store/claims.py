"""Row claims for routing: a transaction that routes tickets holds their rows until it commits.

PostgreSQL: `SELECT … FOR UPDATE` in ticket-id order (no deadlock between two routers);
a second router waits, then reads the first one's result and re-judges instead of
routing again. A router that dies holds nothing: the server drops its locks with its
connection, so the next run of anything can route what it left — no lease to wait out.
SQLite: `BEGIN IMMEDIATE` (hub.store.db) already gives the transaction the write lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from hub.store.tables import tickets


def lock_tickets(conn: Connection, ids: Sequence[str]) -> None:
    """Hold these ticket rows for the caller's transaction (PostgreSQL; a no-op where the transaction holds the store)."""
    if not ids or conn.dialect.name != "postgresql":
        return
    q = select(tickets.c.ticket_id).where(tickets.c.ticket_id.in_(list(ids))).order_by(tickets.c.ticket_id)
    conn.execute(q.with_for_update()).all()
