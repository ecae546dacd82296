"""Seeding helpers for API, console and report tests: real Tickets written through the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from core.schema import (
    Clock,
    ClockKind,
    ClockState,
    Customer,
    Explanation,
    Handling,
    Judgement,
    Matter,
    Source,
    Status,
    Ticket,
    Urgency,
    make_ticket_id,
    utcnow,
)
from hub.store.db import Store
from hub.store.tickets import upsert_tickets

PHONE = "13812345678"
ID_NUMBER = "330102195001011234"


def make_ticket(external_id: str, *, team: str, title: str = "信用卡年费被乱收", content: str | None = None,
                source: Source = "app", status: Status = Status.ASSIGNED, handler: str | None = None,
                due_in: timedelta = timedelta(hours=3), warn_before: timedelta = timedelta(hours=1),
                urgency: Urgency = Urgency.GENERAL, received_at: datetime | None = None, repeat_count: int = 0,
                category: str = "product", tags: list[str] | None = None, now: datetime | None = None,
                first_state: ClockState = ClockState.RUNNING, stopped_at: datetime | None = None,
                satisfied: bool | None = None) -> Ticket:
    """A routed ticket with PII, a judgement with explanations and first-response/resolution clocks."""
    now = now or utcnow()
    received = received_at or now - timedelta(hours=1)
    due = now + due_in
    return Ticket(
        ticket_id=make_ticket_id(source, external_id), source=source, external_id=external_id,
        received_at=received, ingested_at=received, updated_at=now,
        customer=Customer(name="张三丰", phone=PHONE, id_number=ID_NUMBER),
        matter=Matter(title=title, content=content or f"{title}。我的电话{PHONE}，请尽快处理。",
                      demands=["退还费用"], amount=Decimal("300.00"), product="信用卡"),
        judgement=Judgement(category=category, sub_category="fees", urgency=urgency, risk_score=0.4,
                            risk_level="medium", repeat_count=repeat_count, tags=tags or []),
        handling=Handling(status=status, team=team, handler=handler, satisfied=satisfied),
        clocks=[Clock(kind=ClockKind.FIRST_RESPONSE, policy="general-4h", started_at=received, due_at=due,
                      warn_at=[due - warn_before], state=first_state, stopped_at=stopped_at),
                Clock(kind=ClockKind.RESOLUTION, policy="bank-15d", started_at=received,
                      due_at=due + timedelta(days=10), warn_at=[due + timedelta(days=8)])],
        explanations={"category": Explanation(value="product/fees", reason="keyword weight 3",
                                              matched=["年费", "乱收费"], score=3.0),
                      "route": Explanation(value=team, reason="rule fees→cards", matched=["rule:fees"])},
    )


def seed(store: Store, items: list[Ticket]) -> list[str]:
    """Write tickets (new ones are inserted whole: handling, judgement and clocks)."""
    with store.begin() as conn:
        res = upsert_tickets(conn, items)
    assert len(res.created) == len(items)
    return [t.ticket_id for t in items]
