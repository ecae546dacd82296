"""Mass faults: many similar complaints in a short window become one incident, routed once.

Similar = same sub-category and the same fault phrase (config/taxonomy.yaml
`faults`, e.g. 无法登录, 转账失败). At least `threshold` of them within
`window_minutes` (config/routing.yaml `incidents`) open an incident; later ones
within the window of its last ticket join it. Earlier, already routed tickets
that belong to it are linked too (they keep their handler).
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from core.pii import scrub_text
from core.schema import Ticket
from hub.routing.rules import IncidentRules
from hub.store.sql import chunks
from hub.store.tables import incidents, tickets


@dataclass
class Incident:
    """A mass-fault incident: the tickets of one signature, in time order, and its routing."""

    incident_id: str
    signature: str
    title: str
    first_at: datetime
    last_at: datetime
    members: list[str] = field(default_factory=list)  # ticket ids, in time order
    team: str | None = None
    handler: str | None = None
    first_ticket_id: str | None = None
    prior_count: int = 0  # tickets it had before this batch
    created: bool = False


@dataclass
class IncidentPlan:
    """What `plan_incidents` decided: each ticket's incident, linked earlier tickets, incidents."""

    by_ticket: dict[str, Incident] = field(default_factory=dict)  # batch ticket → its incident
    linked_prior: dict[str, Incident] = field(default_factory=dict)  # earlier routed ticket → incident
    incidents: dict[str, Incident] = field(default_factory=dict)

    @property
    def created(self) -> list[Incident]:
        """The incidents this plan opens (not stored before)."""
        return [i for i in self.incidents.values() if i.created]


def signature(sub_category: str | None, fault: str | None) -> str | None:
    """The grouping key of a fault complaint (`<sub_category>:fault`); None without both.

    The fault phrase is not part of the key: one outage is described as 闪退, 登不上 and
    无法登录 by different customers, and keying on the phrase split it into several
    incidents (issue 20: 4,416 + 484 tickets of one outage). Fault complaints of one
    sub-category inside the window are one mass fault.
    """
    return f"{sub_category}:fault" if sub_category and fault else None


def _fault_of(tags: list[str]) -> str | None:
    return next((t.split(":", 1)[1] for t in tags if t.startswith("fault:")), None)


def _incident_id(sig: str, first_at: datetime) -> str:
    return "INC" + hashlib.sha256(f"{sig}|{first_at.isoformat()}".encode()).hexdigest()[:12].upper()


def plan_incidents(conn: Connection, batch: list[Ticket], cfg: IncidentRules, now: datetime) -> IncidentPlan:
    """Group the batch's fault complaints (with recent routed ones) into incidents. Reads only."""
    plan = IncidentPlan()
    window = timedelta(minutes=cfg.window_minutes)
    items: dict[str, list[tuple[datetime, str, Ticket | None]]] = {}
    for t in batch:
        sig = signature(t.judgement.sub_category, _fault_of(t.judgement.tags))
        if sig and t.judgement.incident_id is None:
            items.setdefault(sig, []).append((t.received_at, t.ticket_id, t))
    if not items:
        return plan
    lo = min(at for lst in items.values() for at, _, _ in lst) - window
    hi = max(at for lst in items.values() for at, _, _ in lst)
    open_incs: dict[str, Incident] = {}
    for batch_sigs in chunks(sorted(items), 200):
        for r in conn.execute(select(incidents).where(incidents.c.signature.in_(batch_sigs),
                                                      incidents.c.state == "open", incidents.c.last_at >= lo)
                              .order_by(incidents.c.last_at)):
            data = r.data or {}
            open_incs[r.signature] = Incident(r.incident_id, r.signature, r.title, r.first_at, r.last_at,
                                              team=r.team, handler=data.get("handler"),
                                              first_ticket_id=data.get("first_ticket_id"),
                                              prior_count=r.ticket_count)
    # earlier tickets already routed (team set) and not in an incident: they may complete a group
    subs = sorted({s.split(":", 1)[0] for s in items})
    batch_ids = {t.ticket_id for t in batch}
    prior_rows: dict[str, Any] = {}
    # only the tags are read from the JSON (the database extracts them), not the whole ticket
    tags_col = tickets.c.data["judgement"]["tags"].label("tags")
    for r in conn.execute(select(tickets.c.ticket_id, tickets.c.received_at, tickets.c.sub_category,
                                 tickets.c.team, tickets.c.handler, tags_col)
                          .where(tickets.c.sub_category.in_(subs), tickets.c.incident_id.is_(None),
                                 tickets.c.team.is_not(None), tickets.c.received_at >= lo,
                                 tickets.c.received_at <= hi)):
        if r.ticket_id in batch_ids:
            continue
        sig = signature(r.sub_category, _fault_of(r.tags or []))
        if sig in items:
            items[sig].append((r.received_at, r.ticket_id, None))
            prior_rows[r.ticket_id] = r
    for sig, lst in items.items():
        lst.sort(key=lambda x: (x[0], x[1]))
        inc = open_incs.get(sig)
        pending: deque[tuple[datetime, str, Ticket | None]] = deque()
        for item in lst:
            at = item[0]
            if inc is not None and at - inc.last_at <= window:
                _join(plan, inc, item)
                continue
            pending.append(item)
            while pending and pending[0][0] < at - window:
                pending.popleft()
            if len(pending) >= cfg.threshold:
                first = pending[0]
                title = scrub_text(first[2].matter.title if first[2] else sig)[:200] or sig
                inc = Incident(_incident_id(sig, first[0]), sig, title, first[0], first[0], created=True,
                               first_ticket_id=first[1])
                if first[2] is None:  # the first one was routed before: the incident follows it
                    row = prior_rows[first[1]]
                    inc.team, inc.handler = row.team, row.handler
                for p in pending:
                    _join(plan, inc, p)
                pending.clear()
    return plan


def _join(plan: IncidentPlan, inc: Incident, item: tuple[datetime, str, Ticket | None]) -> None:
    at, tid, t = item
    inc.members.append(tid)
    inc.last_at = max(inc.last_at, at)
    plan.incidents[inc.incident_id] = inc
    if t is None:
        plan.linked_prior[tid] = inc
    else:
        plan.by_ticket[tid] = inc


def save_incidents(conn: Connection, plan: IncidentPlan, now: datetime) -> None:
    """Insert new incidents and update the grown ones (team/handler once routed)."""
    for inc in plan.incidents.values():
        data = {"handler": inc.handler, "first_ticket_id": inc.first_ticket_id}
        count = inc.prior_count + len(inc.members)
        if inc.created:
            conn.execute(incidents.insert().values(
                incident_id=inc.incident_id, signature=inc.signature, title=inc.title, first_at=inc.first_at,
                last_at=inc.last_at, ticket_count=count, team=inc.team, state="open", data=data))
        else:
            conn.execute(update(incidents).where(incidents.c.incident_id == inc.incident_id).values(
                last_at=inc.last_at, ticket_count=count, team=inc.team, data=data))
