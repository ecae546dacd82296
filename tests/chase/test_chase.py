"""Chase: warnings, breach, escalation chain, once ever, quiet hours, nearer clocks looked at sooner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub.chase.reminders import chase
from hub.handling import actions as handling
from hub.store.tables import clocks, outbox, reminders
from hub.store.tickets import get_events
from tests.outbox.helpers import make_ticket, put_ticket

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: outside quiet hours


def _levels(store, ticket_id: str) -> list[tuple[str, str, str]]:  # noqa: ANN001
    with store.begin() as conn:
        return [(r.clock_kind, r.level, r.recipient) for r in conn.execute(
            select(reminders).where(reminders.c.ticket_id == ticket_id).order_by(reminders.c.id))]


def test_warn_breach_escalate_once_ever(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("FB20", received=T0))  # first response due T0+4h, warnings +2h, +3h
    assert chase(store, now=T0 + timedelta(hours=1)).scanned == 0  # nothing due: not even looked at
    s = chase(store, now=T0 + timedelta(hours=2, minutes=5))
    assert s.reminders == 1 and _levels(store, t.ticket_id) == [("first_response", "warn_1", "li.na")]
    assert chase(store, now=T0 + timedelta(hours=2, minutes=6)).reminders == 0
    s = chase(store, now=T0 + timedelta(hours=4, minutes=1))
    assert s.breached == 1 and s.by_level == {"breach": 1}
    s = chase(store, now=T0 + timedelta(hours=6, minutes=2))
    assert s.by_level == {"escalate_1": 1}
    s = chase(store, now=T0 + timedelta(hours=28, minutes=2))
    assert s.by_level == {"escalate_2": 1, "warn_1": 1}  # first response → compliance; resolution warning
    got = _levels(store, t.ticket_id)
    assert ("first_response", "breach", "li.na,lead.cards") in got
    assert ("first_response", "escalate_1", "dept.head.consumer") in got
    assert ("first_response", "escalate_2", "compliance.officer") in got
    # a later save recomputes next_alert_at from scratch: the chase looks again but sends nothing twice
    with store.begin() as conn:
        handling.add_note(conn, t.ticket_id, actor="lead.cards", note="跟进中")
    again = chase(store, now=T0 + timedelta(hours=28, minutes=3))
    assert again.scanned >= 1 and again.reminders == 0
    with store.begin() as conn:
        n_out = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.kind == "reminder")).scalar()
        events = [e for e in get_events(conn, t.ticket_id) if e.kind == "reminded"]
        state = conn.execute(select(clocks.c.state).where(clocks.c.ticket_id == t.ticket_id,
                                                          clocks.c.kind == "first_response")).scalar()
    assert n_out == len(got) == len(events) == 5 and state == "breached"


def test_quiet_hours_defer_non_urgent_only(store) -> None:  # noqa: ANN001
    night = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 Shanghai
    calm = put_ticket(store, make_ticket("FB21", received=night - timedelta(hours=3)))
    hot = put_ticket(store, make_ticket("FB22", received=night - timedelta(hours=3), urgent=True))
    s = chase(store, now=night + timedelta(minutes=30))
    assert s.deferred == 1 and s.by_level == {"warn_2": 1}  # only the urgent one is chased at night
    assert _levels(store, calm.ticket_id) == [] and _levels(store, hot.ticket_id)
    with store.begin() as conn:
        nxt = conn.execute(select(clocks.c.next_alert_at).where(clocks.c.ticket_id == calm.ticket_id,
                                                                clocks.c.kind == "first_response")).scalar()
    assert nxt == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 Shanghai: deferred, not dropped
    morning = chase(store, now=nxt + timedelta(minutes=1))
    assert ("first_response", "breach", "li.na,lead.cards") in _levels(store, calm.ticket_id)
    assert morning.reminders >= 1


def test_nearer_clocks_are_looked_at_sooner(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("FB23", received=T0, first_hours=4, resolution_hours=400))
    now = T0 + timedelta(hours=2, minutes=4)
    chase(store, now=now)
    with store.begin() as conn:
        rows = dict(conn.execute(select(clocks.c.kind, clocks.c.next_alert_at)
                                 .where(clocks.c.ticket_id == t.ticket_id)).all())
    fr = rows["first_response"]  # 56 min before its next threshold: looked at again in 28 min
    assert fr == now + timedelta(minutes=28)
    assert rows["resolution"] == T0 + timedelta(hours=200)  # far away and never looked at yet


def test_chain_shorter_than_steps(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("FB24", received=T0, team="regulatory", handler="qian.bo"))
    chase(store, now=T0 + timedelta(hours=30))
    levels = {lv: who for _, lv, who in _levels(store, t.ticket_id)}
    assert levels["escalate_1"] == "compliance.officer" and "escalate_2" not in levels
