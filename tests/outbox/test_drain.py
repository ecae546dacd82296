"""The push worker against a real local webhook: signatures, retries, dead rows, two workers."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from core.schema import utcnow
from hub.outbox.worker import drain_outbox
from hub.store import outbox as ob
from hub.store.tables import outbox
from tests.outbox.helpers import make_ticket, put_ticket, webhook_receiver

SECRET = "hook-secret-for-tests"


def _hook_env(monkeypatch, url: str) -> None:  # noqa: ANN001
    monkeypatch.setenv("HUB_TEAM_CARDS_WEBHOOK", url)
    monkeypatch.setenv("HUB_TEAM_CARDS_WEBHOOK_SECRET", SECRET)


def _state(store, msg_id: int):  # noqa: ANN001, ANN202
    with store.begin() as conn:
        return conn.execute(select(outbox).where(outbox.c.id == msg_id)).one()


async def test_dispatch_signed_masked_with_link(store, monkeypatch) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("FB10", received=utcnow()))
    with store.begin() as conn:
        ob.enqueue(conn, key=f"dispatch:{t.ticket_id}", kind="dispatch", target="cards", ticket_id=t.ticket_id,
                   payload={"ticket_id": t.ticket_id, "team": "cards"})
    with webhook_receiver(SECRET) as rec:
        _hook_env(monkeypatch, rec.url)
        stats = await drain_outbox(store, "w1")
        again = await drain_outbox(store, "w1")
    assert stats.sent == 1 and again.claimed == 0
    assert rec.bad_signatures == 0 and rec.keys == {f"dispatch:{t.ticket_id}": 1}
    doc = rec.bodies[0]["ticket"]
    assert doc["customer"]["phone"] == "138****5678" and "13812345678" not in str(rec.bodies)
    assert doc["link"].endswith(f"/tickets/{t.ticket_id}") and doc["deadline"]
    row = _state(store, 1 if store.dialect == "sqlite" else _only_id(store))
    assert row.state == "sent" and {d["type"] for d in row.receipt["destinations"]} == {"queue", "webhook"}


def _only_id(store) -> int:  # noqa: ANN001
    with store.begin() as conn:
        return conn.execute(select(outbox.c.id)).scalar_one()


async def test_wrong_secret_is_refused_then_dead_and_operator_told(sqlite_store, monkeypatch, caplog) -> None:  # noqa: ANN001
    store = sqlite_store
    t = put_ticket(store, make_ticket("FB11", received=utcnow()))
    with store.begin() as conn:
        ob.enqueue(conn, key="dispatch:x", kind="dispatch", target="cards", ticket_id=t.ticket_id, payload={})
    mid = _only_id(store)
    with webhook_receiver("another-secret") as rec:
        _hook_env(monkeypatch, rec.url)
        stats = await drain_outbox(store, "w1")  # 401 → ConfigError: not retryable → dead at once
    assert rec.bad_signatures == 1 and stats.dead == 1
    assert _state(store, mid).state == "dead"
    with store.begin() as conn:
        ops = conn.execute(select(outbox).where(outbox.c.kind == "ops")).one()
    assert ops.payload["outbox_id"] == mid and "hub outbox retry" in ops.payload["hint"]


async def test_transient_failure_backs_off_then_dead(sqlite_store, monkeypatch, caplog) -> None:  # noqa: ANN001
    store = sqlite_store
    t = put_ticket(store, make_ticket("FB12", received=utcnow()))
    with store.begin() as conn:
        ob.enqueue(conn, key="dispatch:y", kind="dispatch", target="cards", ticket_id=t.ticket_id, payload={})
    mid = _only_id(store)
    now = utcnow()
    with webhook_receiver(SECRET, fail_with=503) as rec:
        _hook_env(monkeypatch, rec.url)
        s1 = await drain_outbox(store, "w1", now=now)
        row = _state(store, mid)
        assert s1.failed == 1 and row.state == "failed" and row.next_attempt_at > now
        assert (await drain_outbox(store, "w1", now=now)).claimed == 0  # backoff respected
        with store.begin() as conn:  # jump to the last allowed attempt
            conn.execute(update(outbox).where(outbox.c.id == mid).values(attempts=7))
        with caplog.at_level(logging.ERROR, logger="hub.outbox.worker"):
            s2 = await drain_outbox(store, "w1", now=now + timedelta(hours=2), kinds=["dispatch"])
    assert s2.dead == 1 and _state(store, mid).state == "dead"
    assert any("is dead after 8 attempt" in r.getMessage() for r in caplog.records)
    # the operator fixes the receiver and retries from the CLI
    from cli import app
    from hub.store import db

    db.use_store(store)
    try:
        res = CliRunner().invoke(app, ["outbox", "retry", str(mid)])
        assert res.exit_code == 0, res.output
        listing = CliRunner().invoke(app, ["outbox", "list", "--state", "pending", "--json"])
        assert f'"id": {mid}' in listing.output
    finally:
        db.use_store(None)
    with webhook_receiver(SECRET) as rec:
        _hook_env(monkeypatch, rec.url)
        s3 = await drain_outbox(store, "w1", kinds=["dispatch"])
    assert s3.sent == 1 and rec.keys == {"dispatch:y": 1}


def test_two_workers_on_postgres_send_each_row_once(pg_store, monkeypatch) -> None:  # noqa: ANN001
    store = pg_store
    t = put_ticket(store, make_ticket("FB13", received=utcnow()))
    with store.begin() as conn:
        for i in range(1000):
            ob.enqueue(conn, key=f"reminder:{i}", kind="reminder", target="cards", ticket_id=t.ticket_id,
                       payload={"ticket_id": t.ticket_id, "level": "warn_1", "recipients": ["li.na"]})
    claimed: dict[str, int] = {}
    errors: list[str] = []

    def worker(name: str) -> None:
        async def run() -> None:
            while (s := await drain_outbox(store, name, limit=50)).claimed:
                claimed[name] = claimed.get(name, 0) + s.claimed
                errors.extend(s.errors)

        asyncio.run(run())

    with webhook_receiver(SECRET) as rec:
        _hook_env(monkeypatch, rec.url)
        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in (1, 2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
    assert not errors, errors[:3]
    assert len(rec.keys) == 1000 and set(rec.keys.values()) == {1}
    assert sum(claimed.values()) == 1000 and all(claimed.get(w, 0) > 0 for w in ("w1", "w2"))
    with store.begin() as conn:
        assert conn.execute(select(outbox.c.state).distinct()).scalars().all() == ["sent"]
