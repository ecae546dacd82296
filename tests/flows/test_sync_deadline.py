"""A sync cut short by its deadline (config/recovery.yaml deadlines.sync) keeps and routes what it landed.

The pull is cancelled at the deadline; the pages it landed before stay landed. The
source's result must say the sync failed on its deadline *and* count those pages —
an operator reading "0 pulled" would think nothing came in — and route their tickets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.pipeline.sync import sync_once
from hub.store.tables import raw_records, tickets
from tests.fixtures.hub_sources import point_hub_at


async def test_a_sync_cut_by_its_deadline_counts_and_routes_the_pages_it_landed(
        sandbox_factory, sqlite_store, hub_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    sb = sandbox_factory(seed=3, backlog=300, rate=0)
    recovery = hub_config / "recovery.yaml"
    recovery.write_text(recovery.read_text(encoding="utf-8").replace("  sync: 10m", "  sync: 2s"), encoding="utf-8")
    sources = hub_config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8").replace(
        "    page_size: 200         # the API allows 1..200", "    page_size: 4"), encoding="utf-8")
    point_hub_at(sb, tmp_path, monkeypatch)
    sb.set_faults("app", latency_ms=250)  # ~0.5 s a page (list + token): a few pages fit in 2 s, not all
    total = len(sb.truth("app"))
    result = await sync_once(sqlite_store, "app", sweep=False)
    with sqlite_store.begin() as conn:
        landed = conn.execute(select(func.count()).select_from(raw_records).where(raw_records.c.source == "app")).scalar()
        unrouted = conn.execute(select(func.count()).select_from(tickets).where(
            tickets.c.source == "app", tickets.c.kind == "complaint", tickets.c.team.is_(None))).scalar()
    assert result.failed and result.error_kind == "SyncDeadline", result.error
    assert 0 < landed < total, (landed, total)  # cut short: some pages in, not all
    assert result.pulled == landed and result.new == landed and result.pages > 0
    assert result.created + result.updated + result.quarantined + result.ignored == landed
    assert result.routed > 0 and unrouted == 0
