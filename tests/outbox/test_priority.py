"""Delivery priorities: a pass drains customer- and regulator-facing rows before a burst of team messages."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from core.schema import utcnow
from hub.outbox.priority import backlog, claim_by_priority
from hub.outbox.worker import drain_outbox
from hub.store.outbox import enqueue_many


def _burst(store, n_dispatch: int = 300, n_reminder: int = 80, n_status: int = 40, n_sms: int = 30) -> None:  # noqa: ANN001
    # the team burst is queued first: in plain due order it would take the whole pass
    rows = ([{"key": f"d{i}", "kind": "dispatch", "target": "team:cards", "payload": {"n": i}} for i in range(n_dispatch)]
            + [{"key": f"r{i}", "kind": "reminder", "target": "team:cards", "payload": {"n": i}} for i in range(n_reminder)]
            + [{"key": f"s{i}", "kind": "status_update", "target": "app", "payload": {"n": i}} for i in range(n_status)]
            + [{"key": f"m{i}", "kind": "sms", "target": "sms", "payload": {"n": i}} for i in range(n_sms)])
    with store.begin() as conn:
        enqueue_many(conn, rows)


def test_customer_facing_kinds_are_claimed_first_within_quotas(store) -> None:  # noqa: ANN001
    _burst(store)
    got = Counter(m.kind for m in claim_by_priority(store, "w1", limit=100, now=utcnow() + timedelta(seconds=1)))
    assert got["status_update"] == 40 and got["sms"] == 30  # every customer-facing row in the first pass
    # the teams still get their share of the pass (quotas), not nothing
    assert got["dispatch"] == 25 and got["reminder"] == 5  # its quota, then what the others left
    assert sum(got.values()) == 100


def test_unused_quota_flows_to_the_next_kinds(store) -> None:  # noqa: ANN001
    _burst(store, n_status=0, n_sms=2)
    got = Counter(m.kind for m in claim_by_priority(store, "w1", limit=100, now=utcnow() + timedelta(seconds=1)))
    assert got["sms"] == 2
    assert got["dispatch"] + got["reminder"] == 98 and got["reminder"] >= 5


def test_backlog_per_kind_with_oldest_age(sqlite_store) -> None:  # noqa: ANN001
    _burst(sqlite_store)
    later = utcnow() + timedelta(minutes=30)
    claim_by_priority(sqlite_store, "w1", limit=50, now=later)
    rows = {b.kind: b for b in backlog(sqlite_store, now=later)}
    assert [b.kind for b in backlog(sqlite_store, now=later)] == ["status_update", "sms", "dispatch", "reminder"]
    assert rows["dispatch"].waiting == 300 and rows["sms"].waiting == 30  # claimed rows still wait (in flight)
    assert 29.0 <= rows["status_update"].oldest_minutes <= 31.0


async def test_drain_reports_what_still_waits(sqlite_store) -> None:  # noqa: ANN001
    _burst(sqlite_store, n_dispatch=0, n_reminder=0, n_status=0, n_sms=0)
    with sqlite_store.begin() as conn:
        enqueue_many(conn, [{"key": f"x{i}", "kind": "dispatch", "target": "team:nobody", "payload": {}}
                            for i in range(5)])
    stats = await drain_outbox(sqlite_store, "w1", limit=2, kinds=["reminder"])  # nothing of that kind is due
    assert stats.claimed == 0
    assert stats.backlog == [{"kind": "dispatch", "waiting": 5, "oldest_minutes": 0.0}]
