"""One sync of a source at a time across flows: a backfill and a sync-all beside a sync-source of the same source wait."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from core.schema import utcnow

pytestmark = pytest.mark.usefixtures("prefect_harness")


async def test_syncs_of_one_source_from_different_flows_never_overlap(flow_store, hub_sources, monkeypatch) -> None:  # noqa: ANN001
    import flows.tasks
    from flows.sync import backfill, sync_all, sync_source

    spans: list[tuple[str, float, float]] = []
    real_sync, real_backfill = flows.tasks.sync_once, flows.tasks.backfill_once

    async def timed_sync(store, source, **kw):  # noqa: ANN001, ANN202 - the real recipe, timed
        t0 = time.monotonic()
        try:
            return await real_sync(store, source, **kw)
        finally:
            spans.append((source, t0, time.monotonic()))

    async def timed_backfill(store, source, since, **kw):  # noqa: ANN001, ANN202
        t0 = time.monotonic()
        try:
            return await real_backfill(store, source, since, **kw)
        finally:
            spans.append((source, t0, time.monotonic()))

    monkeypatch.setattr(flows.tasks, "sync_once", timed_sync)
    monkeypatch.setattr(flows.tasks, "backfill_once", timed_backfill)
    hub_sources.set_faults("app", latency_ms=150)  # each request takes a while: overlap would show
    await asyncio.gather(sync_source("app"), sync_all(sources=["app", "sms"]),
                         backfill("app", since=utcnow() - timedelta(days=2)))
    app = sorted((a, b) for s, a, b in spans if s == "app")
    assert len(app) == 3, spans
    for (_, end), (start, _) in zip(app, app[1:], strict=False):
        assert start >= end, f"two syncs of app overlapped: {app}"
    from prefect import get_client

    async with get_client() as client:
        limit = await client.read_global_concurrency_limit_by_name("hub-sync-app")
    assert limit.limit == 1 and limit.active_slots == 0
