"""Alerts that survive the store: when the ops message cannot be queued it goes straight to the ops webhook.

And store failures are named as what they are: a full disk, a database that cannot be reached.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from core.errors import StoreUnavailable
from hub.outbox.ops_alert import raise_ops_alert
from hub.pipeline.pull import pull_source
from hub.store.db import Store
from hub.store.faults import store_fault
from hub.store.tables import outbox
from tests.outbox.helpers import webhook_receiver

DOWN_URL = "postgresql://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1


def test_alert_is_queued_while_the_store_works(sqlite_store) -> None:  # noqa: ANN001
    assert raise_ops_alert("ops:test:1", {"what": "x"}, store=sqlite_store) == "queued"
    with sqlite_store.begin() as conn:
        assert conn.execute(select(outbox.c.idempotency_key)).scalars().all() == ["ops:test:1"]


def test_alert_goes_direct_when_the_database_is_down(monkeypatch, caplog) -> None:  # noqa: ANN001
    down = Store(DOWN_URL)
    with webhook_receiver("ops-secret") as rec, caplog.at_level(logging.ERROR, logger="hub.ops"):
        monkeypatch.setenv("HUB_OPS_WEBHOOK", rec.url)
        monkeypatch.setenv("HUB_OPS_WEBHOOK_SECRET", "ops-secret")
        how = raise_ops_alert("ops:cycle-sources-failed:r1", {"what": "4 of 5 source(s) failed",
                                                              "failed": {"app": "客户 13812345678 超时"}}, store=down)
    assert how == "direct"
    assert rec.keys == {"ops:cycle-sources-failed:r1": 1} and rec.bad_signatures == 0
    assert rec.bodies[0]["what"] == "4 of 5 source(s) failed" and "13812345678" not in str(rec.bodies)
    assert any("could not be queued" in r.getMessage() for r in caplog.records)  # and it is in the log at ERROR
    down.dispose()


def test_alert_without_any_destination_is_at_least_logged(monkeypatch, caplog) -> None:  # noqa: ANN001
    monkeypatch.delenv("HUB_OPS_WEBHOOK", raising=False)
    down = Store(DOWN_URL)
    with caplog.at_level(logging.ERROR, logger="hub.ops"):
        assert raise_ops_alert("ops:test:2", {"what": "y"}, store=down) == "logged"
    assert any("no ops destination" in r.getMessage() for r in caplog.records)
    down.dispose()


def test_a_full_disk_is_called_a_full_disk(tmp_path) -> None:  # noqa: ANN001
    engine = create_engine(f"sqlite:///{tmp_path / 'small.db'}")
    with engine.begin() as conn:  # SQLite's own size cap gives the very error a full disk gives (SQLITE_FULL)
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    with pytest.raises(OperationalError) as caught, engine.begin() as conn:
        conn.execute(text("PRAGMA max_page_count = 3"))
        for _ in range(100):
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "满" * 2000})
    err = store_fault(caught.value, "landing a page of app")
    assert isinstance(err, StoreUnavailable)
    assert "disk is full" in str(err) and "hub db upgrade" not in str(err)
    engine.dispose()


async def test_an_unreachable_database_is_called_unreachable() -> None:
    down = Store(DOWN_URL)
    with pytest.raises(StoreUnavailable) as caught:
        await pull_source(down, "app")
    assert "database is unreachable" in str(caught.value) and "hub db upgrade" not in str(caught.value)
    assert len(str(caught.value)) < 600  # one line and a hint, not a page of SQL
    down.dispose()
