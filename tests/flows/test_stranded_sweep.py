"""The push and chase flows route what a dead run left without a team, like sync and cycle do.

A sync killed between normalising and routing leaves complaints with no team; the
next run of *anything* must finish them (issue 20), not only the next sync of that
source. Tickets are landed and normalised here exactly as a sync would, then not routed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.pipeline.ingest import ingest_in
from hub.pipeline.normalise import NormaliseStats
from hub.store.tables import clocks, outbox, tickets
from tests.mapping.helpers import raw, samples

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _strand(store) -> list[str]:  # noqa: ANN001
    """Land and normalise the app samples, route nothing (what a sync killed after normalising leaves)."""
    stats = NormaliseStats()
    with store.begin() as conn:
        ingest_in(conn, "app", [raw("app", p) for p in samples("app")], None, stats=stats)
    return stats.created_ids


def _unrouted(store, ids: list[str]) -> int:  # noqa: ANN001
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(tickets).where(
            tickets.c.ticket_id.in_(ids), tickets.c.kind == "complaint", tickets.c.team.is_(None))).scalar()


async def test_push_routes_stranded_complaints_and_sends_their_dispatches(flow_store, hub_sources) -> None:  # noqa: ANN001
    from flows.ops import push_updates

    ids = _strand(flow_store)
    assert ids and _unrouted(flow_store, ids) > 0
    stats = await push_updates()
    assert _unrouted(flow_store, ids) == 0
    with flow_store.begin() as conn:
        sent = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.kind == "dispatch", outbox.c.ticket_id.in_(ids), outbox.c.state == "sent")).scalar()
    assert sent > 0 and stats.by_kind.get("dispatch", 0) >= sent


def test_chase_routes_stranded_complaints_before_chasing(flow_store) -> None:  # noqa: ANN001
    from flows.ops import chase_overdue

    ids = _strand(flow_store)
    stranded = _unrouted(flow_store, ids)
    assert stranded > 0
    result = chase_overdue()
    assert _unrouted(flow_store, ids) == 0
    assert result.stranded.routed == stranded and result.stranded.per_source == {"app": stranded}
    with flow_store.begin() as conn:  # routed means clocks: the chase can see them now
        with_clocks = conn.execute(select(func.count(func.distinct(clocks.c.ticket_id))).where(
            clocks.c.ticket_id.in_(ids))).scalar()
    assert with_clocks == stranded
