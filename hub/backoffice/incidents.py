"""A mass-fault incident for the team that handles it: its tickets, one standard notice, closing it.

One notice answers every open ticket of the incident that belongs to the caller's team: each
ticket gets the reply through the ordinary action (its event and its outbox row together), and an
`incident_notice` event carrying the notice's digest, so running the same notice again sends
nothing twice. Closing resolves each open ticket with that notice and marks the incident closed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from core.errors import ActionError, NotFound
from core.pii import scrub_text
from core.schema import OPEN_STATUSES, Status, TicketEvent, utcnow
from hub.backoffice.auth import Principal
from hub.backoffice.queries import QueueFilters, QueueItem, team_queue
from hub.backoffice.roles import authorize
from hub.handling import actions as h
from hub.store.tables import incidents, ticket_events, tickets
from hub.store.tickets import add_events


@dataclass
class IncidentView:
    """An incident as the team sees it: its facts and the team's tickets in it."""

    incident_id: str
    title: str
    state: str
    ticket_count: int
    first_at: Any
    last_at: Any
    items: list[QueueItem]


def _row(conn: Connection, incident_id: str) -> Any:
    if not incident_id or len(incident_id) > 40:
        raise NotFound(incident_id)
    row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).first()
    if row is None:
        raise NotFound(incident_id)
    return row


def incident_view(conn: Connection, principal: Principal, incident_id: str) -> IncidentView:
    """The incident with the caller's team's tickets in it; NotFound when the team has none there."""
    row = _row(conn, incident_id)
    ids = set(conn.execute(select(tickets.c.ticket_id).where(tickets.c.incident_id == incident_id,
                                                             tickets.c.team == principal.team)).scalars())
    items = [i for i in team_queue(conn, principal.team, QueueFilters(include_closed=True, limit=500))
             if i.ticket_id in ids]
    if not items and row.team != principal.team:
        raise NotFound(incident_id)
    return IncidentView(incident_id=row.incident_id, title=scrub_text(row.title), state=row.state,
                        ticket_count=row.ticket_count, first_at=row.first_at, last_at=row.last_at, items=items)


def _open_tickets(conn: Connection, team: str, incident_id: str) -> list[str]:
    return list(conn.execute(select(tickets.c.ticket_id).where(
        tickets.c.incident_id == incident_id, tickets.c.team == team,
        tickets.c.status.in_([s.value for s in OPEN_STATUSES])).order_by(tickets.c.ticket_id)).scalars())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _noticed(conn: Connection, ticket_id: str, digest: str) -> bool:
    rows = conn.execute(select(ticket_events.c.data).where(ticket_events.c.ticket_id == ticket_id,
                                                           ticket_events.c.kind == "incident_notice")).scalars()
    return any((d or {}).get("digest") == digest for d in rows)


def notify_incident(conn: Connection, principal: Principal, incident_id: str, text: str, *,
                    close: bool = False) -> tuple[int, int]:
    """Send one notice to every open ticket of the team in the incident (once per ticket and text).

    With `close`, each ticket is resolved with the notice as its final reply and the incident is
    closed. Returns (tickets answered now, tickets that already had this notice).
    """
    authorize("incident_reply", role=principal.role, name=principal.name, ticket_handler=None)
    incident_view(conn, principal, incident_id)  # NotFound for another team's incident
    text = text.strip()
    if not text or len(text) > 2000:
        raise ActionError(422, "the notice is 1 to 2000 characters", "text")
    digest, now = _digest(text), utcnow()
    sent = skipped = 0
    for tid in _open_tickets(conn, principal.team, incident_id):
        h.lock_ticket(conn, tid)
        if _noticed(conn, tid, digest) and not close:
            skipped += 1
            continue
        if close:
            h.change_status(conn, tid, Status.RESOLVED, actor=principal.actor, note=f"群体事件 {incident_id} 统一办结",
                            reply=text)
        else:
            h.reply_to_customer(conn, tid, actor=principal.actor, text=text)
        add_events(conn, [TicketEvent(ticket_id=tid, at=now, actor=principal.actor, kind="incident_notice",
                                      data={"incident_id": incident_id, "digest": digest, "close": close})])
        sent += 1
    if close:
        conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(state="closed"))
    return sent, skipped
