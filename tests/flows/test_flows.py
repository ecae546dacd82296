"""Flows under Prefect's test harness against the sandbox: sync, isolation of failures, the cycle."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from connectors.registry import source_keys
from core.schema import Status
from hub.store.tables import outbox, raw_records, tickets

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _count(store, table, *where) -> int:  # noqa: ANN001
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


async def test_sync_source_lands_routes_and_reruns_safely(flow_store, hub_sources):
    from flows.sync import sync_source

    (row,) = await sync_source("app")
    assert row.source == "app" and row.pulled > 0 and row.new == row.pulled and row.created > 0
    app_tickets = _count(flow_store, tickets, tickets.c.source == "app")
    assert app_tickets > 0
    # every complaint ticket is routed with a team, a handler and a dispatch waiting in the outbox
    assert _count(flow_store, tickets, tickets.c.source == "app", tickets.c.kind == "complaint",
                  tickets.c.team.is_(None)) == 0
    assert _count(flow_store, outbox, outbox.c.kind == "dispatch") > 0
    # a rerun lands nothing new and creates no second ticket
    (again,) = await sync_source("app")
    assert again.new == 0 and again.created == 0
    assert _count(flow_store, tickets, tickets.c.source == "app") == app_tickets


async def test_sync_all_isolates_a_failing_source(flow_store, hub_sources, monkeypatch):
    from core.errors import SourcesFailed
    from flows.sync import sync_all

    monkeypatch.setenv("HUB_CALLCENTER_APP_SECRET", "wrong-secret")  # auth failure: fail fast, no retry loop
    state = await sync_all(sources=["app", "sms", "callcenter"], return_state=True)
    assert state.is_failed()
    assert "callcenter" in state.message and "AuthError" in state.message
    with pytest.raises(SourcesFailed):
        await state.result()
    # the other sources carried on
    landed = {r.source for r in _rows(flow_store)}
    assert {"app", "sms"} <= landed and "callcenter" not in landed


async def test_a_source_failing_mid_pull_still_routes_what_it_landed(flow_store, hub_sources, hub_config):
    from core.errors import SourcesFailed
    from flows.sync import sync_source

    y = hub_config / "sources.yaml"
    y.write_text(y.read_text(encoding="utf-8")
                 .replace("page_size: 200         # the API allows 1..200", "page_size: 2")
                 .replace("retry: {attempts: 5, total_seconds: 60, backoff_initial: 0.5, backoff_max: 20}\n"
                          "    overlap_minutes: 10", "retry: {attempts: 2, total_seconds: 5, backoff_initial: 0.1, "
                          "backoff_max: 0.2}\n    overlap_minutes: 10", 1), encoding="utf-8")
    # the token and two pages of 2 work, then the app goes down for good
    hub_sources.set_faults("app", outage_after=3, error_codes=[503])
    state = await sync_source("app", return_state=True)
    assert state.is_failed() and "TransientError" in state.message
    with pytest.raises(SourcesFailed):
        await state.result()
    # the two pages landed before the outage became tickets and were routed in this same run
    app = (tickets.c.source == "app", tickets.c.kind == "complaint")
    assert _count(flow_store, raw_records, raw_records.c.source == "app") == 4
    assert _count(flow_store, tickets, *app) > 0
    assert _count(flow_store, tickets, *app, tickets.c.team.is_(None)) == 0


def _rows(store):  # noqa: ANN001, ANN202
    with store.begin() as conn:
        return conn.execute(select(raw_records.c.source).distinct()).all()


async def test_hub_cycle_all_five_sources_then_push_back_once(flow_store, hub_sources):
    from flows.cycle import hub_cycle
    from flows.ops import push_updates
    from hub.handling.actions import change_status

    sb = hub_sources
    result = await hub_cycle()
    by_source = {r.source: r for r in result.sources}
    assert set(by_source) == set(source_keys())
    assert not [r for r in result.sources if r.failed], result.sources
    for s in source_keys():
        if s == "sms":
            continue  # SMS uplink may hold only survey replies/unsubscribes in a small backlog
        assert by_source[s].routed > 0, by_source[s]
    # dispatches to the teams were sent by the cycle's push step
    assert _count(flow_store, outbox, outbox.c.kind == "dispatch", outbox.c.state == "sent") > 0

    # a handler resolves one app ticket; the push flow sends it back exactly once, even when rerun
    with flow_store.begin() as conn:
        tid, ext = conn.execute(select(tickets.c.ticket_id, tickets.c.external_id).where(
            tickets.c.source == "app", tickets.c.status == "assigned").limit(1)).one()
        change_status(conn, tid, Status.RESOLVED, actor="handler:test", note="已退款", reply="已为您退款")
    await push_updates()
    await push_updates()
    replies = [w for w in sb.writes("app") if w["external_id"] == ext]
    assert len(replies) == 1, replies

    # a second cycle duplicates nothing
    before = _count(flow_store, tickets)
    again = await hub_cycle()
    assert sum(r.created for r in again.sources) == 0
    assert _count(flow_store, tickets) == before
    keys = Counter(w["idempotency_key"] for w in sb.writes("app") if w.get("idempotency_key"))
    assert keys and max(keys.values()) == 1


async def test_failed_flow_run_queues_one_ops_notification(flow_store, hub_sources, monkeypatch):
    from flows.sync import sync_source

    monkeypatch.setenv("HUB_APP_CLIENT_SECRET", "wrong-secret")
    state = await sync_source("app", return_state=True)
    assert state.is_failed()
    with flow_store.begin() as conn:
        rows = conn.execute(select(outbox.c.kind, outbox.c.target, outbox.c.payload)
                            .where(outbox.c.kind == "ops")).all()
    assert len(rows) == 1 and rows[0].target == "ops"
    assert rows[0].payload["flow"] == "sync-source" and "AuthError" in rows[0].payload["message"]
