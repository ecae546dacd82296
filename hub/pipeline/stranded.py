"""Route what is stranded: every normalised complaint without a team, of any source, at once.

A run that died between normalising and routing (SIGKILL, the database gone, a
full disk), or a pull that failed after some pages, leaves complaints with no team.
No age threshold decides who may route them: `enrich_and_route` claims the rows it
routes (`hub.store.claims`), so any run routes them at once; a concurrent router
waits for the claim and then finds them routed. What is still unrouted past
`unrouted_alert_after` (config/recovery.yaml) is reported and raised to ops.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select

from core.logs import get_logger
from core.schema import MessageKind, Status, to_utc, utcnow
from hub.pipeline.enrich import enrich_and_route
from hub.recovery.config import get_recovery_config
from hub.store.db import Store
from hub.store.tables import tickets as tickets_t

log = get_logger(__name__)
BATCH = 2000


def _unrouted() -> ColumnElement[bool]:
    c = tickets_t.c
    return and_(c.team.is_(None), c.status == Status.NEW.value, c.kind == MessageKind.COMPLAINT.value)


@dataclass
class StrandedStats:
    """What one sweep did: complaints looked at, routed (per source), and left without a team."""

    seen: int = 0
    routed: int = 0
    left: int = 0
    per_source: dict[str, int] = field(default_factory=dict)


def route_stranded(store: Store, *, source: str | None = None, now: datetime | None = None,
                   batch: int = BATCH) -> StrandedStats:
    """Route every unrouted complaint (of `source`, or of all), oldest first, in batches; returns the counts."""
    c = tickets_t.c
    stats = StrandedStats()
    routed: Counter[str] = Counter()
    after: tuple[datetime, str] | None = None
    while True:
        q = select(c.ticket_id, c.source, c.ingested_at).where(_unrouted())
        if source is not None:
            q = q.where(c.source == source)
        if after is not None:  # keyset: a ticket that stays unrouted is not looked at twice
            q = q.where(or_(c.ingested_at > after[0], and_(c.ingested_at == after[0], c.ticket_id > after[1])))
        with store.begin() as conn:
            rows = conn.execute(q.order_by(c.ingested_at, c.ticket_id).limit(batch)).all()
        if not rows:
            break
        after = (rows[-1].ingested_at, rows[-1].ticket_id)
        ids = [r.ticket_id for r in rows]
        stats.seen += len(ids)
        enrich_and_route(store, ids, now=now)
        with store.begin() as conn:
            still = set(conn.execute(select(c.ticket_id).where(c.ticket_id.in_(ids), _unrouted())).scalars())
        stats.left += len(still)
        routed.update(r.source for r in rows if r.ticket_id not in still)
    stats.routed, stats.per_source = sum(routed.values()), dict(routed)
    if stats.seen:
        log.info("stranded complaints: %d seen, %d routed, %d left", stats.seen, stats.routed, stats.left)
    return stats


@dataclass
class UnroutedReport:
    """Complaints still without a team past the alert bound: how many per source, and the oldest's age."""

    bound_seconds: float
    count: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    oldest_seconds: float = 0.0

    def payload(self) -> dict[str, object]:
        """The ops notification's body (no PII: counts and ages only)."""
        return {"what": "complaints without a team", "count": self.count, "per_source": self.per_source,
                "oldest_minutes": round(self.oldest_seconds / 60, 1),
                "bound_minutes": round(self.bound_seconds / 60, 1),
                "hint": "run `hub sync --all` (it routes every unrouted complaint); if they stay, "
                        "check the routing rules and the run logs"}


def unrouted_report(store: Store, now: datetime | None = None) -> UnroutedReport:
    """Unrouted complaints older than `unrouted_alert_after`, per source (what the artifact and the alert show)."""
    now = to_utc(now or utcnow())
    bound = get_recovery_config().unrouted_alert_after
    c = tickets_t.c
    q = (select(c.source, func.count(), func.min(c.ingested_at)).where(_unrouted(), c.ingested_at < now - bound)
         .group_by(c.source))
    rep = UnroutedReport(bound_seconds=bound.total_seconds())
    with store.begin() as conn:
        for src, n, oldest in conn.execute(q):
            rep.per_source[src] = n
            rep.count += n
            if oldest is not None:
                rep.oldest_seconds = max(rep.oldest_seconds, (now - to_utc(oldest)).total_seconds())
    if rep.count:
        log.error("%d complaint(s) still without a team past %s (oldest %.0f min): %s", rep.count, bound,
                  rep.oldest_seconds / 60, rep.per_source)
    return rep
