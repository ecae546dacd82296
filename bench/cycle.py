"""Bench rows for whole-hub passes: an empty cycle of all five sources, and end-to-end latency.

    .venv/bin/python -m bench.cycle [--quick]

The hub pass is what `flows.cycle.run_cycle` does, without Prefect's orchestration
(its ~4 s per run against a server would hide the hub's own cost): the sync recipe
`hub.pipeline.sync.sync_once` for every source concurrently (one shared Chromium for
the portals), then the outbox drained.
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
os.environ.setdefault("HUB_SANDBOX", "1")  # benchmarks run against the sandbox



def all_sources() -> list[str]:
    """Every configured source (the registry's list)."""
    from connectors.registry import source_keys

    return source_keys()


async def hub_pass(store: Any, cfg: Any, rt: Any, sources: list[str] | None = None) -> dict[str, Any]:
    """One hub pass over `sources`: the sync recipe for each, concurrently, then the outbox drained."""
    from connectors.registry import is_portal
    from hub.outbox.worker import drain_outbox
    from hub.pipeline.sync import sync_once

    chosen = sources or all_sources()
    results = await asyncio.gather(*(sync_once(store, s, portal_runtime=rt if is_portal(s) else None)
                                     for s in chosen))
    failed = [r for r in results if r.failed]
    assert not failed, failed
    sent = 0
    while (d := await drain_outbox(store, "bench", limit=500)).claimed:
        sent += d.sent
    return {"new": sum(r.new for r in results), "tickets": sum(r.created + r.updated for r in results),
            "sent": sent}


async def connectors_only(store: Any, cfg: Any, rt: Any, sources: list[str] | None = None) -> int:
    """Baseline: the connectors' pulls from the committed cursors, nothing stored."""
    from connectors.registry import make_connector
    from hub.store.landing import get_cursor

    sources = sources or all_sources()
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
        from core.configfile import reload_config
        from hub.store.db import Store

        urls = self.sb.start(port=0)
        urls_file = Path(self.tmp.name) / "sandbox-urls.json"
        urls_file.write_text(json.dumps(urls))
        os.environ["HUB_SOURCE_URLS"] = str(urls_file)  # the sync recipe reads config/sources.yaml, as in production
        reload_config()
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
        os.environ.pop("HUB_SOURCE_URLS", None)
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
        sources = all_sources()
        for i in range(n):
            src = sources[i % len(sources)]
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
