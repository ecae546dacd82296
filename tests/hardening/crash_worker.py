"""Subprocess entry point for the crash-safety tests: one sync-and-push pass, meant to be SIGKILLed.

    python -m tests.hardening.crash_worker --sources app,sms,callcenter [--ahead-minutes 6]

Uses the store named by HUB_DATABASE_URL and the sandbox URLs in HUB_SOURCE_URLS
(like `hub pull`). For each source: pull from the committed cursor and land
(`cli.pull.pull_source`, what `hub pull SOURCE` runs), normalise, enrich and
route; then drain the outbox until nothing is due. `--ahead-minutes` drains "as
of" that many minutes from now, so rows a killed worker left in `sending` are past
their lease and retried (what a later real run would do). Prints `ready` once
imported (the test kills only after that) and `done` at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta


async def run(sources: list[str], ahead: float) -> None:
    """One pass: pull + land + normalise + route each source, then drain the outbox."""
    from cli.pull import pull_source
    from core.schema import utcnow
    from hub.outbox.worker import drain_outbox
    from hub.pipeline.enrich import enrich_and_route
    from hub.pipeline.normalise import normalise_pending
    from hub.pipeline.stranded import route_stranded
    from hub.store import get_store

    store = get_store()
    print("ready", flush=True)
    for source in sources:
        await pull_source(store, source)
        stats = normalise_pending(store, source=source)
        if stats.changed_ids:
            enrich_and_route(store, stats.changed_ids)
    route_stranded(store)  # what a killed pass left unrouted, as every sync does
    for _ in range(50):
        res = await drain_outbox(store, "crash-worker", limit=200, now=utcnow() + timedelta(minutes=ahead))
        if not res.claimed:
            break
    print("done", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run one pass."""
    ap = argparse.ArgumentParser(prog="crash_worker")
    ap.add_argument("--sources", default="app,sms,callcenter")
    ap.add_argument("--ahead-minutes", type=float, default=0.0)
    args = ap.parse_args(argv)
    asyncio.run(run([s for s in args.sources.split(",") if s], args.ahead_minutes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
