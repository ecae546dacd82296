"""A source's tickets are routed page by page as they land, so the other sources' pulls go on.

`sync_sources` runs every source in one event loop. A source that routed its whole
backlog in one go after its pull held the loop for minutes at 100k records: the other
sources' requests in flight sat unread until the server dropped their connections and
their retry budgets ran out (the 100k PostgreSQL pipeline benchmark failed on it).
Here a second coroutine, standing in for another source, must get the loop while the
routing is part-way done — before, it saw nothing routed and then everything — and
what was routed page by page and after the pull must add up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import ConfigError
from hub.pipeline import sync
from hub.store.tables import tickets
from tests.fixtures.hub_sources import point_hub_at


def _routed(store) -> int:  # noqa: ANN001
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(tickets).where(
            tickets.c.source == "app", tickets.c.team.is_not(None))).scalar_one()


async def test_other_coroutines_run_while_a_source_routes_its_backlog(
        sandbox_factory, sqlite_store, hub_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    sb = sandbox_factory(seed=5, backlog=240, rate=0)
    sources = hub_config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8").replace(
        "    page_size: 200         # the API allows 1..200", "    page_size: 10"), encoding="utf-8")
    point_hub_at(sb, tmp_path, monkeypatch)
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
    assert result.pages > 3 and result.routed > 3 * 10, result  # several pages, each routed as it landed
    assert _routed(sqlite_store) == result.routed
    partway = sorted({n for n in seen if 0 < n < result.routed})
    assert len(partway) >= 3, (partway, result.routed)  # the loop came back between pages, again and again


async def test_a_routing_table_that_does_not_check_still_fails_the_sync_loudly(
        sandbox_factory, sqlite_store, hub_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Routing page by page stops at the first failure; the routing after the pull raises it, the tickets kept."""
    sb = sandbox_factory(seed=5, backlog=120, rate=0)
    routing = hub_config / "routing.yaml"
    routing.write_text(routing.read_text(encoding="utf-8").replace("    team: regulatory\n", "    team: nobody\n", 1),
                       encoding="utf-8")
    point_hub_at(sb, tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match="nobody"):
        await sync.sync_once(sqlite_store, "app", sweep=False)
    with sqlite_store.begin() as conn:
        made = conn.execute(select(func.count()).select_from(tickets).where(tickets.c.source == "app")).scalar_one()
    assert made > 0 and _routed(sqlite_store) == 0  # landed and normalised, routed by the next good run
