"""A drain with its sources down ends quickly: one failed push per source, the other rows deferred, none lost.

Before issue 20 each status update spent the retry layer's whole budget on a source
that was down, one after another: with every source down `hub cycle` sat in its push
phase for many minutes without a word.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from hub.outbox.worker import drain_outbox
from hub.store.outbox import enqueue_many
from hub.store.tables import outbox
from tests.outbox.test_e2e_sandbox import factory


async def test_drain_with_sources_down_ends_fast_and_defers_the_rest(sandbox_factory, sqlite_store,  # noqa: ANN001
                                                                   hub_config) -> None:  # noqa: ANN001
    # one push may take 8 s here (30 s in config/recovery.yaml): the bound is what is tested
    rec = hub_config / "recovery.yaml"
    rec.write_text(rec.read_text().replace("push_one: 30s", "push_one: 8s"))
    sb = sandbox_factory(seed=5, backlog=10, rate=0, faults={"app": {"outage_after": 0},
                                                             "callcenter": {"outage_after": 0}})
    rows = [{"key": f"status:{src}:{i}", "kind": "status_update", "target": src, "ticket_id": f"T{src}{i}",
             "payload": {"ticket_id": f"T{src}{i}", "source": src, "external_id": f"X{i}", "status": "resolved",
                         "reply": "已处理"}}
            for src in ("app", "callcenter") for i in range(8)]
    with sqlite_store.begin() as conn:
        enqueue_many(conn, rows)
    t0 = time.monotonic()
    stats = await drain_outbox(sqlite_store, "w", limit=100, connector_factory=factory(sb))
    took = time.monotonic() - t0
    print(f"\ndrain with app and callcenter down: {took:.1f} s, {stats.failed} failed, {stats.deferred} deferred")
    assert stats.down == ["app", "callcenter"]
    assert stats.failed == 2 and stats.deferred == 14 and stats.sent == 0
    with sqlite_store.begin() as conn:
        states = [r.state for r in conn.execute(select(outbox.c.state, outbox.c.attempts))]
        attempts = {r.attempts for r in conn.execute(select(outbox.c.attempts).where(outbox.c.state == "pending"))}
    assert sorted(set(states)) == ["failed", "pending"] and attempts == {0}  # deferred rows lost no attempt
    # one push bound per source that is down (2 × 8 s here), not one retry budget per row (16 rows: ~280 s)
    assert took < 40, took
