"""The few facts of a ticket a team message shows, read without rebuilding the Ticket.

A dispatch or reminder carries the ticket's masked summary (`hub.outbox.dispatch`).
Loading whole tickets for it (`get_tickets`: the JSON document with its
explanations parsed, the PII decrypted, a pydantic `Ticket` validated) took more
than half of the outbox drain's time. `ticket_facts` reads the columns, four
values of the JSON by path (the masked name and phone the row already stores; the
title and content a row from before sealing keeps in clear), the free text from the
encrypted blob and the nearest open deadline from the clocks: the same facts —
`tests/outbox/test_ticket_facts.py` holds them equal to the ones taken from the
full Ticket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from core.pii import PiiVault, get_vault
from hub.store.sql import chunks
from hub.store.tables import clocks, tickets

#: the clock states whose deadline is still ahead of the team (met and paused clocks are not)
OPEN_CLOCK_STATES = ("running", "breached")


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What a team message says of a ticket; personal data masked, free text in clear (scrubbed later)."""

    ticket_id: str
    source: str
    external_id: str
    title: str
    content: str
    name_masked: str | None
    phone_masked: str | None
    category: str | None
    urgency: str
    risk: str
    team: str | None
    handler: str | None
    status: str
    deadline: datetime | None  # the nearest due time of a running or breached clock


def ticket_facts(conn: Connection, ids: Sequence[str], vault: PiiVault | None = None) -> dict[str, TicketFacts]:
    """The facts of the tickets `ids` that exist, by id (500 ids a query)."""
    vault = vault or get_vault()
    c, d = tickets.c, tickets.c.data
    cols = (c.ticket_id, c.source, c.external_id, c.category, c.urgency, c.risk_level, c.team, c.handler,
            c.status, c.pii_enc, d[("matter", "title")].as_string(), d[("matter", "content")].as_string(),
            d[("customer", "name")].as_string(), d[("customer", "phone")].as_string())
    out: dict[str, TicketFacts] = {}
    for part in chunks(sorted(set(ids)), 500):
        # by the primary key alone: a `state IN` filter let SQLite read every running clock through
        # `ix_clocks_alert` (the drain's facts took 26 s of a 100k backlog's 147 s drain)
        due: dict[str, datetime] = {}
        for tid, at, state in conn.execute(select(clocks.c.ticket_id, clocks.c.due_at, clocks.c.state)
                                           .where(clocks.c.ticket_id.in_(part))):
            if state in OPEN_CLOCK_STATES and (tid not in due or at < due[tid]):
                due[tid] = at
        for (tid, source, ext, category, urgency, risk, team, handler, status, pii_enc, title, content, name,
             phone) in conn.execute(select(*cols).where(c.ticket_id.in_(part))):
            # the free text is sealed in the PII blob (a row from before that keeps it in the JSON);
            # without a blob there is no personal data to mask, as `row_to_ticket` reads it
            sealed = (json.loads(vault.decrypt_bytes(pii_enc)).get("matter") or {}) if pii_enc else {}
            if not pii_enc:
                name = phone = None
            out[tid] = TicketFacts(
                ticket_id=tid, source=source, external_id=ext, title=sealed.get("title", title) or "",
                content=sealed.get("content", content) or "", name_masked=name, phone_masked=phone,
                category=category, urgency=urgency, risk=risk, team=team, handler=handler, status=status,
                deadline=due.get(tid))
    return out
