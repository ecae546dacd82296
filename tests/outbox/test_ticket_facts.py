"""The drain's light read of a ticket (`hub.store.summaries.ticket_facts`) says what the whole Ticket says."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.schema import ClockState, RawRecord, utcnow
from hub.outbox.dispatch import dispatch_message, facts_of, reminder_message, ticket_summary
from hub.pipeline.enrich import enrich_and_route
from hub.pipeline.ingest import ingest_in
from hub.pipeline.normalise import NormaliseStats
from hub.store.summaries import ticket_facts
from hub.store.tables import clocks, tickets
from hub.store.tickets import get_tickets
from tests.outbox.helpers import make_ticket, put_ticket

generator = pytest.importorskip("sandbox.generator")


def _ingested_and_routed(store) -> list[str]:  # noqa: ANN001
    """Sandbox records of every source through the sync path's ingest (the fast row path) and enrich."""
    records, _truth = generator.generate_records_with_truth(3, 400)
    pages: dict[str, list[RawRecord]] = defaultdict(list)
    for source, ext, payload in records:
        pages[source].append(RawRecord(source=source, external_id=ext, payload=payload))
    stats = NormaliseStats()
    for source, page in pages.items():
        with store.begin() as conn:
            ingest_in(conn, source, page, None, stats=stats)
    enrich_and_route(store, stats.created_ids)
    return stats.created_ids


def test_ticket_facts_equal_the_whole_tickets_facts(store) -> None:  # noqa: ANN001
    ids = _ingested_and_routed(store)
    now = utcnow()
    # clocks in every state: paused and met ones hold no deadline for the team
    paused = put_ticket(store, make_ticket("F-paused", received=now - timedelta(hours=1)))
    stopped = put_ticket(store, make_ticket("F-met", received=now - timedelta(hours=2), phone=None))
    with store.begin() as conn:
        conn.execute(update(clocks).where(clocks.c.ticket_id == paused.ticket_id, clocks.c.kind == "first_response")
                     .values(state=ClockState.PAUSED.value, paused_at=now))
        conn.execute(update(clocks).where(clocks.c.ticket_id == stopped.ticket_id)
                     .values(state=ClockState.MET.value, stopped_at=now))
        # a row written before free text was sealed: content in the JSON, no encrypted blob
        legacy = stopped.ticket_id
        data = conn.execute(select(tickets.c.data).where(tickets.c.ticket_id == legacy)).scalar_one()
        data["matter"]["content"] = "旧工单正文 13812345678"
        conn.execute(update(tickets).where(tickets.c.ticket_id == legacy).values(pii_enc=None, data=data))
    every = [*ids, paused.ticket_id, stopped.ticket_id, "T-missing"]
    with store.begin() as conn:
        light = ticket_facts(conn, every)
        whole = get_tickets(conn, every)
    assert len(ids) > 300 and set(light) == set(whole) == set(every) - {"T-missing"}
    for tid, t in whole.items():
        assert light[tid] == facts_of(t), tid
        assert ticket_summary(light[tid]) == ticket_summary(t)
    # the facts carry what the tests below lean on: routed tickets, deadlines, masked data, free text
    routed = [whole[i] for i in ids if whole[i].handling.team]
    assert len(routed) > 300 and all(light[t.ticket_id].deadline is not None for t in routed)
    assert light[paused.ticket_id].deadline == paused.clocks[1].due_at  # the resolution clock still runs
    assert light[stopped.ticket_id].deadline is None
    assert light[legacy].content == "旧工单正文 13812345678" and light[legacy].phone_masked is None
    assert ticket_summary(light[legacy])["summary"] == "旧工单正文 138****5678"
    named = [f for f in light.values() if f.name_masked]
    assert named and all("*" in f.name_masked for f in named)
    assert all(f.content for f in light.values())


def test_team_messages_read_the_same_from_facts_and_tickets(sqlite_store) -> None:  # noqa: ANN001
    t = put_ticket(sqlite_store, make_ticket("F-msg", received=utcnow() - timedelta(hours=1), urgent=True))
    with sqlite_store.begin() as conn:
        f = ticket_facts(conn, [t.ticket_id])[t.ticket_id]
        t = get_tickets(conn, [t.ticket_id])[t.ticket_id]
    assert dispatch_message(f) == dispatch_message(t)
    payload = {"ticket_id": t.ticket_id, "level": "breach", "clock": "resolution", "recipients": ["lead"]}
    assert reminder_message(f, payload) == reminder_message(t, payload)
    text = dispatch_message(f).text
    assert "王*" in text and "138****5678" in text and "13812345678" not in text and "王建国" not in text
