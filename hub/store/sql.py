"""Small dialect helpers shared by the repository modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, index_elements: list[str] | None = None) -> Any:
    """An INSERT that skips rows violating a unique constraint (both dialects)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)


def upsert(conn: Connection, table: Table, keys: list[str], update_cols: list[str]) -> Any:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET update_cols = excluded (both dialects)."""
    mod = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = mod.insert(table)
    return stmt.on_conflict_do_update(index_elements=keys,
                                      set_={c: getattr(stmt.excluded, c) for c in update_cols})


def one_of(conn: Connection, column: Any, values: list[Any]) -> Any:
    """`column IN values` — on PostgreSQL as `= ANY(array)`: one bind parameter, so the
    statement compiles and plans once, instead of once per list length (~2x faster for
    the 500-value look-ups of every ingest page)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, value=list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """`items` cut into consecutive lists of at most `size`."""
    return [items[i:i + size] for i in range(0, len(items), size)]
