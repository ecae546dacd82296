"""The satisfaction survey sent after resolution (called by `actions.change_status`, same transaction).

A `surveys` row and an `sms` outbox row ("回复1满意 2不满意"), unless the customer
has no phone or unsubscribed. The answers are applied by `hub.handling.replies`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from core.pii import get_vault
from core.schema import Ticket, TicketEvent, utcnow
from hub.chase.config import get_chase_config
from hub.outbox import announce
from hub.store.tables import surveys
from hub.store.tickets import add_events


def schedule_survey(conn: Connection, t: Ticket, now: datetime | None = None) -> bool:
    """Queue the survey SMS for a resolved ticket; False when it cannot or must not be sent."""
    cfg = get_chase_config().survey
    now = now or utcnow()
    if not cfg.enabled or not t.customer.phone:
        return False
    phone_hash = t.customer.phone_hash or get_vault().hash(t.customer.phone)
    if announce.opted_out(conn, t):
        add_events(conn, [TicketEvent(ticket_id=t.ticket_id, at=now, actor="hub", kind="survey_skipped",
                                      data={"reason": "unsubscribed"})])
        return False
    # Supersede an older pending survey of this ticket (resolved again after a reopen).
    conn.execute(update(surveys).where(surveys.c.ticket_id == t.ticket_id, surveys.c.state == "pending")
                 .values(state="superseded"))
    sid = conn.execute(surveys.insert().returning(surveys.c.id), [{
        "ticket_id": t.ticket_id, "phone_hash": phone_hash, "sent_at": now, "state": "pending"}]).scalar_one()
    announce.enqueue_sms(conn, t, key=f"survey:{t.ticket_id}:{sid}", text=cfg.text, purpose="survey",
                         template="SMS_SURVEY", params={"ticket": t.ticket_id})
    add_events(conn, [TicketEvent(ticket_id=t.ticket_id, at=now, actor="hub", kind="survey_sent",
                                  data={"survey_id": sid})])
    return True
