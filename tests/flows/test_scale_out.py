"""Scale-out: two workers on one PostgreSQL sync and push concurrently; nothing is processed twice."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from core.schema import Status
from hub.store.tables import outbox, ticket_events, tickets

pytestmark = pytest.mark.postgres

SOURCES = ["app", "callcenter", "sms"]


def _worker(store, name: str, errors: list[BaseException], barrier: threading.Barrier) -> None:  # noqa: ANN001
    """What one Prefect worker's sync + push runs do, minus Prefect: pull, land, normalise, route, send."""
    from cli.pull import pull_source
    from hub.outbox.worker import drain_outbox
    from hub.pipeline.enrich import enrich_and_route
    from hub.pipeline.normalise import normalise_pending

    async def run() -> None:
        barrier.wait()
        for source in SOURCES:
            await pull_source(store, source)
            stats = normalise_pending(store, source=source, batch=50)
            enrich_and_route(store, list(stats.created_ids) + list(stats.updated_ids))
        await drain_outbox(store, name, limit=500)

    try:
        asyncio.run(run())
    except BaseException as exc:  # noqa: BLE001 - surfaced by the test
        errors.append(exc)


def test_two_workers_sync_and_push_without_double_processing(pg_store, hub_sources):
    sb = hub_sources
    sb.generate(40)  # more work than one page so the two workers interleave
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=_worker, args=(pg_store, f"w{i}", errors, barrier)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors

    expected = {(r["source"], r["external_id"]) for s in SOURCES for r in sb.truth(s)
                if r["kind"] == "complaint" and not r["malformed"]}
    with pg_store.begin() as conn:
        got = conn.execute(select(tickets.c.source, tickets.c.external_id, tickets.c.ticket_id)
                           .where(tickets.c.source.in_(SOURCES))).all()
        created = Counter(r.ticket_id for r in conn.execute(
            select(ticket_events.c.ticket_id).where(ticket_events.c.kind == "created")))
        routed = Counter(r.ticket_id for r in conn.execute(
            select(ticket_events.c.ticket_id).where(ticket_events.c.kind == "routed")))
        dispatches = Counter(r.ticket_id for r in conn.execute(
            select(outbox.c.ticket_id).where(outbox.c.kind == "dispatch")))
        unsent = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.kind == "dispatch", outbox.c.state != "sent")).scalar()
    assert expected, "the sandbox generated no complaints"
    keys = {(r.source, r.external_id) for r in got}
    assert expected <= keys, f"lost: {sorted(expected - keys)[:5]}"
    assert len(got) == len(keys), "a complaint became two tickets"
    assert max(created.values()) == 1, "a ticket was created twice"
    assert routed and max(routed.values()) == 1, "a ticket was routed twice"
    assert max(dispatches.values()) == 1, "a ticket was dispatched twice"
    assert unsent == 0

    # both workers push a resolution concurrently: the source sees it once
    from hub.handling.actions import change_status
    from hub.outbox.worker import drain_outbox

    with pg_store.begin() as conn:
        tid, ext = conn.execute(select(tickets.c.ticket_id, tickets.c.external_id).where(
            tickets.c.source == "app", tickets.c.status == "assigned").limit(1)).one()
        change_status(conn, tid, Status.RESOLVED, actor="handler:test", note="已处理", reply="您好，已处理")

    async def two_drains() -> None:
        await asyncio.gather(drain_outbox(pg_store, "w1"), drain_outbox(pg_store, "w2"))

    asyncio.run(two_drains())
    assert len([w for w in sb.writes("app") if w["external_id"] == ext]) == 1
