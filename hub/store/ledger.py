"""Push ledgers: the memory of pushes that sources cannot deduplicate themselves (SMS).

`StorePushLedger` writes the `push_ledger` table, each mark in its own short
transaction so it is durable before the connector acts on the source; the push
flow hands it to `make_connector(..., ledger=...)`. `MemoryPushLedger` is the
same thing in memory (scripts, tests).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.schema import Source, utcnow
from hub.store.db import Store
from hub.store.sql import upsert
from hub.store.tables import push_ledger


class StorePushLedger:
    """`connectors.base.PushLedger` over the store's `push_ledger` table."""

    def __init__(self, store: Store, source: Source | str | None = None):
        self.store = store
        # The table wants a source per row; a ledger shared by all sources records "-".
        self.source = Source(source) if source else "-"

    def get(self, key: str) -> dict[str, Any] | None:
        """`{"state", "remote_ref", "updated_at"}` for a key, or None when never marked."""
        with self.store.begin() as conn:
            row = conn.execute(select(push_ledger).where(push_ledger.c.idempotency_key == key)).first()
        if row is None:
            return None
        return {"state": row.state, "remote_ref": row.remote_ref, "updated_at": row.updated_at,
                "source": row.source}

    def mark(self, key: str, state: str, remote_ref: str | None = None) -> None:
        """Record `sending` before acting on the source and `sent` after it answered."""
        with self.store.begin() as conn:
            conn.execute(upsert(conn, push_ledger, ["idempotency_key"], ["state", "remote_ref", "updated_at"]),
                         {"idempotency_key": key, "source": self.source, "state": state,
                          "remote_ref": remote_ref, "updated_at": utcnow()})


class MemoryPushLedger:
    """An in-memory PushLedger (one process)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """A copy of the key's entry, or None when never marked."""
        return dict(self.entries[key]) if key in self.entries else None

    def mark(self, key: str, state: str, remote_ref: str | None = None) -> None:
        """Record the key's state and remote reference."""
        self.entries[key] = {"state": state, "remote_ref": remote_ref, "updated_at": utcnow()}
