"""Bounded look-ups of a customer's tickets: at most N most recent per key, by index.

Case linking and sticky routing read the earlier tickets of a batch's customers. A
few customers complain hundreds of times; reading all of their history makes a
batch's cost grow with the store. `recent_rows` first counts each key's tickets
in the time window (an index-only scan of `ix_tickets_phone_history` /
`ix_tickets_id_hash`), fetches the keys within the bound in one query, and each
key above it with its own `ORDER BY received_at DESC LIMIT n` (the same index).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from hub.store.sql import chunks
from hub.store.tables import tickets


def recent_rows(conn: Connection, key: Any, values: Iterable[str], cols: Sequence[Any], lo: datetime | None,
                hi: datetime | None, limit: int, where: Sequence[Any] = ()) -> list[Any]:
    """Ticket rows (`cols`) whose `key` column is one of `values`, received in [lo, hi]:
    per key value at most `limit`, the most recent ones. `where` filters the rows further
    (applied after the count, so a key is bounded by its tickets of every kind)."""
    c = tickets.c
    window = ([c.received_at >= lo] if lo is not None else []) + ([c.received_at <= hi] if hi is not None else [])
    out: list[Any] = []
    for part in chunks(sorted(set(values)), 500):
        counts = conn.execute(select(key, func.count()).where(key.in_(part), *window).group_by(key)).all()
        light = [v for v, n in counts if n <= limit]
        if light:
            out += conn.execute(select(*cols).where(key.in_(light), *window, *where)).all()
        for v in (v for v, n in counts if n > limit):
            out += conn.execute(select(*cols).where(key == v, *window, *where)
                                .order_by(c.received_at.desc()).limit(limit)).all()
    return out
