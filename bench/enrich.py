"""Benchmark: classify + route + clock (ENRICH) for N tickets, records/s and peak memory.

    .venv/bin/python bench/enrich.py [--n 100000] [--db sqlite:///var/bench-enrich.db] [--batch 5000]

Tickets are generated from the labelled test texts (all five channels' voices)
with a pool of customers (so sticky routing and repeats happen), stored first
(not timed), then `enrich_and_route` runs over them in batches (timed). A pure
`judge_text` pass over the same texts is timed separately.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.schema import SHANGHAI, Customer, Matter, Source, Ticket, make_ticket_id  # noqa: E402
from hub.judge import judge_text  # noqa: E402
from hub.pipeline.enrich import enrich_and_route  # noqa: E402
from hub.store.db import Store  # noqa: E402
from hub.store.tickets import upsert_tickets  # noqa: E402


def texts() -> list[dict]:
    """The corpus's complaint texts (data/judge/corpus), as {"ch", "text"}."""
    from hub.judge.corpus import ComplaintRecord, load_corpus

    return [{"ch": r.channel, "text": r.text} for r in load_corpus() if isinstance(r, ComplaintRecord)]


def make_tickets(n: int, seed: int = 7, start_at: int = 0, count: int | None = None) -> list[Ticket]:
    """Tickets start_at … start_at+count of a run of n, spread over five days."""
    from datetime import datetime

    rnd = random.Random(seed + start_at)
    pool = texts()
    start = datetime(2026, 11, 16, 8, tzinfo=SHANGHAI)
    out = []
    for i in range(start_at, start_at + (n if count is None else count)):
        c = rnd.choice(pool)
        phone = f"13{rnd.randrange(10**9):09d}"[:11] if rnd.random() < 0.3 else f"1390000{rnd.randrange(30000):05d}"[:11]
        ext = f"B{i:07d}"
        out.append(Ticket(
            ticket_id=make_ticket_id(c["ch"], ext), source=Source(c["ch"]), external_id=ext,
            received_at=start + timedelta(seconds=int(i * 5 * 86400 / n)),
            customer=Customer(name="李娜", phone=phone, phone_hash=f"h{phone}"),
            matter=Matter(title=c["text"][:18], content=c["text"])))
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (argv as on the command line; `python -m bench` passes [])."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="store URL (default: a temporary SQLite file)")
    ap.add_argument("--batch", type=int, default=5000, help="ticket ids per enrich_and_route call")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="bench-enrich-")
    store = Store(args.db or f"sqlite:///{tmp}/hub.db")
    store.upgrade()
    t0 = time.perf_counter()
    ids: list[str] = []
    # generated and stored a slice at a time, so the peak memory printed is the enrichment's
    for i in range(0, args.n, 5000):
        part = make_tickets(args.n, start_at=i, count=min(5000, args.n - i))
        with store.begin() as conn:
            upsert_tickets(conn, part)
        ids += [t.ticket_id for t in part]
    load_s = time.perf_counter() - t0
    pool = [(c["ch"], c["text"]) for c in texts()]
    t0 = time.perf_counter()
    for i in range(args.n):
        ch, text = pool[i % len(pool)]
        judge_text(ch, text)
    judge_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    totals: dict[str, int] = {}
    for i in range(0, len(ids), args.batch):
        st = enrich_and_route(store, ids[i:i + args.batch], now=None)
        for k in ("routed", "urgent", "incidents_created", "dispatched"):
            totals[k] = totals.get(k, 0) + getattr(st, k)
    enrich_s, enrich_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"store: {store.dialect}; tickets: {args.n}; setup (upsert, not timed): {load_s:.1f} s")
    print(f"judge_text only: {args.n / judge_s:,.0f} texts/s")
    print(f"enrich_and_route (classify + route + clocks + events + outbox): {enrich_s:.1f} s, "
          f"{args.n / enrich_s:,.0f} records/s wall; {enrich_cpu:.1f} s CPU in this process, "
          f"{args.n / enrich_cpu:,.0f} records per CPU-second (the machine is shared: wall time varies)")
    print(f"totals: {totals}; peak RSS: {peak_mb:,.0f} MB")
    store.dispose()


if __name__ == "__main__":
    main()
