"""The bulk writer stores exactly what Core stores (SQLite compares stored times as text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import text

from hub.store import bulk
from hub.store.migrate import upgrade
from hub.store.tables import raw_records, ticket_events, tickets

TIMES = [datetime(2026, 11, 1, 8, 4, 29, tzinfo=timezone(timedelta(hours=8))),  # whole second, +08:00
         datetime(2026, 11, 1, 0, 0, tzinfo=UTC), datetime(2026, 11, 1, 1, 2, 3, 4567, tzinfo=UTC)]


def _ticket(i: int, at: datetime) -> dict:
    return {"ticket_id": f"T{i}", "source": "app", "external_id": f"E{i}", "case_id": None, "is_primary": True,
            "incident_id": None, "kind": "complaint", "status": "new", "team": None, "handler": None,
            "first_handler": None, "category": None, "sub_category": None, "urgency": "general",
            "risk_level": "low", "risk_score": 0.5, "repeat_count": 0, "phone_hash": "h", "id_hash": None,
            "received_at": at, "ingested_at": at, "updated_at": at, "resolved_at": None, "next_due_at": at,
            "mapping_version": "app@1", "raw_hash": "r", "version": 1, "pii_enc": b"\x02x",
            "data": {"matter": {"content": "转账失败"}, "amount": "12.50"}}


def test_bulk_rows_are_stored_as_core_stores_them(sqlite_store):  # noqa: ANN001
    core = [_ticket(i, t) for i, t in enumerate(TIMES)]
    fast = [_ticket(i + 10, t) for i, t in enumerate(TIMES)]
    raw = [{"source": "app", "external_id": f"E{i}", "payload_hash": "p", "payload_enc": b"\x02y",
            "fetched_at": t, "landed_at": t, "state": "landed", "ticket_id": None} for i, t in enumerate(TIMES)]
    events = [{"ticket_id": "T0", "at": t, "actor": "hub", "kind": "created", "data": {"s": "app"}, "note": None}
              for t in TIMES]
    with sqlite_store.begin() as conn:
        conn.execute(tickets.insert(), core)
        bulk.executemany(conn, tickets.insert(), fast)
        conn.execute(raw_records.insert(), raw)
        bulk.executemany(conn, raw_records.insert(), [r | {"external_id": r["external_id"] + "b"} for r in raw])
        conn.execute(ticket_events.insert(), events)
        bulk.executemany(conn, ticket_events.insert(), events)
        stored = {name: conn.execute(text(f"SELECT * FROM {name} ORDER BY rowid")).all()  # noqa: S608
                  for name in ("tickets", "raw_records", "ticket_events")}
    n = len(TIMES)
    t = stored["tickets"]
    assert [r[3:] for r in t[:n]] == [r[3:] for r in t[n:]]  # all but the keys, column by column
    assert t[0].received_at == "2026-11-01 00:04:29.000000"
    r = stored["raw_records"]
    assert [(x.fetched_at, x.landed_at) for x in r[:n]] == [(x.fetched_at, x.landed_at) for x in r[n:]]
    e = stored["ticket_events"]
    assert [x[1:] for x in e[:n]] == [x[1:] for x in e[n:]]


def test_migration_gives_short_stored_times_their_microseconds(sqlite_store):  # noqa: ANN001
    from alembic import command

    from hub.store.migrate import alembic_config

    # back to the revision before 0008 for real (later revisions' columns go too), then forward again
    command.downgrade(alembic_config(sqlite_store.engine), "0008_sqlite_time_text")
    with sqlite_store.begin() as conn:
        conn.execute(tickets.insert(), [_ticket(1, TIMES[1])])
        conn.execute(text("UPDATE tickets SET received_at = '2026-11-01 00:00:00'"))  # as the old writer did
        conn.execute(text("UPDATE alembic_version SET version_num = '0007_ix_id_hash'"))
    upgrade(sqlite_store.engine)
    with sqlite_store.begin() as conn:
        assert conn.execute(text("SELECT received_at FROM tickets")).scalar() == "2026-11-01 00:00:00.000000"
        # and the query a report runs finds it at the start of its day
        assert conn.execute(tickets.select().where(tickets.c.received_at >= TIMES[1])).one().ticket_id == "T1"
