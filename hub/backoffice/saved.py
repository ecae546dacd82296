"""A console user's saved queue filters: filter keys only, never the search text (it may be a phone)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from core.schema import utcnow
from hub.store.tables import saved_searches

#: the query-string keys a saved search keeps
KEYS = ("status", "urgency", "source", "line", "due", "from", "to", "closed")
MAX_PER_USER = 20


def save_search(conn: Connection, username: str, name: str, params: dict[str, str]) -> dict[str, str]:
    """Store (or replace) the user's search `name`; returns the filter keys kept (never `q`)."""
    kept = {k: v for k, v in params.items() if k in KEYS and v}
    conn.execute(delete(saved_searches).where(saved_searches.c.username == username, saved_searches.c.name == name))
    n = len(list_searches(conn, username))
    if n >= MAX_PER_USER:
        raise ValueError("too many saved searches")
    conn.execute(insert(saved_searches).values(username=username, name=name, params=kept, created_at=utcnow()))
    return kept


def list_searches(conn: Connection, username: str) -> list[tuple[str, dict[str, str]]]:
    """The user's saved searches as (name, filter keys), by name."""
    rows = conn.execute(select(saved_searches.c.name, saved_searches.c.params)
                        .where(saved_searches.c.username == username).order_by(saved_searches.c.name)).all()
    return [(r.name, dict(r.params or {})) for r in rows]
