"""Pull rates (records/s) from the sandbox, per source.

    .venv/bin/python bench/pull.py                       # app, sms, callcenter, backlog 2000
    .venv/bin/python bench/pull.py --sources gov12315,blackcat --parallel 1,4 --backlog 200

For each source: a full pull from an empty cursor through the connector alone
(`pull` rate) and through `cli.pull.pull_source` into a fresh SQLite store
(`pull+land` rate). Portals run once per `--parallel` value (detail pages
opened at once). Prints one line per run and a JSON summary at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.pull import pull_source  # noqa: E402
from connectors.config import load_sources  # noqa: E402
from connectors.portal.runtime import PortalRuntime  # noqa: E402
from connectors.registry import is_portal, make_connector  # noqa: E402
from hub.store import Store  # noqa: E402


async def connector_only(source: str, cfg, runtime=None) -> tuple[int, int, float]:
    conn = make_connector(source, config=cfg, portal_runtime=runtime)
    pages = records = 0
    t0 = time.perf_counter()
    try:
        async for page in conn.pull(None):
            pages += 1
            records += len(page.records)
    finally:
        await conn.aclose()
    return pages, records, time.perf_counter() - t0


async def run(args: argparse.Namespace) -> list[dict]:
    from sandbox import Sandbox

    sb = Sandbox(seed=args.seed, backlog=args.backlog, rate=60, malformed_rate=0.02)
    urls = sb.start(port=0)
    results = []
    try:
        cfg_all = load_sources(overrides=urls)
        for name in args.sources.split(","):
            source = name
            variants = args.parallel if is_portal(source) else [None]
            for par in variants:
                cfg = cfg_all[source]
                if par is not None and cfg.portal is not None:
                    cfg = cfg.model_copy(update={"portal": cfg.portal.model_copy(update={"parallel_pages": par})})
                if args.page_size and not is_portal(source):
                    cfg = cfg.model_copy(update={"page_size": args.page_size})
                if args.rate_limit is not None:  # 0 = measure the source, not our own throttle
                    rl = cfg.rate_limit.model_copy(update={"per_second": args.rate_limit or 1e6, "burst": 100})
                    cfg = cfg.model_copy(update={"rate_limit": rl})
                runtime = None
                if is_portal(source):
                    runtime = await PortalRuntime().start()
                try:
                    pages, records, secs = await connector_only(source, cfg, runtime)
                    with tempfile.TemporaryDirectory() as tmp:
                        store = Store(f"sqlite:///{tmp}/bench.db")
                        store.upgrade()
                        conn = make_connector(source, config=cfg, portal_runtime=runtime)
                        try:
                            rep = await pull_source(store, source, connector=conn)
                        finally:
                            await conn.aclose()
                        store.dispose()
                finally:
                    if runtime is not None:
                        await runtime.aclose()
                row = {"source": source, "parallel_pages": par, "records": records, "pages": pages,
                       "pull_s": round(secs, 3), "pull_rps": round(records / secs, 1),
                       "pull_land_s": round(rep.seconds, 3), "pull_land_rps": round(rep.rate, 1)}
                results.append(row)
                print(f"{source:<10} parallel={par or '-':<2} records={records:<6} pages={pages:<4} "
                      f"pull {row['pull_rps']:>8}/s   pull+land {row['pull_land_rps']:>8}/s", flush=True)
    finally:
        sb.stop()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", default="app,sms,callcenter")
    ap.add_argument("--backlog", type=int, default=2000, help="complaints in the sandbox at start (all sources)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--page-size", type=int, default=None, help="API page size (default: config)")
    ap.add_argument("--rate-limit", type=float, default=None,
                    help="requests/s override for the API sources (0 = unthrottled; default: config)")
    ap.add_argument("--parallel", default="1,4", help="portal detail pages opened at once, comma-separated")
    args = ap.parse_args()
    # A throw-away HUB_HOME (PII key, portal sessions) unless the caller chose one.
    os.environ.setdefault("HUB_HOME", tempfile.mkdtemp(prefix="bench-pull-"))
    os.environ.setdefault("HUB_SANDBOX", "1")
    args.parallel = [int(x) for x in args.parallel.split(",")]
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
