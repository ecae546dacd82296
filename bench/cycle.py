"""Bench rows for whole-hub passes: an empty cycle of all five sources, and end-to-end latency.

    .venv/bin/python -m bench.cycle [--quick]

The hub pass is what `flows.cycle.run_cycle` does per source, without Prefect's
orchestration (its ~4 s per run against a server would hide the hub's own cost):
pull from the committed cursor and land (`cli.pull.pull_source`, one shared
Chromium for the two portals), normalise, enrich + route, drain the outbox.
- empty cycle: every source already synced, nothing new; baseline: the same five
  connectors' pulls from the same cursors with no store at all.
- end to end: a complaint injected into the sandbox (round-robin over the five
  sources) until its dispatch outbox row is `sent`, with hub passes back to back;
  baseline: the empty cycle (a complaint waits at least one pass).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HUB_PII_KEY", "q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU=")  # bench-only key

SOURCES = ["gov12315", "blackcat", "app", "sms", "callcenter"]


async def hub_pass(store: Any, cfg: Any, rt: Any, sources: list[str] = SOURCES) -> dict[str, Any]:
    """One hub pass over `sources`: pull+land concurrently, then normalise, route and drain."""
    from cli.pull import pull_source
    from connectors.registry import make_connector
    from hub.outbox.worker import drain_outbox
    from hub.pipeline.enrich import enrich_and_route
    from hub.pipeline.normalise import normalise_pending
    from hub.store.ledger import StorePushLedger

    async def one(src: str) -> int:
        conn = make_connector(src, config=cfg, ledger=StorePushLedger(store), portal_runtime=rt)
        try:
            return (await pull_source(store, src, connector=conn)).new
        finally:
            await conn.aclose()

    new = sum(await asyncio.gather(*(one(s) for s in sources)))
    norm = normalise_pending(store)
    if norm.changed_ids:
        enrich_and_route(store, norm.changed_ids)
    sent = 0
    while (d := await drain_outbox(store, "bench", limit=500)).claimed:
        sent += d.sent
    return {"new": new, "tickets": len(norm.changed_ids), "sent": sent}


async def connectors_only(store: Any, cfg: Any, rt: Any, sources: list[str] = SOURCES) -> int:
    """Baseline: the connectors' pulls from the committed cursors, nothing stored."""
    from connectors.registry import make_connector
    from hub.store.landing import get_cursor

    with store.begin() as c:
        cursors = {s: get_cursor(c, s) for s in sources}

    async def one(src: str) -> int:
        conn = make_connector(src, config=cfg, portal_runtime=rt)
        n = 0
        try:
            async for page in conn.pull(cursors[src]):
                n += len(page.records)
        finally:
            await conn.aclose()
        return n

    return sum(await asyncio.gather(*(one(s) for s in sources)))


class _Env:
    """A sandbox, a temp SQLite store, a shared Chromium, sources config; closed on exit."""

    def __init__(self, backlog: int) -> None:
        from sandbox import Sandbox

        self.tmp = tempfile.TemporaryDirectory(prefix="bench-cycle-")
        os.environ["HUB_HOME"] = self.tmp.name
        self.sb = Sandbox(seed=3, backlog=backlog, rate=0, malformed_rate=0.02)
        self.backlog = backlog

    async def __aenter__(self) -> _Env:
        from connectors.config import load_sources
        from connectors.portal.runtime import PortalRuntime
        from hub.store.db import Store

        urls = self.sb.start(port=0)
        self.cfg = load_sources(overrides=urls)
        self.store = Store(f"sqlite:///{self.tmp.name}/hub.db")
        self.store.upgrade()
        self.rt_cm = PortalRuntime(tracing=False)
        self.rt = await self.rt_cm.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.rt_cm.__aexit__(None, None, None)
        self.store.dispose()
        self.sb.stop()
        self.tmp.cleanup()


async def empty_cycle(quick: bool = False) -> dict[str, Any]:
    """Seconds for a hub pass with nothing new (median of 3) vs the bare connector pulls."""
    async with _Env(backlog=60 if quick else 200) as env:
        first = await hub_pass(env.store, env.cfg, env.rt)  # the initial sync (not timed)
        runs, base = [], []
        for _ in range(3):
            t = time.perf_counter()
            res = await hub_pass(env.store, env.cfg, env.rt)
            runs.append(time.perf_counter() - t)
            assert res["new"] == 0, res
            t = time.perf_counter()
            await connectors_only(env.store, env.cfg, env.rt)
            base.append(time.perf_counter() - t)
    return {"seconds": statistics.median(runs), "baseline_seconds": statistics.median(base),
            "synced_first": first["new"]}


async def e2e_latency(quick: bool = False) -> dict[str, Any]:
    """Median seconds from a complaint appearing in the sandbox to its dispatch row being sent."""
    from sqlalchemy import select

    from core.schema import make_ticket_id
    from hub.store.tables import outbox

    n = 5 if quick else 10
    async with _Env(backlog=20) as env:
        await hub_pass(env.store, env.cfg, env.rt)
        t = time.perf_counter()
        await hub_pass(env.store, env.cfg, env.rt)
        empty = time.perf_counter() - t
        lat: list[float] = []
        for i in range(n):
            src = SOURCES[i % len(SOURCES)]
            env.sb.advance(minutes=1)
            t0 = time.perf_counter()
            tid = make_ticket_id(src, env.sb.inject(src))
            for _ in range(20):
                await hub_pass(env.store, env.cfg, env.rt)
                with env.store.begin() as c:
                    done = c.execute(select(outbox.c.sent_at).where(
                        outbox.c.ticket_id == tid, outbox.c.kind == "dispatch", outbox.c.state == "sent")).first()
                if done:
                    lat.append(time.perf_counter() - t0)
                    break
            else:
                raise RuntimeError(f"{src} complaint {tid} was never dispatched")
    return {"seconds": statistics.median(lat), "max_seconds": max(lat), "baseline_seconds": empty, "n": n}


def main(argv: list[str] | None = None) -> int:
    """Print both figures as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    print(json.dumps({"empty_cycle": asyncio.run(empty_cycle(args.quick)),
                      "e2e": asyncio.run(e2e_latency(args.quick))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
