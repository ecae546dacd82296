"""Build and store tickets for routing tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from core.pii import get_vault
from core.schema import SHANGHAI, Customer, Matter, Source, Ticket, make_ticket_id
from hub.store.db import Store
from hub.store.tickets import upsert_tickets

_seq = itertools.count(1)


def L(*a: int) -> datetime:  # noqa: N802
    """A local (Asia/Shanghai) time."""
    return datetime(*a, tzinfo=SHANGHAI)


def make(text: str, *, source: str = "app", at: datetime | None = None, phone: str | None = None,
         case_id: str | None = None, amount: str | None = None, title: str = "", elderly: bool = False,
         repeat_count: int = 0) -> Ticket:
    n = next(_seq)
    ext = f"EXT{n:06d}"
    t = Ticket(ticket_id=make_ticket_id(source, ext), source=Source(source), external_id=ext, case_id=case_id,
               received_at=at or L(2026, 11, 23, 10),
               customer=Customer(name="王建国", phone=phone, phone_hash=get_vault().hash(phone) if phone else None,
                                 elderly=elderly),
               matter=Matter(title=title or text[:20], content=text,
                             amount=Decimal(amount) if amount else None))
    t.judgement.repeat_count = repeat_count
    return t


def store_tickets(store: Store, *tickets: Ticket) -> list[str]:
    with store.begin() as conn:
        upsert_tickets(conn, list(tickets))
    return [t.ticket_id for t in tickets]
