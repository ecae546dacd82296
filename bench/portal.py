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

from connectors.config import SourceConfig, load_sources  # noqa: E402
from connectors.portal import PortalRuntime  # noqa: E402
from connectors.registry import is_portal, make_connector, source_keys  # noqa: E402
from core.settings import get_settings  # noqa: E402


def portal_sources() -> list[str]:
    """The configured sources whose connector drives a browser."""
    return [s for s in source_keys() if is_portal(s)]


def with_parallel(cfg: SourceConfig, n: int) -> SourceConfig:
    """The source's section with `n` detail pages opened at once."""
    assert cfg.portal is not None
    return cfg.model_copy(update={"portal": cfg.portal.model_copy(update={"parallel_pages": n})})


def serve(records: int, sources: list[str], urls_q: mp.Queue, stop: mp.Event) -> None:
    """Child process: a sandbox holding `records` complaints per portal, until `stop` is set."""
    from sandbox import Sandbox  # the child process only: the parent never starts a sandbox

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
    config = load_sources(overrides=urls)
    async with PortalRuntime(settings, tracing=tracing) as rt:
        for source in sources:
            for n in parallels:
                conn = make_connector(source, config=with_parallel(config[source], n), portal_runtime=rt)
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
    ap.add_argument("--sources", nargs="+", default=portal_sources())
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
