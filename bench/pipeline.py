"""bench/pipeline: a sandbox backlog through the whole sync path, in records/s and peak memory.

    python -m bench.pipeline --n 100000 --db sqlite|postgres [--profile FILE]

The sandbox runs in its own process (an in-process server would share the hub's
GIL) with a backlog whose API-source share is N records (the backlog spreads over
all five systems by their mix; the portals' share is left unpulled: a browser
scrape has its own row, `portal`). Timed from an empty store until the outbox is
empty again:
1. `hub.pipeline.sync.sync_sources` over the API sources (app, sms, callcenter):
   the real sync recipe, pages pulled over HTTP, each landed and normalised with its
   cursor, then enrich (case links, judgement, SLA) and route of every new ticket, and
   the stranded sweep;
2. `hub.outbox.worker.drain_outbox` until nothing is due: dispatches to the teams'
   destinations (a local signed webhook receiver, in its own process, stands in for
   the cards team's) and the source acknowledgements back to the sandbox.

A source whose pull passes its sync deadline (config/recovery.yaml) resumes from its
cursor in another pass, as the scheduler's next run would. Prints records/s (new
raw records landed / seconds), the share of each stage (pull + land +
normalise, enrich + route, sweep, drain) and the peak resident memory of this
process (the sandbox and the receiver are other processes). The store is SQLite
in a temp dir or a throw-away PostgreSQL database (`bench.pgdb`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HUB_PII_KEY", "q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU=")  # bench-only key
os.environ.setdefault("HUB_SANDBOX", "1")  # benchmarks run against the sandbox
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

#: the sources pulled over plain HTTP APIs (the portals need a browser: the `portal` row)
API_SOURCES = ("app", "sms", "callcenter")
#: sync passes at most (a pass ends a source's pull at its deadline; the next resumes from the cursor)
MAX_PASSES = 20


def serve(backlog: int, urls_q: Any, stop: Any) -> None:
    """Child process: a sandbox with `backlog` complaints spread over three days, until `stop` is set."""
    from sandbox import Sandbox  # the child process only

    t = time.perf_counter()
    sb = Sandbox(seed=11, rate=0, backlog=backlog, malformed_rate=0.02)
    urls = sb.start(port=0)
    counts = {s: len(sb.records(s)) for s in urls}
    urls_q.put({"urls": urls, "counts": counts, "seconds": time.perf_counter() - t})
    try:
        stop.wait(timeout=3600)  # bounded even if the parent dies
    finally:
        sb.stop()


def backlog_for(n: int) -> int:
    """The sandbox backlog whose API-source share is about `n` records (by the systems' mix)."""
    from sandbox.systems import SYSTEMS

    share = sum(SYSTEMS[s].mix for s in API_SOURCES) / sum(s.mix for s in SYSTEMS.values())
    return round(n / share)


class StageClock:
    """Seconds spent inside chosen functions (wrapped where the sync recipe looks them up)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    def wrap(self, module: Any, name: str, stage: str) -> None:
        """Time every call of `module.name` as `stage` (sync or async)."""
        fn = getattr(module, name)
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*a: Any, **k: Any) -> Any:
                t = time.perf_counter()
                try:
                    return await fn(*a, **k)
                finally:
                    self.seconds[stage] += time.perf_counter() - t
            setattr(module, name, timed_async)
        else:
            @functools.wraps(fn)
            def timed(*a: Any, **k: Any) -> Any:
                t = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    self.seconds[stage] += time.perf_counter() - t
            setattr(module, name, timed)


class RssPeak:
    """Peak resident memory of this process over a phase (sampled every 20 ms)."""

    def __enter__(self) -> RssPeak:
        from bench.ingest import RssSampler

        self._s = RssSampler()
        self._s.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mb = self._s.stop()


@contextlib.contextmanager
def _child(target: Callable[..., None], *args: Any) -> Iterator[Any]:
    """Run `target(*args, queue, stop)` in a spawned process; yield what it first puts on the queue."""
    ctx = mp.get_context("spawn")
    q, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=target, args=(*args, q, stop), daemon=True)
    proc.start()
    try:
        yield q.get(timeout=900)
    finally:
        stop.set()
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()


def _receiver(q: Any, stop: Any) -> None:
    """Child process: the signed-webhook receiver of bench/chase.py, until `stop` is set."""
    import threading

    from bench.chase import _serve

    counter = mp.Value("i", 0)
    threading.Thread(target=_serve, args=(q, counter), daemon=True).start()
    stop.wait(timeout=3600)


async def _run(store: Any, clock: StageClock) -> dict[str, Any]:
    from hub.outbox.worker import drain_outbox
    from hub.pipeline.sync import sync_sources

    t0 = time.perf_counter()
    results: list[Any] = []
    todo = list(API_SOURCES)
    for _ in range(MAX_PASSES):
        # a pull that passes its deadline (config/recovery.yaml) resumes from its cursor in the next
        # run, as the scheduler would start it: the backlog is drained by as many passes as it takes
        passed = await sync_sources(store, todo)
        results += passed
        failed = [r for r in passed if r.failed and r.error_kind != "SyncDeadline"]
        if failed:
            raise RuntimeError(f"sync failed: {[(r.source, r.error) for r in failed]}")
        todo = [r.source for r in passed if r.failed]
        if not todo:
            break
    else:
        raise RuntimeError(f"{todo} still behind after {MAX_PASSES} passes")
    t_sync = time.perf_counter() - t0
    sent = drained = 0
    t1 = time.perf_counter()
    while (d := await drain_outbox(store, "bench-pipeline", limit=500)).claimed:
        sent += d.sent
        drained += d.claimed
    t_drain = time.perf_counter() - t1
    # counted in the store, which started empty: a pass cut at its deadline reports no counts for
    # the pages it did land (hub.pipeline.sync), so the results alone would undercount
    from sqlalchemy import func, select

    from hub.store.tables import raw_records, tickets

    with store.begin() as conn:
        landed = conn.execute(select(func.count()).select_from(raw_records)).scalar_one()
        made = conn.execute(select(func.count()).select_from(tickets)).scalar_one()
        routed = conn.execute(select(func.count()).select_from(tickets).where(tickets.c.team.is_not(None))).scalar_one()
    return {"results": [r.row() for r in results], "source_runs": len(results), "sync_s": t_sync, "drain_s": t_drain, "sent": sent,
            "claimed": drained, "pulled": sum(r.pulled for r in results), "new": landed, "created": made,
            "routed": routed, "quarantined": sum(r.quarantined for r in results)}


def measure(n: int, db: str = "sqlite", profile: Path | None = None) -> dict[str, Any]:
    """Run the pipeline over a backlog with about `n` API-source records; the figures."""
    backlog = backlog_for(n)
    with contextlib.ExitStack() as stack:
        stack.callback(_restore_env, {k: os.environ.get(k) for k in _ENV_KEYS})
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pipeline-")))
        os.environ["HUB_HOME"] = str(tmp / "home")
        hook_port = stack.enter_context(_child(_receiver))
        os.environ["HUB_TEAM_CARDS_WEBHOOK"] = f"http://127.0.0.1:{hook_port}/hook"
        os.environ["HUB_TEAM_CARDS_WEBHOOK_SECRET"] = "bench-secret"
        sandbox = stack.enter_context(_child(serve, backlog))
        urls_file = tmp / "sandbox-urls.json"
        urls_file.write_text(json.dumps(sandbox["urls"]))
        os.environ["HUB_SOURCE_URLS"] = str(urls_file)  # the recipe reads config/sources.yaml, as in production

        from core.configfile import reload_config
        from hub.store.db import Store

        reload_config()
        if db == "postgres":
            from bench.pgdb import throwaway_database

            url = stack.enter_context(throwaway_database("bench_pipeline"))
        else:
            url = f"sqlite:///{tmp / 'hub.db'}"
        store = Store(url)
        stack.callback(store.dispose)
        store.upgrade()
        _warm()
        clock = _stage_clock()
        prof = None
        if profile is not None:
            from pyinstrument import Profiler

            prof = Profiler(interval=0.005, async_mode="disabled")
            prof.start()
        t, c = time.perf_counter(), time.process_time()
        with RssPeak() as rss:
            doc = asyncio.run(_run(store, clock))
        secs, cpu = time.perf_counter() - t, time.process_time() - c
        if prof is not None:
            prof.stop()
            assert profile is not None
            profile.write_text(prof.output_text(unicode=True, show_all=False))
    stages = dict(clock.seconds)
    stages["drain"] = doc["drain_s"]
    stages["pull+land+normalise"] = doc["sync_s"] - stages.get("enrich+route", 0) - stages.get("sweep", 0)
    return {**doc, "db": db, "n_target": n, "backlog": backlog, "sandbox_counts": sandbox["counts"],
            "sandbox_setup_s": sandbox["seconds"], "seconds": secs, "per_s": doc["new"] / secs,
            "cpu_seconds": cpu, "cpu_per_s": doc["new"] / cpu if cpu else 0.0,
            "stages_s": {k: round(v, 2) for k, v in stages.items()}, "peak_mb": rss.mb,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


_ENV_KEYS = ("HUB_HOME", "HUB_SOURCE_URLS", "HUB_TEAM_CARDS_WEBHOOK", "HUB_TEAM_CARDS_WEBHOOK_SECRET")


def _restore_env(saved: dict[str, str | None]) -> None:
    """Put the caller's environment back (a test session runs this in its own process)."""
    from core.configfile import reload_config

    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reload_config()


def _warm() -> None:
    """Imports and config loads that any long-running worker has done already (setup, not timed)."""
    import hub.pipeline.enrich  # noqa: F401 - the judge's model and tables
    import hub.pipeline.sync  # noqa: F401
    from hub.mapping import get_mappings

    get_mappings()


def _stage_clock() -> StageClock:
    """Time the stages where `hub.pipeline.sync` calls them (the recipe itself is unchanged)."""
    import hub.pipeline.sync as sync

    clock = StageClock()
    clock.wrap(sync, "enrich_and_route", "enrich+route")
    clock.wrap(sync, "route_stranded", "sweep")
    clock.wrap(sync, "normalise_pending", "normalise leftovers")
    return clock


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline once and print its figures (and JSON)."""
    ap = argparse.ArgumentParser(prog="bench.pipeline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="API-source records in the backlog (default 100000)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--profile", type=Path, help="write a pyinstrument profile (text) of the timed phase here")
    args = ap.parse_args(argv)
    m = measure(args.n, args.db, args.profile)
    total = m["seconds"]
    print(f"pipeline ({m['db']}): {m['new']:,} records landed (pulled {m['pulled']:,}, {m['source_runs']} source "
          f"runs) in {total:.1f}s = {m['per_s']:,.0f} records/s "
          f"(CPU of the hub process {m['cpu_per_s']:,.0f}/s); {m['created']:,} tickets, {m['routed']:,} routed, "
          f"{m['sent']:,} outbox rows sent; "
          f"peak RSS {m['peak_mb']:.0f} MB (sandbox setup {m['sandbox_setup_s']:.0f}s, not timed)")
    for stage, s in sorted(m["stages_s"].items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<22} {s:7.1f}s  {100 * s / total:5.1f} %")
    print("PIPELINE-RESULT " + json.dumps(m, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
