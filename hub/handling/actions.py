"""What a team does to a ticket: accept, note, reply, change status, transfer, extend.

Every function takes the caller's transaction (`Connection`) and writes, in it,
the ticket (`save_ticket`), its timeline event(s) and the outbox row that
announces the change (push-back to the source, SMS to the customer, dispatch to
a team). Nothing is sent here: the push worker sends later (DESIGN rule 3).
The API, the console, the CLI and the team callback all call these functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from core.errors import HandlingError
from core.schema import ClockKind, Status, Ticket, TicketEvent, utcnow
from hub import sla
from hub.chase.config import get_chase_config
from hub.handling.customer_text import customer_reply
from hub.handling.survey import schedule_survey
from hub.outbox import announce
from hub.store.tables import ticket_events, tickets
from hub.store.tickets import add_events, get_ticket, save_ticket
from hub.teams import get_teams

# Where a status may go from each status (closed tickets only reopen).
ALLOWED: dict[Status, set[Status]] = {
    Status.NEW: {Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED},
    Status.ASSIGNED: {Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED},
    Status.IN_PROGRESS: {Status.ASSIGNED, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED},
    Status.WAITING_CUSTOMER: {Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED},
    Status.RESOLVED: {Status.CLOSED, Status.REOPENED},
    Status.CLOSED: {Status.REOPENED},
    Status.REOPENED: {Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED},
}



def lock_ticket(conn: Connection, ticket_id: str) -> None:
    """Row-lock the ticket on PostgreSQL (until the transaction ends) so two actions on it queue up."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(tickets.c.ticket_id).where(tickets.c.ticket_id == ticket_id).with_for_update())


def _load(conn: Connection, ticket_id: str) -> Ticket:
    """The ticket, row-locked on PostgreSQL so two actions on one ticket queue up."""
    lock_ticket(conn, ticket_id)
    t = get_ticket(conn, ticket_id)
    if t is None:
        raise HandlingError(f"no ticket {ticket_id}")
    return t


def _event(t: Ticket, actor: str, kind: str, at: datetime, note: str | None = None, **data: object) -> TicketEvent:
    return TicketEvent(ticket_id=t.ticket_id, at=at, actor=actor, kind=kind, data=data, note=note or None)


def _set_status(t: Ticket, status: Status, now: datetime) -> Ticket:
    """Apply the status and its clock consequences (pause, resume, stop, revisit)."""
    old = t.handling.status
    if status == old:
        raise HandlingError(f"ticket {t.ticket_id} is already {status.value}")
    if status not in ALLOWED[old]:
        raise HandlingError(f"ticket {t.ticket_id}: {old.value} → {status.value} is not allowed")
    if old == Status.WAITING_CUSTOMER:
        sla.resume_clocks(t, now)
    if status == Status.IN_PROGRESS:
        sla.stop_clock(t, ClockKind.FIRST_RESPONSE, now)
    elif status == Status.WAITING_CUSTOMER:
        sla.pause_clocks(t, now)
    elif status == Status.RESOLVED:
        sla.stop_clock(t, ClockKind.FIRST_RESPONSE, now)
        sla.stop_clock(t, ClockKind.RESOLUTION, now)
        t.handling.resolved_at = now
        sla.start_revisit_clock(t, now)
    elif status == Status.CLOSED:
        for kind in ClockKind:
            sla.stop_clock(t, kind, now)
    t.handling.status = status
    t.updated_at = now
    return t


def change_status(conn: Connection, ticket_id: str, status: Status, *, actor: str, note: str = "",
                  reply: str | None = None, settled: bool | None = None, method: str | None = None,
                  now: datetime | None = None) -> Ticket:
    """Move a ticket to `status`, log it and queue its push-back (and the survey on resolution)."""
    now = now or utcnow()
    status = Status(status)
    t = _load(conn, ticket_id)
    old = t.handling.status
    t = _set_status(t, status, now)
    reply = customer_reply(t, status, reply)  # ReplyRequired before anything is written
    events = [_event(t, actor, "status_changed", now, note, **{"from": old.value, "to": status.value},
                     reply=reply, settled=settled, method=method)]
    save_ticket(conn, t, events)
    key = announce.announce_status(conn, t, reply=reply, settled=settled, method=method)
    if status == Status.RESOLVED:
        schedule_survey(conn, t, now=now)
    if key:
        add_events(conn, [_event(t, "hub", "push_queued", now, key=key)])
    return t


def add_note(conn: Connection, ticket_id: str, *, actor: str, note: str) -> None:
    """An internal note on the timeline (not sent to the customer)."""
    t = _load(conn, ticket_id)
    save_ticket(conn, t, [_event(t, actor, "note", utcnow(), note)])


def accept(conn: Connection, ticket_id: str, *, actor: str, handler: str | None = None) -> Ticket:
    """A handler takes the ticket: → in_progress, first-response clock met (首接: first handler kept)."""
    now = utcnow()
    t = _load(conn, ticket_id)
    old = t.handling.status
    if handler:
        t.handling.handler = handler
    if not t.handling.first_handler and t.handling.handler:
        t.handling.first_handler = t.handling.handler
    if old != Status.IN_PROGRESS:
        t = _set_status(t, Status.IN_PROGRESS, now)
    events = [_event(t, actor, "accepted", now, handler=t.handling.handler, **{"from": old.value})]
    save_ticket(conn, t, events)
    announce.announce_status(conn, t)
    return t


def reply_to_customer(conn: Connection, ticket_id: str, *, actor: str, text: str) -> Ticket:
    """A reply shown to the customer at the source (blackcat: the first reply counts as handled)."""
    now = utcnow()
    t = _load(conn, ticket_id)
    if not t.handling.status.is_open:
        raise HandlingError(f"ticket {ticket_id} is {t.handling.status.value}: reopen it before replying")
    if t.handling.status in (Status.NEW, Status.ASSIGNED, Status.REOPENED):
        t = _set_status(t, Status.IN_PROGRESS, now)
    else:
        sla.stop_clock(t, ClockKind.FIRST_RESPONSE, now)
    t.updated_at = now
    save_ticket(conn, t, [_event(t, actor, "replied", now, text)])
    announce.announce_status(conn, t, reply=text)
    return t


def transfer(conn: Connection, ticket_id: str, *, actor: str, to_team: str, reason: str) -> Ticket:
    """Hand the ticket to another team; the new team is told (first handler stays on record)."""
    get_teams().team(to_team)  # ConfigError for an unknown team
    now = utcnow()
    t = _load(conn, ticket_id)
    if not t.handling.status.is_open:
        raise HandlingError(f"ticket {ticket_id} is {t.handling.status.value}: cannot transfer")
    old_team = t.handling.team
    if old_team == to_team:
        raise HandlingError(f"ticket {ticket_id} is already with {to_team}")
    t.handling.team, t.handling.handler = to_team, None
    if t.handling.status != Status.ASSIGNED:
        t = _set_status(t, Status.ASSIGNED, now) if Status.ASSIGNED in ALLOWED[t.handling.status] else t
    t.updated_at = now
    save_ticket(conn, t, [_event(t, actor, "transferred", now, reason, **{"from": old_team, "to": to_team})])
    announce.announce_dispatch(conn, t, to_team, reason=reason)
    return t


def request_extension(conn: Connection, ticket_id: str, *, actor: str, days: int, reason: str) -> None:
    """Ask the team lead for more time on the resolution clock (regulatory extension)."""
    if days < 1:
        raise HandlingError("an extension is at least one day")
    now = utcnow()
    t = _load(conn, ticket_id)
    if not t.handling.status.is_open:
        raise HandlingError(f"ticket {ticket_id} is {t.handling.status.value}: nothing to extend")
    save_ticket(conn, t, [_event(t, actor, "extension_requested", now, reason, days=days)])
    lead = get_teams().team(t.handling.team).lead if t.handling.team else "-"
    announce.announce_to_lead(conn, t, level="extension_request", recipients=[lead],
                              extra={"days": days, "reason": reason, "requested_by": actor})


def _pending_extension(conn: Connection, ticket_id: str) -> tuple[int, int] | None:
    """(event id, days) of the newest extension request without a decision after it."""
    rows = conn.execute(select(ticket_events.c.id, ticket_events.c.kind, ticket_events.c.data)
                        .where(ticket_events.c.ticket_id == ticket_id,
                               ticket_events.c.kind.in_(["extension_requested", "extension_approved",
                                                         "extension_denied"]))
                        .order_by(ticket_events.c.id.desc()).limit(1)).all()
    if not rows or rows[0].kind != "extension_requested":
        return None
    return rows[0].id, int((rows[0].data or {}).get("days", 0))


def approve_extension(conn: Connection, ticket_id: str, *, approver: str, approve: bool = True) -> Ticket:
    """Decide the pending extension request: approved → resolution deadline moves by its days."""
    now = utcnow()
    t = _load(conn, ticket_id)
    pending = _pending_extension(conn, ticket_id)
    if pending is None:
        raise HandlingError(f"ticket {ticket_id} has no pending extension request")
    request_id, days = pending
    if approve:
        sla.extend_resolution(t, days)
    t.updated_at = now
    kind = "extension_approved" if approve else "extension_denied"
    save_ticket(conn, t, [_event(t, approver, kind, now, request=request_id, days=days)])
    return t


def reopen(conn: Connection, ticket_id: str, *, actor: str, reason: str, now: datetime | None = None,
           length: timedelta | None = None) -> Ticket:
    """Reopen a resolved/closed ticket to its first handler (首接责任) with a new resolution clock."""
    now = now or utcnow()
    t = _load(conn, ticket_id)
    old = t.handling.status
    t = _set_status(t, Status.REOPENED, now)
    t.handling.handler = t.handling.first_handler or t.handling.handler
    t.handling.resolved_at = None
    t.handling.satisfied = False
    sla.restart_for_reopen(t, now, length or get_chase_config().survey.reopen_resolution)
    save_ticket(conn, t, [_event(t, actor, "reopened", now, reason, **{"from": old.value},
                                 handler=t.handling.handler)])
    if t.handling.team:
        announce.announce_dispatch(conn, t, t.handling.team, reason=f"reopened: {reason}")
    return t
