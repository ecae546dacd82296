"""Bulk writes on the ingest hot path without SQLAlchemy's per-row parameter machinery.

Core's executemany spends more time per row building and processing parameter
dicts than the database spends storing them; on PostgreSQL an INSERT … RETURNING
of many rows is slower still. `executemany` compiles the statement once, converts
each row with the columns' dialect bind processors (the very conversions Core
applies: UTC datetimes, JSON, booleans, binaries — the same stored values, tested)
and hands the rows to the driver's own executemany: tuples to sqlite3, dicts to
psycopg (which pipelines them). Both drivers report the summed row count. Other
drivers, and a statement whose binds the rows do not fully cover, take the
ordinary `conn.execute` path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.dml import UpdateBase


def executemany(conn: Connection, stmt: UpdateBase, rows: Sequence[dict[str, Any]]) -> int:
    """Execute `stmt` once per row dict; the number of rows it changed.

    Exact on SQLite and on PostgreSQL (psycopg); on the ordinary path it is what
    the driver reports (may be -1), so callers that need it check the dialect.
    """
    if not rows:
        return 0
    dialect = conn.dialect
    if not counts_rows(conn):
        return conn.execute(stmt, list(rows)).rowcount
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
    names = compiled.positiontup if dialect.name == "sqlite" else list(compiled.binds)
    if names is None or any(n not in rows[0] for n in names):
        # a bind the rows do not carry (a Python-side default, say): let Core fill it in
        return conn.execute(stmt, list(rows)).rowcount
    plan = [(n, _processor(compiled.binds[n].type, dialect)) for n in names]
    params: list[Any]
    if dialect.name == "sqlite":  # qmark: tuples in bind order
        params = [tuple(r[n] if p is None else p(r[n]) for n, p in plan) for r in rows]  # None too, as Core does
    else:  # pyformat: dicts by bind name
        params = [{n: r[n] if p is None else p(r[n]) for n, p in plan} for r in rows]
    return conn.exec_driver_sql(compiled.string, params).rowcount


def counts_rows(conn: Connection) -> bool:
    """Whether `executemany` on this connection returns the exact number of rows changed."""
    return (conn.dialect.name, conn.dialect.driver) in (("sqlite", "pysqlite"), ("postgresql", "psycopg"))


def _processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The conversion Core applies to a column's values: the dialect's own type's."""
    return type_.dialect_impl(dialect).bind_processor(dialect)
