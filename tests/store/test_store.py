"""Store guarantees, proven on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.schema import (
    Clock,
    ClockKind,
    Customer,
    Matter,
    RawRecord,
    Source,
    Ticket,
    make_ticket_id,
    utcnow,
)
from hub.store import landing, outbox
from hub.store.tables import raw_records, sync_state, ticket_events, tickets
from hub.store.tickets import get_events, get_ticket, save_ticket, upsert_tickets


def _raw(i: int, source: Source = "app") -> RawRecord:
    return RawRecord(source=source, external_id=f"FB{i:06d}",
                     payload={"id": f"FB{i:06d}", "content": f"第{i}条投诉", "mobile": "13812345678"})


def _ticket(ext: str = "FB000001", content: str = "转账失败", raw_hash: str = "h1") -> Ticket:
    return Ticket(ticket_id=make_ticket_id("app", ext), source="app", external_id=ext,
                  received_at=utcnow(), customer=Customer(name="张三", phone="13812345678",
                                                          id_number="330102195001011234"),
                  matter=Matter(title="转账", content=content), raw_hash=raw_hash)


def test_land_commits_records_and_cursor_together(store):
    res = landing.land(store, "app", [_raw(i) for i in range(1200)], {"cursor": "c1"})
    assert (res.seen, res.new) == (1200, 1200)
    with store.begin() as conn:
        assert landing.get_cursor(conn, "app") == {"cursor": "c1"}
        assert conn.execute(select(func.count()).select_from(raw_records)).scalar() == 1200
    # landing the same page again is a no-op for records, and moves the cursor
    res = landing.land(store, "app", [_raw(i) for i in range(1200)], {"cursor": "c2"})
    assert res.new == 0


def test_land_failure_midway_leaves_neither_records_nor_cursor(store):
    def records_then_crash():
        for i in range(1100):  # two full chunks get inserted before the failure
            yield _raw(i)
        raise RuntimeError("connector died mid-page")

    with pytest.raises(RuntimeError):
        landing.land(store, "app", records_then_crash(), {"cursor": "after-crash"})
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(raw_records)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(sync_state)).scalar() == 0


def test_raw_payload_is_encrypted_at_rest(store):
    landing.land(store, "app", [_raw(1)], None)
    with store.begin() as conn:
        blob = conn.execute(select(raw_records.c.payload_enc)).scalar()
        assert b"13812345678" not in blob
        (rid, rec), = landing.pending_raw(conn)
        assert rec.payload["mobile"] == "13812345678"


def test_ticket_upsert_is_keyed_by_source_and_external_id(store):
    with store.begin() as conn:
        r1 = upsert_tickets(conn, [_ticket()])
    assert len(r1.created) == 1
    with store.begin() as conn:  # same data again: nothing happens
        r2 = upsert_tickets(conn, [_ticket()])
    assert r2.unchanged == r1.created
    with store.begin() as conn:  # changed at the source: an update plus an event
        r3 = upsert_tickets(conn, [_ticket(content="转账失败，补充：已经三天了", raw_hash="h2")])
        assert r3.updated == r1.created
        assert conn.execute(select(func.count()).select_from(tickets)).scalar() == 1
        kinds = [e.kind for e in get_events(conn, r1.created[0])]
        assert kinds == ["created", "updated"]
        t = get_ticket(conn, r1.created[0])
        assert t.matter.content.endswith("已经三天了")
        assert t.customer.phone.reveal() == "13812345678"


def test_source_update_keeps_hub_handling(store):
    t = _ticket()
    with store.begin() as conn:
        upsert_tickets(conn, [t])
        t.handling.team, t.handling.handler = "cards", "li.wei"
        now = utcnow()
        t.clocks = [Clock(kind=ClockKind.FIRST_RESPONSE, policy="general", started_at=now,
                          due_at=now + timedelta(hours=4))]
        save_ticket(conn, t)
    with store.begin() as conn:
        upsert_tickets(conn, [_ticket(content="补充材料", raw_hash="h9")])
        again = get_ticket(conn, t.ticket_id)
    assert again.handling.team == "cards" and again.handling.handler == "li.wei"
    assert again.clock(ClockKind.FIRST_RESPONSE) is not None
    assert again.matter.content == "补充材料"


def test_ticket_pii_encrypted_in_row(store):
    with store.begin() as conn:
        upsert_tickets(conn, [_ticket()])
        row = conn.execute(select(tickets)).one()
    assert b"13812345678" not in row.pii_enc
    assert "13812345678" not in str(row.data)
    assert "330102195001011234" not in str(row.data)


def test_outbox_enqueue_is_idempotent(store):
    with store.begin() as conn:
        assert outbox.enqueue(conn, key="k1", kind="dispatch", target="team:cards", payload={"a": 1})
        assert not outbox.enqueue(conn, key="k1", kind="dispatch", target="team:cards", payload={"a": 1})


def test_outbox_concurrent_claimers_never_share_a_row(store):
    with store.begin() as conn:
        for i in range(300):
            outbox.enqueue(conn, key=f"k{i}", kind="dispatch", target="team:x", payload={"i": i})
    got: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        barrier.wait()
        while batch := outbox.claim(store, name, limit=7):
            got[name].extend(m.id for m in batch)
            time.sleep(0.002)  # "sending" takes time, so the other worker gets a turn

    threads = [threading.Thread(target=worker, args=(n,)) for n in got]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 300
    assert got["a"] and got["b"], "both workers should have taken some rows"


def test_outbox_failure_backoff_then_dead(store):
    with store.begin() as conn:
        outbox.enqueue(conn, key="k", kind="sms", target="sms", payload={}, secret={"phone": "13812345678"})
    (msg,) = outbox.claim(store, "w")
    assert msg.secret == {"phone": "13812345678"}
    with store.begin() as conn:
        assert outbox.mark_failed(conn, msg.id, msg.attempts, "502", max_attempts=2) == "failed"
    assert outbox.claim(store, "w") == []  # backoff: not due yet
    (msg,) = outbox.claim(store, "w", now=utcnow() + timedelta(hours=3))
    with store.begin() as conn:
        assert outbox.mark_failed(conn, msg.id, msg.attempts, "502", max_attempts=2) == "dead"


def test_events_timeline_order(store):
    with store.begin() as conn:
        upsert_tickets(conn, [_ticket()])
        assert conn.execute(select(func.count()).select_from(ticket_events)).scalar() == 1
