"""Bulk writes on the ingest hot path without SQLAlchemy's per-row parameter machinery.

Core's executemany spends more time per row building and processing parameter
dicts than the database spends storing them; on PostgreSQL an INSERT … RETURNING
of many rows is slower still. `executemany` compiles the statement once, converts
the rows column by column with the columns' dialect bind processors (the very
conversions Core applies: UTC datetimes, JSON, booleans, binaries — the same
stored values, tested) and hands them to the driver's own executemany: tuples to
sqlite3, dicts to psycopg (which pipelines them). Both drivers report the summed
row count. Other drivers, and a statement whose binds the rows do not fully
cover, take the ordinary `conn.execute` path.

Column by column because most columns need no conversion at all: those are
picked out of the rows by `operator.itemgetter` in C, and only the few typed
columns run Python. The store's `UtcDateTime` gets one fused step instead of
Core's two (`process_bind_param`, then the dialect's DATETIME formatting), and a
value repeated down a column (a batch's `now` stamps) is converted once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.dml import UpdateBase

from hub.store.tables import UtcDateTime

Convert = Callable[[Any], Any]


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
    columns = [_column(rows, n, _processor(compiled.binds[n].type, dialect)) for n in names]
    params: list[Any]
    if dialect.name == "sqlite":  # qmark: tuples in bind order
        params = list(zip(*columns, strict=True))
    else:  # pyformat: dicts by bind name
        params = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    return conn.exec_driver_sql(compiled.string, params).rowcount


def _column(rows: Sequence[dict[str, Any]], name: str, convert: Convert | None) -> list[Any]:
    """One bind's values down the rows, converted (None too, as Core does)."""
    values = list(map(itemgetter(name), rows))
    if convert is None:
        return values
    out: list[Any] = []
    last: Any = _UNSET
    done: Any = None
    for v in values:
        if v is not last:  # the same object again (a batch's `now`): converted once
            last, done = v, convert(v)
        out.append(done)
    return out


_UNSET = object()


def counts_rows(conn: Connection) -> bool:
    """Whether `executemany` on this connection returns the exact number of rows changed."""
    return (conn.dialect.name, conn.dialect.driver) in (("sqlite", "pysqlite"), ("postgresql", "psycopg"))


def _processor(type_: Any, dialect: Any) -> Convert | None:
    """The conversion Core applies to a column's values: the dialect's own type's."""
    if isinstance(type_, UtcDateTime):
        return _utc_sqlite if dialect.name == "sqlite" else _utc_aware
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:  # as UtcDateTime.process_bind_param refuses it
        raise ValueError("naive datetime given to the store; use core.schema.utcnow()/to_utc()")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _utc_aware(value: datetime | None) -> datetime | None:
    """`UtcDateTime` on PostgreSQL: the aware UTC datetime."""
    return None if value is None else _as_utc(value)


def _utc_sqlite(value: datetime | None) -> str | None:
    """`UtcDateTime` on SQLite: UTC in SQLAlchemy's DATETIME storage format, in one step."""
    if value is None:
        return None
    v = _as_utc(value)
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
