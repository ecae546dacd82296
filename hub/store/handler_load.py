"""Open tickets per (team, handler), as least_loaded routing reads them.

Counting them from `tickets` (one GROUP BY over every open ticket) cost each
routing batch time in proportion to the open backlog: 64 ms with 171k open on
SQLite, 155-280 ms on PostgreSQL, per batch. The two ticket writers of
`hub.store.tickets` — new rows (`_insert_fresh`) and saves of handled or routed
tickets (`save_tickets`), which every routing, console action and
reclassification goes through — keep the counts instead, one batched write per
call (`adjust`):

- SQLite (one writer at a time) adds to `handler_load` in place;
- PostgreSQL appends the deltas to `handler_load_log`, so writers never wait for
  one another on a handler's counter row (nor deadlock, routing to the same
  handlers in another order); `fold_log` moves the log into `handler_load` before
  each routing batch reads it, and readers add what is not folded yet.

Reads see what the reader's transaction sees — its own uncommitted routing
included — exactly as the count over `tickets` did. Rows written by hand or
restored from a backup are not counted: `hub doctor` compares (`drift`) and
`hub db recount-load` rebuilds (`recount`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, func, literal_column, select, text, union_all
from sqlalchemy.dialects import sqlite

from core.schema import Status
from hub.store.sql import chunks, one_of
from hub.store.tables import handler_load, handler_load_log, tickets

#: statuses that do not count (migration 0017 holds the same list for its first count; a test checks)
NOT_OPEN = tuple(s.value for s in Status if not s.is_open)
#: and those that do (what `counted` asks for: an IN list reads the (status, team, handler) index by range)
OPEN = tuple(s.value for s in Status if s.is_open)

#: (team, handler, status) of a ticket, as stored
State = tuple[str | None, str | None, str]

#: an arbitrary constant naming the fold's advisory lock: one folder at a time, the others skip
_FOLD_LOCK = 0x4855424C  # "HUBL"


def tally(states: Iterable[State]) -> Counter[tuple[str, str]]:
    """How many of these tickets each (team, handler) has open."""
    return Counter((team, handler) for team, handler, status in states
                   if team is not None and handler is not None and status not in NOT_OPEN)


def states_of(conn: Connection, ids: Sequence[str]) -> dict[str, State]:
    """The stored (team, handler, status) of these tickets, read just before they are rewritten.

    On PostgreSQL the rows are locked (FOR UPDATE, in id order), so no other
    transaction changes them between this read and the caller's write: the
    difference the caller adds is exact.
    """
    c = tickets.c
    out: dict[str, State] = {}
    for part in chunks(sorted(set(ids)), 500):
        q = select(c.ticket_id, c.team, c.handler, c.status).where(one_of(conn, c.ticket_id, part))
        if conn.dialect.name == "postgresql":
            q = q.order_by(c.ticket_id).with_for_update()
        out.update((tid, (team, handler, status)) for tid, team, handler, status in conn.execute(q))
    return out


def adjust(conn: Connection, before: Counter[tuple[str, str]], after: Counter[tuple[str, str]]) -> None:
    """Record that the written tickets went from `before` to `after` open per handler (one write)."""
    delta = {k: after[k] - before[k] for k in before.keys() | after.keys() if after[k] != before[k]}
    if not delta:
        return
    keys = sorted(delta)  # one order for every writer
    if conn.dialect.name == "postgresql":
        conn.execute(handler_load_log.insert(), [{"team": t, "handler": h, "delta": delta[t, h]} for t, h in keys])
        return
    stmt = sqlite.insert(handler_load)
    stmt = stmt.on_conflict_do_update(index_elements=["team", "handler"],
                                      set_={"open_count": handler_load.c.open_count + stmt.excluded.open_count})
    conn.execute(stmt, [{"team": t, "handler": h, "open_count": delta[t, h]} for t, h in keys])


def open_load(conn: Connection) -> dict[tuple[str, str], int]:
    """Open tickets per (team, handler) with at least one."""
    parts = select(handler_load.c.team, handler_load.c.handler, handler_load.c.open_count.label("n"))
    if conn.dialect.name == "postgresql":
        log = select(handler_load_log.c.team, handler_load_log.c.handler, handler_load_log.c.delta.label("n"))
        both = union_all(parts, log).subquery()
        rows = conn.execute(select(both.c.team, both.c.handler, func.sum(both.c.n))
                            .group_by(both.c.team, both.c.handler)).all()
    else:
        rows = conn.execute(parts).all()
    return {(team, handler): int(n) for team, handler, n in rows if n}


def fold_log(conn: Connection) -> int:
    """PostgreSQL: move the log's committed deltas into `handler_load`, in the caller's transaction;
    rows folded.

    One folder at a time (a transaction-scoped advisory lock): another transaction that
    would fold meanwhile skips it (0) instead of waiting, and writers only ever append to
    the log, so nobody waits for the folder. Cost follows the changes since the last
    fold, not the number of tickets. A no-op on SQLite, which keeps no log.
    """
    if conn.dialect.name != "postgresql":
        return 0
    if not conn.execute(select(func.pg_try_advisory_xact_lock(_FOLD_LOCK))).scalar():
        return 0
    # one statement: the deleted deltas land in the counters in the same snapshot
    moved = conn.execute(text("""
        WITH moved AS (DELETE FROM handler_load_log RETURNING team, handler, delta),
             summed AS (SELECT team, handler, sum(delta) AS n, count(*) AS rows_ FROM moved
                        GROUP BY team, handler),
             upserted AS (INSERT INTO handler_load (team, handler, open_count)
                          SELECT team, handler, n FROM summed ORDER BY team, handler
                          ON CONFLICT (team, handler)
                          DO UPDATE SET open_count = handler_load.open_count + excluded.open_count)
        SELECT coalesce(sum(rows_), 0) FROM summed""")).scalar()
    conn.execute(handler_load.delete().where(handler_load.c.open_count == literal_column("0")))
    return int(moved or 0)


def counted(conn: Connection) -> dict[tuple[str, str], int]:
    """Open tickets per (team, handler) counted from `tickets` itself (a full scan of the open ones)."""
    c = tickets.c
    q = (select(c.team, c.handler, func.count())
         .where(c.status.in_(OPEN), c.team.is_not(None), c.handler.is_not(None))
         .group_by(c.team, c.handler))
    return {(team, handler): int(n) for team, handler, n in conn.execute(q)}


def drift(conn: Connection) -> dict[tuple[str, str], tuple[int, int]]:
    """(kept, counted) for every (team, handler) whose kept count is not the real one (empty: in step)."""
    kept, real = open_load(conn), counted(conn)
    return {k: (kept.get(k, 0), real.get(k, 0)) for k in kept.keys() | real.keys() if kept.get(k, 0) != real.get(k, 0)}


def recount(conn: Connection) -> int:
    """Rebuild the kept counts from `tickets` (after a restore or a hand edit); handlers counted.

    On PostgreSQL ticket writers wait for the caller's transaction (SHARE lock), so no
    change falls between the count and the new counters.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE tickets IN SHARE MODE")
    real = counted(conn)
    conn.execute(handler_load_log.delete())
    conn.execute(handler_load.delete())
    if real:
        conn.execute(handler_load.insert(), [{"team": t, "handler": h, "open_count": n} for (t, h), n in real.items()])
    return len(real)
