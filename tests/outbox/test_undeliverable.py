"""An ops notice with no destination is `undeliverable` (never `sent`), logged at ERROR, and retryable."""

from __future__ import annotations

import logging

from sqlalchemy import select
from typer.testing import CliRunner

from hub.outbox.worker import drain_outbox
from hub.store import outbox as ob
from hub.store.tables import outbox
from tests.outbox.helpers import webhook_receiver


def _row(store):  # noqa: ANN001, ANN202
    with store.begin() as conn:
        return conn.execute(select(outbox.c.id, outbox.c.state, outbox.c.last_error, outbox.c.receipt)).one()


async def test_ops_notice_without_destination_is_undeliverable_and_logged(sqlite_store, monkeypatch, caplog) -> None:  # noqa: ANN001
    monkeypatch.delenv("HUB_OPS_WEBHOOK", raising=False)
    with sqlite_store.begin() as conn:
        ob.enqueue(conn, key="ops:flow-failed:1", kind="ops", target="ops",
                   payload={"what": "flow sync-source failed", "message": "AuthError"})
    with caplog.at_level(logging.ERROR, logger="hub.outbox.worker"):
        stats = await drain_outbox(sqlite_store, "w")
    row = _row(sqlite_store)
    assert row.state == "undeliverable" and stats.sent == 0 and stats.undeliverable == 1
    assert "HUB_OPS_WEBHOOK" in row.last_error
    assert any("undeliverable" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    with sqlite_store.begin() as conn:
        assert ob.count_undeliverable(conn) == 1
    # not claimed again by later drains: it waits for the operator
    assert (await drain_outbox(sqlite_store, "w")).claimed == 0


async def test_undeliverable_row_is_sent_after_the_destination_is_set(sqlite_store, monkeypatch) -> None:  # noqa: ANN001
    from cli import app
    from hub.store import db

    monkeypatch.delenv("HUB_OPS_WEBHOOK", raising=False)
    with sqlite_store.begin() as conn:
        ob.enqueue(conn, key="ops:dead:3:8", kind="ops", target="ops", payload={"what": "outbox row dead"})
    await drain_outbox(sqlite_store, "w")
    row = _row(sqlite_store)
    assert row.state == "undeliverable"
    db.use_store(sqlite_store)
    try:
        listed = CliRunner().invoke(app, ["outbox", "list", "--state", "undeliverable", "--json"])
        assert listed.exit_code == 0 and '"undeliverable"' in listed.stdout
        res = CliRunner().invoke(app, ["outbox", "retry", str(row.id)])
        assert res.exit_code == 0, res.output
    finally:
        db.use_store(None)
    with webhook_receiver() as rec:
        monkeypatch.setenv("HUB_OPS_WEBHOOK", rec.url)
        stats = await drain_outbox(sqlite_store, "w")
    assert stats.sent == 1 and rec.bodies[0]["what"] == "outbox row dead"
    assert _row(sqlite_store).state == "sent"
