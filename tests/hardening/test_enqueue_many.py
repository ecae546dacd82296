"""The batched outbox insert used by enrich + route (the bench fix): idempotent, both dialects."""

from __future__ import annotations

from sqlalchemy import select

from hub.store.outbox import enqueue, enqueue_many
from hub.store.tables import outbox


def test_enqueue_many_inserts_once_per_key(store) -> None:  # noqa: ANN001
    msgs = [{"key": f"dispatch:T{i}:cards:0", "kind": "dispatch", "target": "team:cards", "ticket_id": f"T{i}",
             "payload": {"ticket_id": f"T{i}", "n": i}} for i in range(6)]
    with store.begin() as conn:
        assert enqueue(conn, **msgs[0])
        assert enqueue_many(conn, msgs[:4]) == {m["key"] for m in msgs[1:4]}
    with store.begin() as conn:
        assert enqueue_many(conn, msgs) == {m["key"] for m in msgs[4:]}
        assert enqueue_many(conn, []) == set()
        rows = conn.execute(select(outbox.c.idempotency_key, outbox.c.state, outbox.c.payload)).all()
    assert sorted(r.idempotency_key for r in rows) == sorted(m["key"] for m in msgs)
    assert {r.state for r in rows} == {"pending"} and {r.payload["n"] for r in rows} == set(range(6))
