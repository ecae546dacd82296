"""Read side shared by the API and the console: a team's queue and one ticket's detail.

Team scoping lives here, in one place: every read takes the caller's team and
answers "not found" for a ticket of another team, so neither the API nor the
console can leak that a ticket exists elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, or_, select

from core.errors import NotFound
from core.pii import mask_name, scrub_text
from core.schema import OPEN_STATUSES, Clock, ClockState, Ticket, TicketEvent, utcnow
from hub import labels
from hub.backoffice.auth import Principal
from hub.judge.config import get_taxonomy
from hub.store.tables import clocks, tickets
from hub.store.tickets import add_events, clock_row_to_model, get_events, get_ticket

DeadlineState = Literal["none", "ok", "warning", "breach", "done"]

#: "due soon" means the nearest deadline falls within this window (and has not passed)
DUE_SOON = timedelta(hours=4)


@dataclass
class QueueFilters:
    """Filters of a team queue; all optional, combined with AND."""

    status: str | None = None
    urgency: str | None = None
    source: str | None = None
    due_soon: bool = False
    overdue: bool = False
    include_closed: bool = False
    limit: int = 100
    #: search (any of them matches): a ticket number, the source's own number, the keyed hash of a phone
    ticket_id: str | None = None
    external_id: str | None = None
    phone_hash: str | None = None
    business_line: str | None = None
    #: received on or after / before (UTC)
    received_from: datetime | None = None
    received_to: datetime | None = None


@dataclass
class QueueItem:
    """One row of a queue, PII masked, with its deadline state for colouring."""

    ticket_id: str
    source: str
    external_id: str
    status: str
    team: str | None
    handler: str | None
    category: str | None
    urgency: str | None
    risk_level: str | None
    received_at: datetime
    next_due_at: datetime | None
    deadline_state: DeadlineState
    title: str
    customer_name: str | None
    clocks: list[Clock] = field(default_factory=list)
    #: what it is about (the industry profile's line) and whether the judgement awaits a person's review
    business_line: str | None = None
    needs_review: bool = False


def deadline_state(status: str, clock_list: list[Clock], now: datetime) -> DeadlineState:
    """Breach when any clock breached or its due time passed; warning past a warn threshold."""
    if status not in {s.value for s in OPEN_STATUSES}:
        return "done"
    live = [c for c in clock_list if c.state in (ClockState.RUNNING, ClockState.BREACHED)]
    if not live:
        return "none"
    if any(c.state == ClockState.BREACHED or c.due_at <= now for c in live):
        return "breach"
    if any(c.state == ClockState.RUNNING and any(w <= now for w in c.warn_at) for c in live):
        return "warning"
    return "ok"


def team_queue(conn: Connection, team: str, filters: QueueFilters | None = None,
               now: datetime | None = None) -> list[QueueItem]:
    """The team's tickets, nearest deadline first (tickets without a running clock last)."""
    f = filters or QueueFilters()
    now = now or utcnow()
    open_values = [s.value for s in OPEN_STATUSES]
    q = select(tickets.c.ticket_id, tickets.c.source, tickets.c.external_id, tickets.c.status, tickets.c.team,
               tickets.c.handler, tickets.c.category, tickets.c.urgency, tickets.c.risk_level,
               tickets.c.business_line, tickets.c.needs_review,
               tickets.c.received_at, tickets.c.next_due_at, tickets.c.data).where(tickets.c.team == team)
    if f.status:
        q = q.where(tickets.c.status == f.status)
    elif not f.include_closed:
        q = q.where(tickets.c.status.in_(open_values))
    if f.urgency:
        q = q.where(tickets.c.urgency == f.urgency)
    if f.source:
        q = q.where(tickets.c.source == f.source)
    if f.business_line:
        q = q.where(tickets.c.business_line == f.business_line)
    found = [col == v for col, v in ((tickets.c.ticket_id, f.ticket_id), (tickets.c.external_id, f.external_id),
                                     (tickets.c.phone_hash, f.phone_hash)) if v]
    if found:  # a search: any of the numbers it was taken for
        q = q.where(or_(*found))
    if f.received_from:
        q = q.where(tickets.c.received_at >= f.received_from)
    if f.received_to:
        q = q.where(tickets.c.received_at < f.received_to)
    if f.overdue and f.due_soon:
        q = q.where(tickets.c.next_due_at < now + DUE_SOON, tickets.c.status.in_(open_values))
    elif f.overdue:
        q = q.where(tickets.c.next_due_at <= now, tickets.c.status.in_(open_values))
    elif f.due_soon:
        q = q.where(and_(tickets.c.next_due_at > now, tickets.c.next_due_at <= now + DUE_SOON),
                    tickets.c.status.in_(open_values))
    q = q.order_by(tickets.c.next_due_at.is_(None), tickets.c.next_due_at, tickets.c.received_at,
                   tickets.c.ticket_id).limit(max(1, min(f.limit, 500)))
    rows = conn.execute(q).all()
    by_ticket: dict[str, list[Clock]] = {}
    if rows:
        ids = [r.ticket_id for r in rows]
        for c in conn.execute(select(clocks).where(clocks.c.ticket_id.in_(ids))):
            by_ticket.setdefault(c.ticket_id, []).append(clock_row_to_model(c))
    out = []
    for r in rows:
        data = r.data or {}
        cl = by_ticket.get(r.ticket_id, [])
        name = (data.get("customer") or {}).get("name")
        out.append(QueueItem(
            ticket_id=r.ticket_id, source=r.source, external_id=r.external_id, status=r.status, team=r.team,
            handler=r.handler, category=r.category, urgency=r.urgency, risk_level=r.risk_level,
            business_line=r.business_line, needs_review=bool(r.needs_review),
            received_at=r.received_at, next_due_at=r.next_due_at, deadline_state=deadline_state(r.status, cl, now),
            # data holds the raw text (the store keeps it for the hub): scrub for display
            title=scrub_text((data.get("matter") or {}).get("title", "")),
            customer_name=mask_name(name) if name else None, clocks=cl))
    return out


def team_ticket(conn: Connection, principal: Principal, ticket_id: str) -> Ticket:
    """The ticket if it belongs to the caller's team; NotFound otherwise (never 'forbidden')."""
    if not ticket_id or len(ticket_id) > 40:
        raise NotFound(ticket_id)
    t = get_ticket(conn, ticket_id)
    if t is None or t.handling.team != principal.team:
        raise NotFound(ticket_id)
    return t


def ticket_view(t: Ticket, *, reveal: bool) -> dict[str, Any]:
    """A ticket as a JSON-ready dict: PII masked (free text scrubbed) unless `reveal`."""
    ctx = {"reveal_pii": True} if reveal else {}
    data = t.model_dump(mode="json", context=ctx, exclude={"raw_hash"})
    for k in ("phone_hash", "id_hash"):  # keyed hashes are for matching inside the hub only
        data["customer"].pop(k, None)
    return data


def timeline(conn: Connection, ticket_id: str) -> list[TicketEvent]:
    """The ticket's events, oldest first."""
    return get_events(conn, ticket_id)


def event_view(e: TicketEvent, *, reveal: bool) -> dict[str, Any]:
    """An event for display: notes scrubbed unless revealing (a note may quote a phone number)."""
    d = e.model_dump(mode="json")
    if not reveal:
        d["note"] = scrub_text(d["note"]) if d.get("note") else d.get("note")
        d["data"] = _scrub_obj(d.get("data") or {})
    return d


def _scrub_obj(obj: Any) -> Any:
    if isinstance(obj, str):
        return scrub_text(obj)
    if isinstance(obj, list):
        return [_scrub_obj(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _scrub_obj(v) for k, v in obj.items()}
    return obj


def audit_reveal(conn: Connection, principal: Principal, ticket_id: str, *, channel: str,
                 fields: list[str] | None = None) -> None:
    """Write the audit event for an unmasking: who, when, how (api/console), what."""
    add_events(conn, [TicketEvent(ticket_id=ticket_id, actor=principal.actor, kind="pii_revealed",
                                  data={"channel": channel, "team": principal.team, "role": principal.role,
                                        "fields": fields or ["customer.name", "customer.phone",
                                                             "customer.id_number", "matter.text"]})])


def pending_extension(events: list[TicketEvent]) -> dict[str, Any] | None:
    """The latest extension request not yet decided (from the timeline), if any."""
    pending: dict[str, Any] | None = None
    for e in events:
        if "extension" not in e.kind:
            continue
        if "request" in e.kind:
            pending = {"at": e.at, "actor": e.actor, "data": e.data, "note": e.note}
        elif any(w in e.kind for w in ("approv", "reject", "denied", "decid", "granted")):
            pending = None
    return pending


@dataclass(frozen=True)
class ReclassifyChoices:
    """What a handler may pick when correcting a judgement: (value, Chinese label) pairs."""

    business_lines: list[tuple[str, str]]
    #: `reason/sub_category` pairs, grouped by reason in taxonomy order
    reasons: list[tuple[str, str]]
    urgencies: list[tuple[str, str]]


def reclassify_choices() -> ReclassifyChoices:
    """The business lines of the profile in force, every reason's sub-categories and the urgencies."""
    tax = get_taxonomy()
    lines = [(k, v.label) for k, v in tax.lines.lines.items()] if tax.lines else []
    reasons = [(f"{r.value}/{k}", f"{labels.label(labels.CATEGORY, r)} · {v.label or k}")
               for r, subs in tax.reasons.items() for k, v in subs.items()]
    return ReclassifyChoices(business_lines=lines, reasons=reasons, urgencies=list(labels.URGENCY.items()))
