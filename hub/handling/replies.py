"""Answers to the satisfaction survey (`hub.handling.survey` sends it), reopen and unsubscribes.

- `process_replies`: raw SMS records the normaliser marked `survey_reply` are
  matched by phone hash to the newest pending survey: satisfied → answered and
  the ticket closed; dissatisfied → reopened to its first handler with a new
  clock; unclear → recorded, survey left pending. Raw records marked
  `unsubscribe` add the number to `contact_optouts` (no further SMS).
- `expire_surveys`: no reply after `expire_after` → expired, ticket closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from core.logs import get_logger
from core.pii import get_vault
from core.schema import Status, TicketEvent, utcnow
from hub.chase.config import get_chase_config
from hub.handling.actions import change_status, reopen
from hub.judge.intents import survey_satisfied
from hub.store.db import Store
from hub.store.landing import decode_payload
from hub.store.sql import insert_ignore
from hub.store.tables import contact_optouts, raw_records, surveys
from hub.store.tickets import add_events, get_ticket, save_ticket

log = get_logger(__name__)


@dataclass
class SurveyStats:
    """What one pass over survey replies (and expiries) did."""

    satisfied: int = 0
    reopened: int = 0
    unclear: int = 0
    unmatched: int = 0
    optouts: int = 0
    expired: int = 0


def _pending_for(conn: Connection, phone_hash: str, at: datetime) -> Row[Any] | None:
    return conn.execute(select(surveys).where(surveys.c.phone_hash == phone_hash, surveys.c.state == "pending",
                                              surveys.c.sent_at <= at)
                        .order_by(surveys.c.sent_at.desc(), surveys.c.id.desc()).limit(1)).first()


def _apply_answer(conn: Connection, survey: Row[Any], text: str, now: datetime, stats: SurveyStats) -> None:
    verdict = survey_satisfied(text)
    tid = survey.ticket_id
    t = get_ticket(conn, tid)
    if verdict is None or t is None:
        stats.unclear += 1
        if t is not None:
            add_events(conn, [TicketEvent(ticket_id=tid, at=now, actor="customer", kind="survey_unclear",
                                          data={"answer": text[:20]})])
        return
    conn.execute(update(surveys).where(surveys.c.id == survey.id).values(
        state="answered", answer="satisfied" if verdict else "dissatisfied", answered_at=now))
    add_events(conn, [TicketEvent(ticket_id=tid, at=now, actor="customer", kind="survey_answered",
                                  data={"satisfied": verdict})])
    if verdict:
        stats.satisfied += 1
        if t.handling.status == Status.RESOLVED:
            t2 = change_status(conn, tid, Status.CLOSED, actor="customer", note="客户满意", now=now)
            t2.handling.satisfied = True
            save_ticket(conn, t2)
    else:
        stats.reopened += 1
        if t.handling.status in (Status.RESOLVED, Status.CLOSED):
            reopen(conn, tid, actor="customer", reason="客户回复不满意", now=now)


def process_replies(store: Store, now: datetime | None = None, limit: int = 1000) -> SurveyStats:
    """Apply survey replies and unsubscribes that the SMS normaliser set aside."""
    now = now or utcnow()
    stats = SurveyStats()
    vault = get_vault()
    with store.begin() as conn:
        rows = conn.execute(select(raw_records.c.id, raw_records.c.state, raw_records.c.payload_enc,
                                   raw_records.c.landed_at)
                            .where(raw_records.c.state.in_(["survey_reply", "unsubscribe"]))
                            .order_by(raw_records.c.id).limit(limit)).all()
    for r in rows:
        # One transaction per reply: a bad one does not hold the others back.
        with store.begin() as conn:
            p = decode_payload(r.payload_enc, vault)
            phone_hash = vault.hash(str(p.get("mobile") or p.get("phone") or ""))
            text = str(p.get("content") or "")
            done = "survey_done"
            if r.state == "unsubscribe":
                if phone_hash:
                    conn.execute(insert_ignore(conn, contact_optouts, ["phone_hash"]),
                                 [{"phone_hash": phone_hash, "channel": "sms", "at": now}])
                    stats.optouts += 1
                done = "optout_done"
            else:
                survey = _pending_for(conn, phone_hash, now) if phone_hash else None
                if survey is None:
                    stats.unmatched += 1
                    done = "survey_unmatched"
                else:
                    _apply_answer(conn, survey, text, now, stats)
            conn.execute(update(raw_records).where(raw_records.c.id == r.id).values(state=done))
    return stats


def expire_surveys(store: Store, now: datetime | None = None) -> int:
    """Close tickets whose survey got no reply within `expire_after`."""
    now = now or utcnow()
    cutoff = now - get_chase_config().survey.expire_after
    n = 0
    with store.begin() as conn:
        rows = conn.execute(select(surveys.c.id, surveys.c.ticket_id).where(
            surveys.c.state == "pending", surveys.c.sent_at <= cutoff)).all()
        for s in rows:
            conn.execute(update(surveys).where(surveys.c.id == s.id).values(state="expired"))
            t = get_ticket(conn, s.ticket_id)
            if t is not None and t.handling.status == Status.RESOLVED:
                change_status(conn, s.ticket_id, Status.CLOSED, actor="hub", note="回访无回复，自动结案", now=now)
            n += 1
    return n
