"""Chase (催办): warn before the deadline, remind at breach, escalate up the chain.

The scan is index-driven: it reads only clocks whose `next_alert_at <= now`
(index `ix_clocks_alert (state, next_alert_at)`), so its cost follows the
number of clocks that need a look, not the number of open tickets. Each look
sends what is due and sets `next_alert_at` to the next look: half the time left
before the next threshold (bounded by `min_recheck`/`max_recheck`), so clocks
near breach are looked at more often than far ones.

Each reminder is recorded once ever per (ticket, clock, level) — table
`reminders`, unique constraint — together with a timeline event and an outbox
`reminder` row, in one transaction. Non-urgent tickets are not chased in quiet
hours: their look is moved to the end of the quiet period (deferred, not dropped).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from core.logs import get_logger
from core.schema import OPEN_STATUSES, Status, TicketEvent, to_local, utcnow
from hub.chase.config import ChaseSection, get_chase_config
from hub.recovery.config import get_recovery_config
from hub.store.db import Store
from hub.store.sql import insert_ignore
from hub.store.tables import clocks, outbox, reminders, tickets
from hub.store.tickets import add_events
from hub.teams import get_teams

log = get_logger(__name__)
_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass
class ChaseStats:
    """What one chase run did."""

    scanned: int = 0
    reminders: int = 0
    breached: int = 0
    deferred: int = 0
    cleared: int = 0
    rounds: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    #: the run stopped at `deadlines.chase` (config/recovery.yaml) with clocks still due: the next run goes on
    cut_short: bool = False


def _recipients(spec: list[str], row: Any) -> list[str]:
    """Turn `handler` / `lead` / `chain:N` / literal ids into people (handler → lead when unassigned)."""
    chain: list[str] = []
    if row.team:
        try:
            chain = get_teams().chase_chain(row.team)
        except Exception:  # noqa: BLE001 - a team missing from config still gets its handler chased
            chain = []
    out: list[str] = []
    for s in spec:
        if s == "handler":
            who = row.handler or (chain[0] if chain else None)
        elif s == "lead":
            who = chain[0] if chain else None
        elif s.startswith("chain:"):
            n = int(s.split(":", 1)[1])
            who = chain[n] if n < len(chain) else None
        else:
            who = s
        if who and who not in out:
            out.append(who)
    return out


def _next_look(now: datetime, threshold: datetime | None, cfg: ChaseSection) -> datetime | None:
    """Half the time left to the next threshold, within [min_recheck, max_recheck], never past it."""
    if threshold is None:
        return None
    gap = (threshold - now) / 2
    gap = max(cfg.min_recheck, min(cfg.max_recheck, gap))
    return min(threshold, now + gap)


def _due_levels(row: Any, now: datetime, cfg: ChaseSection) -> tuple[list[tuple[str, list[str]]], datetime | None,
                                                                      bool]:
    """(levels to send with recipients, next threshold, breached now?) for one clock."""
    due = row.due_at
    if now < due:
        warns = sorted(datetime.fromisoformat(w) for w in (row.warn_at or []))
        crossed = [i for i, w in enumerate(warns) if w <= now]
        nxt = next((w for w in warns if w > now), due)
        levels = [(f"warn_{crossed[-1] + 1}", _recipients(cfg.warn_to, row))] if crossed else []
        return levels, nxt, False
    levels = [(s.level, _recipients(s.to, row)) for s in cfg.steps if due + s.after <= now]
    nxt = min((due + s.after for s in cfg.steps if due + s.after > now), default=None)
    return levels, nxt, row.state == "running"


def _pick(conn: Connection, state: str, now: datetime, limit: int) -> list[Any]:
    q = (select(clocks.c.ticket_id, clocks.c.kind, clocks.c.state, clocks.c.due_at, clocks.c.warn_at,
                clocks.c.stopped_at,
                clocks.c.urgent, tickets.c.status, tickets.c.team, tickets.c.handler)
         .join(tickets, tickets.c.ticket_id == clocks.c.ticket_id)
         .where(and_(clocks.c.state == state, clocks.c.next_alert_at <= now))
         .order_by(clocks.c.next_alert_at).limit(limit))
    if conn.dialect.name == "postgresql":
        # two chase runs at once split the work instead of waiting on each other
        q = q.with_for_update(skip_locked=True, of=clocks)
    return list(conn.execute(q).all())


def _send(conn: Connection, wanted: list[tuple[Any, str, list[str]]], now: datetime, stats: ChaseStats,
          events: list[TicketEvent]) -> None:
    """Record the reminders (once ever: unique key), then queue and log the ones that are new."""
    if not wanted:
        return
    rows = [{"ticket_id": r.ticket_id, "clock_kind": r.kind, "level": level, "recipient": ",".join(who)[:120],
             "created_at": now, "outbox_key": f"reminder:{r.ticket_id}:{r.kind}:{level}"} for r, level, who in wanted]
    stmt = insert_ignore(conn, reminders, ["ticket_id", "clock_kind", "level"]).returning(
        reminders.c.ticket_id, reminders.c.clock_kind, reminders.c.level)
    new = {tuple(x) for x in conn.execute(stmt, rows).all()}
    messages = []
    send_from = min(now, utcnow())  # a chase run "as of" a later time (tests, backfills) still sends now
    for r, level, who in wanted:
        if (r.ticket_id, r.kind, level) not in new:
            continue  # sent before (ever): never twice
        key = f"reminder:{r.ticket_id}:{r.kind}:{level}"
        messages.append({"idempotency_key": key, "kind": "reminder",
                         "target": f"team:{r.team}" if r.team else "ops",
                         "ticket_id": r.ticket_id, "state": "pending", "attempts": 0, "next_attempt_at": send_from,
                         "created_at": send_from, "secret_enc": None,
                         "payload": {"ticket_id": r.ticket_id, "team": r.team, "clock": r.kind, "level": level,
                                     "recipients": who, "due_at": r.due_at.isoformat(),
                                     "due_local": to_local(r.due_at).strftime("%Y-%m-%d %H:%M")}})
        events.append(TicketEvent(ticket_id=r.ticket_id, at=now, actor="hub:chase", kind="reminded",
                                  data={"clock": r.kind, "level": level, "recipients": who,
                                        "due_at": r.due_at.isoformat()}))
        stats.reminders += 1
        stats.by_level[level] = stats.by_level.get(level, 0) + 1
    if messages:
        conn.execute(insert_ignore(conn, outbox, ["idempotency_key"]), messages)


def _process(conn: Connection, rows: list[Any], now: datetime, cfg: ChaseSection, stats: ChaseStats) -> None:
    moves: list[dict[str, Any]] = []
    events: list[TicketEvent] = []
    wanted: list[tuple[Any, str, list[str]]] = []
    for r in rows:
        stats.scanned += 1
        open_ = r.status in _OPEN or (r.kind == "revisit" and r.status == Status.RESOLVED.value)
        if not open_ or r.stopped_at is not None:  # a stopped clock (answered late) is not chased on
            moves.append({"b_t": r.ticket_id, "b_k": r.kind, "b_s": r.state, "b_n": None})
            stats.cleared += 1
            continue
        quiet_end = cfg.quiet_hours.end_after(now) if (cfg.quiet_hours and not r.urgent) else None
        if quiet_end is not None:
            moves.append({"b_t": r.ticket_id, "b_k": r.kind, "b_s": r.state, "b_n": quiet_end})
            stats.deferred += 1
            continue
        levels, nxt, breached_now = _due_levels(r, now, cfg)
        state = "breached" if breached_now or r.state == "breached" else r.state
        if breached_now:
            stats.breached += 1
            events.append(TicketEvent(ticket_id=r.ticket_id, at=now, actor="hub:chase", kind="clock_breached",
                                      data={"clock": r.kind, "due_at": r.due_at.isoformat()}))
        for level, who in levels:
            if who:
                wanted.append((r, level, who))
        moves.append({"b_t": r.ticket_id, "b_k": r.kind, "b_s": state, "b_n": _next_look(now, nxt, cfg)})
    _send(conn, wanted, now, stats, events)
    if moves:
        conn.execute(update(clocks).where(and_(clocks.c.ticket_id == bindparam("b_t"),
                                               clocks.c.kind == bindparam("b_k")))
                     .values(state=bindparam("b_s"), next_alert_at=bindparam("b_n")), moves)
    add_events(conn, events)


def chase(store: Store, now: datetime | None = None, *, max_rounds: int = 50) -> ChaseStats:
    """One chase run: look at every clock due for a look, in batches, until none is left or the deadline passes.

    The deadline (`deadlines.chase`) is checked between batches: each batch commits on
    its own, so a run cut short loses nothing and the next run takes the rest.
    """
    now = now or utcnow()
    cfg = get_chase_config().chase
    limit = get_recovery_config().deadlines.chase.total_seconds()
    ends = time.monotonic() + limit
    stats = ChaseStats()
    for state in ("running", "breached"):
        for _ in range(max_rounds):
            if time.monotonic() >= ends:
                stats.cut_short = True
                break
            with store.begin() as conn:
                rows = _pick(conn, state, now, cfg.batch)
                if rows:
                    _process(conn, rows, now, cfg, stats)
            stats.rounds += 1
            if len(rows) < cfg.batch:
                break
    if stats.cut_short:
        log.warning("chase stopped at its deadline of %.0f s (config/recovery.yaml deadlines.chase) after %s clocks;"
                    " the clocks still due are taken by the next run", limit, stats.scanned)
    if stats.reminders or stats.breached:
        log.info("chase: %s clocks looked at, %s reminders, %s breached, %s deferred",
                 stats.scanned, stats.reminders, stats.breached, stats.deferred)
    return stats

