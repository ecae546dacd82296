"""Scrape rate of the portal connectors against the sandbox: records/s with 1 and N parallel pages.

    .venv/bin/python bench/portal.py --records 200 --parallel 1 4

Starts the sandbox in a child process (as `hub sandbox serve` would run: an
in-process server would share the GIL with the connector and distort the
figures), makes sure each portal holds `--records` complaints, logs in once
(not timed), then times a full pull from an empty cursor for each parallelism. Prints one line per (source, parallel) and a JSON
summary. Loopback only; bounded by the record count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.blackcat import BlackcatConnector  # noqa: E402
from connectors.gov12315 import Gov12315Connector  # noqa: E402
from connectors.portal import PortalRuntime  # noqa: E402
from core.settings import get_settings  # noqa: E402

CREDS = {"gov12315": {"username": "env:HUB_GOV12315_USERNAME|demo_ent", "password": "env:HUB_GOV12315_PASSWORD|Demo@12315"},
         "blackcat": {"account": "env:HUB_BLACKCAT_ACCOUNT|demo_merchant",
                      "password": "env:HUB_BLACKCAT_PASSWORD|Demo@heimao"}}
CLASSES = {"gov12315": Gov12315Connector, "blackcat": BlackcatConnector}


def serve(records: int, sources: list[str], urls_q: mp.Queue, stop: mp.Event) -> None:
    """Child process: a sandbox holding `records` complaints per portal, until `stop` is set."""
    from sandbox import Sandbox  # noqa: PLC0415

    with Sandbox(seed=7, backlog=0, malformed_rate=0.0) as sb:
        for source in sources:
            have = len(sb.records(source))
            if have < records:
                sb.generate(records - have, source=source)
        urls_q.put(dict(sb.urls))
        stop.wait(timeout=900)  # bounded even if the parent dies


async def measure(urls: dict[str, str], sources: list[str], parallels: list[int], home: Path,
                  tracing: bool = True) -> list[dict]:
    results = []
    settings = get_settings().model_copy(update={"home": home})
    async with PortalRuntime(settings, tracing=tracing) as rt:
        for source in sources:
            for n in parallels:
                conn = CLASSES[source]({"base_url": urls[source], "credentials": CREDS[source]},
                                       runtime=rt, parallel_pages=n)
                assert (await conn.check()).ok  # log in outside the timing
                t0 = time.perf_counter()
                count = pages = 0
                async for page in conn.pull(None):
                    count += len(page.records)
                    pages += 1
                dt = time.perf_counter() - t0
                await conn.aclose()
                row = {"source": source, "parallel": n, "tracing": tracing, "records": count, "list_pages": pages,
                       "seconds": round(dt, 2), "records_per_s": round(count / dt, 1)}
                print(f"{source:9s} parallel={n} tracing={tracing}: {count} records in {dt:.2f}s = {count / dt:.1f} records/s")
                results.append(row)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200, help="complaints per portal")
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--sources", nargs="+", default=["gov12315", "blackcat"])
    ap.add_argument("--no-tracing", action="store_true", help="measure without the Playwright trace")
    args = ap.parse_args()
    urls_q: mp.Queue = mp.Queue()
    stop = mp.Event()
    child = mp.Process(target=serve, args=(args.records, args.sources, urls_q, stop), daemon=True)
    child.start()
    try:
        urls = urls_q.get(timeout=120)
        with tempfile.TemporaryDirectory() as home:
            results = asyncio.run(measure(urls, args.sources, args.parallel, Path(home),
                                          tracing=not args.no_tracing))
    finally:
        stop.set()
        child.join(timeout=10)
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
