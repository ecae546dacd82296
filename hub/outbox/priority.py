"""Delivery priorities: customer- and regulator-facing messages drain before team dispatches and reminders.

One drain pass has a limit. Claimed in plain due order, a burst of dispatches and
reminders took whole passes while status updates and SMS for customers waited.
`claim_by_priority` walks the kinds in `delivery.priority` (config/recovery.yaml):
first each kind up to its quota (its share of the pass), then what is left of the
pass in the same order, so a quota a kind does not use goes to the next kinds.
`backlog` says per kind what is still waiting and how old the oldest is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.schema import to_utc, utcnow
from hub.recovery.config import get_recovery_config
from hub.store import outbox as ob
from hub.store.db import Store
from hub.store.tables import outbox

WAITING = ("pending", "failed", "sending")


def kind_order(kinds: list[str] | None = None) -> list[str]:
    """The kinds to claim, highest priority first (`kinds`: only these; unknown ones come last)."""
    prio = get_recovery_config().delivery.priority
    if not kinds:
        return list(prio)
    return [k for k in prio if k in kinds] + [k for k in kinds if k not in prio]


def claim_by_priority(store: Store, worker: str, *, limit: int, now: datetime | None = None,
                      kinds: list[str] | None = None) -> list[ob.OutboxMessage]:
    """Claim up to `limit` due rows: each kind its quota in priority order, then the rest in the same order."""
    now = now or utcnow()
    quotas = get_recovery_config().delivery.quotas
    order = kind_order(kinds)
    if not kinds:  # kinds nobody configured are still delivered (after the others)
        with store.begin() as conn:
            known = set(conn.execute(select(outbox.c.kind).where(outbox.c.state.in_(WAITING)).distinct()).scalars())
        order += sorted(known - set(order))
    got: list[ob.OutboxMessage] = []
    for k in order:
        share = min(limit - len(got), math.ceil(quotas.get(k, 0.0) * limit))
        if share > 0:
            got += ob.claim(store, worker, limit=share, now=now, kinds=[k])
    for k in order:
        if len(got) >= limit:
            break
        got += ob.claim(store, worker, limit=limit - len(got), now=now, kinds=[k])
    return got


@dataclass
class KindBacklog:
    """What one kind still has waiting (pending, failed and backing off, or in flight) and its oldest's age."""

    kind: str
    waiting: int
    oldest_minutes: float

    def as_dict(self) -> dict[str, object]:
        """A plain dict (CLI JSON, artifacts)."""
        return asdict(self)


def backlog(store: Store, now: datetime | None = None) -> list[KindBacklog]:
    """Per kind (priority order), the rows not yet sent nor dead and the age of the oldest."""
    now = to_utc(now or utcnow())
    q = (select(outbox.c.kind, func.count(), func.min(outbox.c.created_at)).where(outbox.c.state.in_(WAITING))
         .group_by(outbox.c.kind))
    with store.begin() as conn:
        rows = {k: (n, oldest) for k, n, oldest in conn.execute(q)}
    order = kind_order() + sorted(set(rows) - set(kind_order()))
    return [KindBacklog(kind=k, waiting=rows[k][0],
                        oldest_minutes=round(max(0.0, (now - to_utc(rows[k][1])).total_seconds()) / 60, 1))
            for k in order if k in rows]
