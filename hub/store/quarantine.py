"""Quarantine: records that could not be mapped, with their reason, replayable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from core.schema import utcnow
from hub.store.sql import upsert
from hub.store.tables import quarantine


@dataclass
class QuarantineEntry:
    """A record that could not be mapped: its raw row, failing field and the reason."""

    raw_id: int
    source: str
    external_id: str
    field: str | None
    reason: str
    mapping_version: str | None


def put(conn: Connection, entries: list[QuarantineEntry]) -> None:
    """Quarantine records (a record quarantined again counts another attempt)."""
    if not entries:
        return
    now = utcnow()
    stmt = upsert(conn, quarantine, ["raw_id"], ["field", "reason", "mapping_version", "created_at", "state"])
    rows = [{"raw_id": e.raw_id, "source": e.source, "external_id": e.external_id, "field": e.field,
             "reason": e.reason[:4000], "mapping_version": e.mapping_version, "created_at": now,
             "state": "open"} for e in entries]
    existing = set(conn.execute(select(quarantine.c.raw_id).where(
        quarantine.c.raw_id.in_([r["raw_id"] for r in rows]))).scalars())
    conn.execute(stmt, rows)
    if existing:
        conn.execute(update(quarantine).where(quarantine.c.raw_id.in_(existing))
                     .values(attempts=quarantine.c.attempts + 1))


def list_open(conn: Connection, source: str | None = None, limit: int | None = 100, state: str = "open") -> list[Any]:
    """Quarantine rows in `state` (open by default), oldest first, optionally of one source."""
    q = select(quarantine).where(quarantine.c.state == state)
    if source:
        q = q.where(quarantine.c.source == source)
    return list(conn.execute(q.order_by(quarantine.c.id).limit(limit)).all())


def get(conn: Connection, qid: int) -> Any:
    """One quarantine row by id, or None."""
    return conn.execute(select(quarantine).where(quarantine.c.id == qid)).one_or_none()


def mark_replayed(conn: Connection, raw_ids: list[int]) -> None:
    """Mark the open quarantine rows of these raw records as replayed."""
    if raw_ids:
        conn.execute(update(quarantine).where(quarantine.c.raw_id.in_(raw_ids), quarantine.c.state == "open")
                     .values(state="replayed", resolved_at=utcnow()))


def count_open(conn: Connection) -> int:
    """How many quarantine rows are open."""
    return conn.execute(select(func.count()).select_from(quarantine)
                        .where(quarantine.c.state == "open")).scalar_one()
