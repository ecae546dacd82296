"""Answers to the satisfaction survey (`hub.handling.survey` sends it), reopen and unsubscribes.

- `process_replies`: raw SMS records the normaliser marked `survey_reply` are
  matched by phone hash to the newest pending survey and graded
  (`hub.judge.intents.grade_reply`): satisfied → answered and the ticket closed;
  neutral → answered, closed (or reopened, `survey.neutral: reopen`), counted
  as neutral; dissatisfied → reopened to its first handler with a new clock, the
  customer's words kept on the timeline; unclear → recorded, survey left pending. Raw records marked
  `unsubscribe` add the number to `contact_optouts` (no further SMS).
- `expire_surveys`: no reply after `expire_after` → expired, ticket closed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from core.logs import get_logger
from core.pii import get_vault, scrub_text
from core.schema import Explanation, Status, Ticket, TicketEvent, Urgency, utcnow
from hub.chase.config import get_chase_config
from hub.handling.actions import change_status, reopen
from hub.judge import judge_text
from hub.judge.intents import Grade, grade_reply
from hub.labels import ESCALATION as ESCALATION_ZH
from hub.recovery.config import get_recovery_config
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
    neutral: int = 0
    reopened: int = 0
    unclear: int = 0
    unmatched: int = 0
    optouts: int = 0
    expired: int = 0
    #: the pass stopped at `deadlines.surveys` (config/recovery.yaml) with work left: the next run goes on
    cut_short: bool = False


def _pending_for(conn: Connection, phone_hash: str, at: datetime) -> Row[Any] | None:
    return conn.execute(select(surveys).where(surveys.c.phone_hash == phone_hash, surveys.c.state == "pending",
                                              surveys.c.sent_at <= at)
                        .order_by(surveys.c.sent_at.desc(), surveys.c.id.desc()).limit(1)).first()


def _apply_answer(conn: Connection, survey: Row[Any], text: str, now: datetime, stats: SurveyStats) -> None:
    grade = grade_reply(text)
    tid = survey.ticket_id
    t = get_ticket(conn, tid)
    if grade is None or t is None:
        stats.unclear += 1
        if t is not None:
            add_events(conn, [TicketEvent(ticket_id=tid, at=now, actor="customer", kind="survey_unclear",
                                          note=scrub_text(text)[:500])])
        return
    conn.execute(update(surveys).where(surveys.c.id == survey.id).values(
        state="answered", answer=grade.value, answered_at=now))
    # more than the bare answer ("2 钱还没退"): the customer's words stay on the timeline (masked)
    remark = scrub_text(text.strip())[:500] if len(text.strip()) > 2 else None
    add_events(conn, [TicketEvent(ticket_id=tid, at=now, actor="customer", kind="survey_answered",
                                  data={"grade": grade.value, "satisfied": {Grade.SATISFIED: True,
                                                                            Grade.DISSATISFIED: False}.get(grade)},
                                  note=remark)])
    reopen_it = grade is Grade.DISSATISFIED or (grade is Grade.NEUTRAL
                                                and get_chase_config().survey.neutral == "reopen")
    if not reopen_it:
        stats.satisfied += grade is Grade.SATISFIED
        stats.neutral += grade is Grade.NEUTRAL
        if t.handling.status == Status.RESOLVED:
            note = "客户满意" if grade is Grade.SATISFIED else "客户评价一般"
            t2 = change_status(conn, tid, Status.CLOSED, actor="customer", note=note, now=now)
            t2.handling.satisfied = True if grade is Grade.SATISFIED else None
            save_ticket(conn, t2)
        return
    stats.reopened += 1
    if t.handling.status in (Status.RESOLVED, Status.CLOSED):
        word = "不满意" if grade is Grade.DISSATISFIED else "评价一般"
        t = reopen(conn, tid, actor="customer", reason=f"客户回访{word}" + (f"：{remark}" if remark else ""), now=now)
        if remark:
            _mark_threat(conn, t, remark, now)


def _mark_threat(conn: Connection, t: Ticket, remark: str, now: datetime) -> None:
    """A reply that threatens to escalate ("2 还是没解决，我要投诉到12315") makes the reopened ticket urgent."""
    threat = judge_text("app", remark).escalation_intent  # judged as complaint text, not as an SMS reply
    if not threat:
        return
    j = t.judgement
    j.escalation_intent = sorted(set(j.escalation_intent) | set(threat), key=lambda x: x.value)
    j.urgency = Urgency.URGENT
    names = "、".join(ESCALATION_ZH[x.value] for x in threat)
    t.explanations["escalation"] = Explanation(value=",".join(x.value for x in j.escalation_intent),
                                               reason=f"客户回访回复中表示将升级投诉（{names}），按非常紧急处理")
    save_ticket(conn, t, [TicketEvent(ticket_id=t.ticket_id, at=now, actor="customer", kind="escalation_threat",
                                      note=remark, data={"targets": [x.value for x in threat]})])


def surveys_deadline() -> float:
    """The `time.monotonic()` by which a survey pass must end (`deadlines.surveys`, config/recovery.yaml)."""
    return time.monotonic() + get_recovery_config().deadlines.surveys.total_seconds()


def _cut(stats: SurveyStats, what: str) -> None:
    stats.cut_short = True
    log.warning("survey pass stopped at its deadline (config/recovery.yaml deadlines.surveys) while %s;"
                " what is left is taken by the next run", what)


def process_replies(store: Store, now: datetime | None = None, limit: int = 1000, *,
                    deadline: float | None = None) -> SurveyStats:
    """Apply survey replies and unsubscribes that the SMS normaliser set aside.

    `deadline` (a `time.monotonic()` value, default `surveys_deadline()`) is checked
    between replies: each reply commits on its own, so a pass cut short loses nothing.
    """
    now = now or utcnow()
    ends = surveys_deadline() if deadline is None else deadline
    stats = SurveyStats()
    vault = get_vault()
    with store.begin() as conn:
        rows = conn.execute(select(raw_records.c.id, raw_records.c.state, raw_records.c.payload_enc,
                                   raw_records.c.landed_at)
                            .where(raw_records.c.state.in_(["survey_reply", "unsubscribe"]))
                            .order_by(raw_records.c.id).limit(limit)).all()
    for r in rows:
        if time.monotonic() >= ends:
            _cut(stats, "applying replies")
            break
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


def expire_surveys(store: Store, now: datetime | None = None, *, deadline: float | None = None,
                   stats: SurveyStats | None = None) -> int:
    """Close tickets whose survey got no reply within `expire_after`; returns how many.

    Stops at `deadline` (as in `process_replies`; what it expired so far commits) and
    then sets `stats.cut_short` when given.
    """
    now = now or utcnow()
    ends = surveys_deadline() if deadline is None else deadline
    cutoff = now - get_chase_config().survey.expire_after
    n = 0
    with store.begin() as conn:
        rows = conn.execute(select(surveys.c.id, surveys.c.ticket_id).where(
            surveys.c.state == "pending", surveys.c.sent_at <= cutoff)).all()
        for s in rows:
            if time.monotonic() >= ends:
                _cut(stats if stats is not None else SurveyStats(), "expiring surveys")
                break
            conn.execute(update(surveys).where(surveys.c.id == s.id).values(state="expired"))
            t = get_ticket(conn, s.ticket_id)
            if t is not None and t.handling.status == Status.RESOLVED:
                change_status(conn, s.ticket_id, Status.CLOSED, actor="hub", note="回访无回复，自动结案", now=now)
            n += 1
    return n
