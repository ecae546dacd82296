"""bench/ingest: normalise + land N sandbox-generated raw records vs a no-mapping floor.

    python -m bench.ingest --n 100000

Both sides start from the same JSON texts (what a connector receives):
- hub:   parse → RawRecord → per page of a source, one transaction (`hub.pipeline.ingest.ingest_in`,
         the sync path): LAND (raw_records, encrypted, + cursor) and NORMALISE (mapping,
         PII hash/encrypt, ticket upsert + events, quarantine) into SQLite in a temp dir.
         Case linking is ENRICH's (bench/enrich.py), as in DESIGN.md;
- floor: json.loads + model_validate into a plain pydantic model of the payload, no
         mapping; and in the same run the same floor plus a SQLite executemany of the
         validated rows (the STACK.md "raw floor").
- store floor: the same floor plus writing the very rows the hub wrote (raw records,
         tickets, events; copied as stored) into a fresh store: what the storage alone costs.
Prints records/s, peak memory (resident memory sampled during the hub phase; with --trace
also the tracemalloc peak) and the ratio hub / floor (target ≥ 0.5).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import resource
import sqlite3
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

os.environ.setdefault("HUB_PII_KEY", "q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU=")  # bench-only key
os.environ.setdefault("HUB_SANDBOX", "1")  # benchmarks run against the sandbox


class FloorRecord(BaseModel):
    """What 'no mapping' means: the envelope validated, the payload taken as it is."""

    model_config = ConfigDict(extra="allow")
    source: str
    external_id: str
    payload: dict[str, Any]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:  # Linux: resident pages
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler(threading.Thread):
    """Samples the process's resident memory every 20 ms: the peak of one phase."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = self.start_mb = _rss_mb()
        self._stop_evt = threading.Event()

    def run(self) -> None:
        while not self._stop_evt.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def stop(self) -> float:
        self._stop_evt.set()
        self.join()
        return max(self.peak, _rss_mb())


def floor(blobs: list[str], with_db: bool, tmp: Path) -> tuple[float, float]:
    """(wall, CPU) seconds for json.loads + model_validate (+ SQLite executemany) of every blob."""
    t0, c0 = time.perf_counter(), time.process_time()
    rows = []
    for b in blobs:
        r = FloorRecord.model_validate(json.loads(b))
        rows.append((r.source, r.external_id, json.dumps(r.payload, ensure_ascii=False)))
    if with_db:
        db = sqlite3.connect(tmp / "floor.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("create table if not exists rec (source text, external_id text, payload text,"
                   " primary key (source, external_id))")
        for i in range(0, len(rows), 1000):
            db.executemany("insert or replace into rec values (?, ?, ?)", rows[i:i + 1000])
            db.commit()
        db.close()
    return time.perf_counter() - t0, time.process_time() - c0


def store_floor(blobs: list[str], hub_db: Path, tmp: Path, batch: int) -> tuple[float, float]:
    """(wall, CPU) seconds for the floor plus writing *the rows the hub wrote* into a fresh store.

    The same tables, indexes, rows and transactions of `batch` records, copied as
    stored (already encrypted and serialised): no mapping, hashing or encryption.
    Whatever the mapping code does, a hub on this store costs at least this much.
    """
    from hub.store.db import Store

    src = sqlite3.connect(hub_db)
    tables: list[tuple[str, list[tuple[Any, ...]]]] = []
    for name in ("raw_records", "tickets", "ticket_events", "quarantine"):
        cur = src.execute(f"SELECT * FROM {name} ORDER BY rowid")  # noqa: S608 - fixed table names
        cols = ", ".join(d[0] for d in cur.description)
        marks = ", ".join("?" * len(cur.description))
        tables.append((f"INSERT INTO {name} ({cols}) VALUES ({marks})", cur.fetchall()))
    src.close()
    target = Store(f"sqlite:///{tmp / 'store-floor.db'}")
    target.upgrade()
    target.dispose()
    db = sqlite3.connect(tmp / "store-floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # as hub.store.db sets it
    parts = max(1, -(-len(blobs) // batch))
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(parts):
        for b in blobs[i * batch:(i + 1) * batch]:
            FloorRecord.model_validate(json.loads(b))
        db.execute("BEGIN IMMEDIATE")
        for sql, rows in tables:
            db.executemany(sql, rows[len(rows) * i // parts:len(rows) * (i + 1) // parts])
        db.execute("COMMIT")
    secs = time.perf_counter() - t0, time.process_time() - c0
    db.close()
    return secs


def hub(blobs: list[str], store: Any, batch: int) -> tuple[tuple[float, float], Any, int]:
    """(wall, CPU) seconds to land + normalise every blob into a fresh (migrated) store.

    The sync path: parse as the connectors do (`core.jsonutil.loads`), build each
    `RawRecord` as they do, and hand each page of a source to
    `hub.pipeline.ingest.ingest_in` in its own transaction with its cursor.
    """
    from core import jsonutil
    from core.schema import RawRecord
    from hub.pipeline.ingest import ingest_in
    from hub.pipeline.normalise import NormaliseStats

    t0, c0 = time.perf_counter(), time.process_time()
    stats = NormaliseStats()
    pages: dict[str, list[RawRecord]] = defaultdict(list)
    landed = 0

    def flush(src: str) -> int:
        with store.begin() as conn:
            return ingest_in(conn, src, pages.pop(src), {"n": landed}, stats=stats).new

    for b in blobs:
        d = jsonutil.loads(b)
        src = d["source"]
        pages[src].append(RawRecord(source=src, external_id=d["external_id"], payload=d["payload"]))
        if len(pages[src]) >= batch:
            landed += flush(src)
    for src in list(pages):
        landed += flush(src)
    return (time.perf_counter() - t0, time.process_time() - c0), stats, landed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints the figures (exit 1 when --assert-ratio is not met)."""
    ap = argparse.ArgumentParser(prog="bench.ingest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="records (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1000, help="land page / normalise batch size")
    ap.add_argument("--trace", action="store_true", help="tracemalloc peak for the hub phase (slower)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite",
                    help="where the hub writes (postgres: a throw-away database on HUB_TEST_POSTGRES_URL's server)")
    ap.add_argument("--assert-ratio", type=float, default=None, help="fail when hub/floor is below this")
    args = ap.parse_args(argv)

    from sandbox.generator import generate_records

    t = time.perf_counter()
    recs = generate_records(args.seed, args.n)
    blobs = [json.dumps({"source": s, "external_id": e, "payload": p}, ensure_ascii=False) for s, e, p in recs]
    del recs
    gc.collect()
    print(f"generated {len(blobs)} records ({sum(map(len, blobs)) / len(blobs):.0f} chars avg) "
          f"in {time.perf_counter() - t:.1f}s", flush=True)
    old_home = os.environ.get("HUB_HOME")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as d:
        tmp = Path(d)
        if old_home is None:  # keep a caller's (e.g. a test session's) home; else stay out of var/
            os.environ["HUB_HOME"] = str(tmp / "home")
        importlib.import_module("hub.pipeline.normalise")  # module import (numpy etc.) is setup, not ingestion
        from hub.mapping import get_mappings
        from hub.store.db import Store

        with contextlib.ExitStack() as stack:
            if args.db == "postgres":
                from bench.pgdb import throwaway_database

                url = stack.enter_context(throwaway_database("bench_ingest"))
            else:
                url = f"sqlite:///{tmp / 'hub.db'}"
            store = Store(url)
            store.upgrade()  # setup, not ingestion: outside the timed and measured phase
            get_mappings()
            sampler = RssSampler()
            sampler.start()
            if args.trace:
                tracemalloc.start()
            h_secs, stats, landed = hub(blobs, store, args.batch)
            store.dispose()
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.trace else None
        tracemalloc.stop()
        rss1 = sampler.stop()
        gc.collect()
        f_secs = floor(blobs, False, tmp)
        fdb_secs = floor(blobs, True, tmp)
        # the store floor copies the rows the hub wrote into SQLite (the default store)
        own_secs = store_floor(blobs, tmp / "hub.db", tmp, args.batch) if args.db == "sqlite" else None
        if old_home is None:
            os.environ.pop("HUB_HOME", None)
    n = len(blobs)
    # CPU seconds too: on a shared machine wall time swings with other people's load,
    # CPU time of this single-threaded process does much less
    (h_secs, h_cpu), (f_secs, f_cpu), (fdb_secs, fdb_cpu) = h_secs, f_secs, fdb_secs
    hub_rate, floor_rate, floor_db_rate = n / h_secs, n / f_secs, n / fdb_secs
    print(f"hub   land+normalise ({args.db}): {h_secs:7.2f}s  {hub_rate:9,.0f} records/s  (CPU {n / h_cpu:,.0f}/s; landed "
          f"{landed}, created {stats.created}, quarantined {stats.quarantined}, ignored {stats.ignored})")
    print(f"      peak memory: RSS {rss1:.0f} MB during the hub phase (+{rss1 - sampler.start_mb:.0f} MB over the "
          f"input already in memory; process max RSS {_maxrss_mb():.0f} MB)"
          + (f", tracemalloc peak {peak:.0f} MB" if peak is not None else ""))
    print(f"floor json.loads+model_validate:            {f_secs:7.2f}s  {floor_rate:9,.0f} records/s"
          f"  (CPU {n / f_cpu:,.0f}/s)")
    print(f"floor json.loads+model_validate+SQLite:     {fdb_secs:7.2f}s  {floor_db_rate:9,.0f} records/s"
          f"  (CPU {n / fdb_cpu:,.0f}/s; one 3-column table)")
    ratio, ratio_db = hub_rate / floor_rate, hub_rate / floor_db_rate
    print(f"ratio hub/floor = {ratio:.3f} (target ≥ 0.5)   hub/floor+SQLite = {ratio_db:.3f}   by CPU time: "
          f"{f_cpu / h_cpu:.3f}, {fdb_cpu / h_cpu:.3f}")
    if own_secs is not None:
        own_secs, own_cpu = own_secs
        own_rate = n / own_secs
        print(f"floor + the hub's own rows, copied:         {own_secs:7.2f}s  {own_rate:9,.0f} records/s"
              f"  (CPU {n / own_cpu:,.0f}/s; raw, ticket, event rows as stored: the store's own cost)")
        print(f"      hub/(floor + own rows) = {hub_rate / own_rate:.3f}; the store alone allows at most "
              f"{own_rate / floor_rate:.3f} of the floor's rate")
    if args.assert_ratio is not None and ratio < args.assert_ratio:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
