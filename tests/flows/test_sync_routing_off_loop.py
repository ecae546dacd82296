"""A source's routing runs off the event loop, so the other sources' pulls go on meanwhile.

`sync_sources` pulls every source concurrently in one event loop. Routing a pull's tickets
(enrich, case links, SLA clocks) is minutes of synchronous work at a large backlog; run on
the loop, it froze the other sources' requests in flight until their retry budgets had
passed and their kept-alive connections had been closed by the source, and those sources
failed ("Server disconnected", no retry left). The loop must keep running while one routes.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import hub.pipeline.sync as sync


async def test_the_loop_keeps_running_while_a_source_routes(
        sqlite_store, hub_sources, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    real = sync.enrich_and_route
    spans: list[tuple[float, float, int]] = []

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the real routing, its span and thread recorded
        t = time.monotonic()
        try:
            return real(*args, **kwargs)
        finally:
            spans.append((t, time.monotonic(), threading.get_ident()))

    monkeypatch.setattr(sync, "enrich_and_route", timed)
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    tick = asyncio.create_task(ticker())
    try:
        result = await sync.sync_once(sqlite_store, "callcenter", sweep=False)
    finally:
        done.set()
        await tick
    assert not result.failed, result.error
    assert result.routed > 0 and spans
    start, end, thread = max(spans, key=lambda s: s[1] - s[0])
    assert thread != threading.get_ident()  # not on the loop's thread
    during = [t for t in ticks if start < t < end]
    # the loop ticked all through the routing (on the loop: not once); a C call holding the GIL may
    # leave a gap of ~1/3 of a short routing here, never one near its whole length
    gaps = [b - a for a, b in zip([start, *during], [*during, end], strict=True)]
    assert len(during) >= 2 and max(gaps) < 0.75 * (end - start), (end - start, max(gaps), len(during))
