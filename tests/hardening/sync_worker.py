"""Subprocess entry point for the recovery tests: one `sync_sources` run (the sync recipe), meant to be killed.

    python -m tests.hardening.sync_worker --sources app,sms,callcenter

Uses HUB_DATABASE_URL and HUB_SOURCE_URLS. Prints `ready` once imported and
`done <routed>` at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys


async def run(sources: list[str]) -> None:
    """One multi-source sync: pull + land + normalise every page, then route (and sweep the stranded)."""
    from hub.pipeline.sync import sync_sources
    from hub.store import get_store

    store = get_store()
    print("ready", flush=True)
    results = await sync_sources(store, sources)
    print("done", sum(r.routed for r in results), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run one sync."""
    ap = argparse.ArgumentParser(prog="sync_worker")
    ap.add_argument("--sources", default="app,sms,callcenter")
    args = ap.parse_args(argv)
    asyncio.run(run([s for s in args.sources.split(",") if s]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
