"""A source's routing gives the event loop back between slices, so the other sources' pulls go on.

`sync_sources` runs every source in one event loop. A source that routed its whole
backlog in one go held the loop for minutes at 100k records: the other sources'
requests in flight sat unread until the server dropped their connections and their
retry budgets ran out (the 100k PostgreSQL pipeline benchmark failed on it). Here a
second coroutine, standing in for another source, must get the loop while the
routing is part-way done — before, it saw nothing routed and then everything.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.pipeline import sync
from hub.store.tables import tickets
from tests.fixtures.hub_config import clear_config_caches


def _routed(store) -> int:  # noqa: ANN001
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(tickets).where(
            tickets.c.source == "app", tickets.c.team.is_not(None))).scalar_one()


async def test_other_coroutines_run_while_a_source_routes_its_backlog(
        sandbox_factory, sqlite_store, hub_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    sb = sandbox_factory(seed=5, backlog=240, rate=0)
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(sb.urls))
    monkeypatch.setenv("HUB_SOURCE_URLS", str(urls))
    clear_config_caches()
    monkeypatch.setattr(sync, "ROUTE_SLICE", 10)  # a few slices out of this backlog
    seen: list[int] = []
    done = asyncio.Event()

    async def other_source() -> None:  # what another source's pull gets of the loop
        while not done.is_set():
            seen.append(_routed(sqlite_store))
            await asyncio.sleep(0)

    async def run() -> sync.SourceResult:
        try:
            return await sync.sync_once(sqlite_store, "app", sweep=False)
        finally:
            done.set()

    result, _ = await asyncio.gather(run(), other_source())
    assert not result.failed, result.error
    assert result.routed > 3 * 10, result.routed  # enough to need several slices
    assert _routed(sqlite_store) == result.routed
    partway = sorted({n for n in seen if 0 < n < result.routed})
    assert len(partway) >= 2, (partway, result.routed)  # the loop came back between slices, more than once
