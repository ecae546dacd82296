"""Bulk writes on the ingest hot path without SQLAlchemy's per-row parameter machinery.

Core's executemany spends more time per row building and processing parameter
dicts than SQLite spends storing them. On SQLite `executemany` compiles the
statement once, converts each row with the columns' dialect bind processors (the very
conversions Core applies: UTC datetimes, JSON, booleans, binaries — the same stored text,
tested) into a tuple and hands the tuples to the driver's executemany. Other dialects, and any statement
whose binds the rows do not fully cover, take the ordinary `conn.execute` path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable

from hub.store.tables import UtcDateTime


def executemany(conn: Connection, stmt: Executable, rows: Sequence[dict[str, Any]]) -> int:
    """Execute `stmt` once per row dict; the number of rows it changed (SQLite: exact sum).

    On other dialects the count is what the driver reports (may be -1): callers that
    need it exactly check `conn.dialect.name == "sqlite"` first.
    """
    if not rows:
        return 0
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt, list(rows)).rowcount
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
    names = compiled.positiontup
    if names is None or any(n not in rows[0] for n in names):
        # a bind the rows do not carry (a Python-side default, say): let Core fill it in
        return conn.execute(stmt, list(rows)).rowcount
    procs = [_processor(compiled.binds[n].type, conn.dialect) for n in names]
    plan = list(zip(names, procs, strict=True))
    params = [tuple(r[n] if p is None else p(r[n]) for n, p in plan) for r in rows]  # None too, as Core does
    return conn.exec_driver_sql(compiled.string, params).rowcount


def _processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The conversion Core applies to a column's values (the dialect's own type's), for UTC
    timestamps the same text in one call."""
    if isinstance(type_, UtcDateTime):
        return UtcDateTime.sqlite_text
    return type_.dialect_impl(dialect).bind_processor(dialect)
