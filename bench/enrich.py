"""Benchmark: classify + route + clock (ENRICH) for N tickets, records/s and peak memory.

    .venv/bin/python bench/enrich.py [--n 100000] [--db sqlite:///var/bench-enrich.db] [--batch 5000]
    .venv/bin/python bench/enrich.py --stored 10000 1000000 [--new 2000] [--days 60] [--rounds 3]
        [--pool scaled|fixed] [--customers same spread]

`--stored N` (the store-size mode): N tickets are pre-filled by a bulk insert
(rows built from the corpus's texts, not timed), spread over `--days` before the
batch, customers drawn from a realistic pool (`CustomerPool`: most complain once,
a few regulars many times, Zipf-weighted; a bigger store serves more customers of
the same kind); then a fixed batch of `--new` fresh tickets is enriched and routed
(timed). Per ticket that rate should not depend on N. With `--customers same` (the
default) the batch is the very same tickets for every store — its regulars are the
first block's, whom every store size holds with a history alike — so the sizes
differ by the store alone. `spread` draws the batch's regulars across the store's
whole pool: in a 1M store its ~400 regular tickets belong to ~400 customers, each
with a history to read, in a 10k store to ~200 who share reads — the cost of a
batch whose customers have more history between them, not of the store's size.
Several sizes are pre-filled side by side and timed in turns, the same batch
`--rounds` times on a fresh copy of each store (median): a shared machine's slow
minutes fall on every size alike, not on whichever ran last.

Tickets are generated from the labelled test texts (all five channels' voices)
with a pool of customers (so sticky routing and repeats happen), stored first
(not timed), then `enrich_and_route` runs over them in batches (timed). A pure
`judge_text` pass over the same texts is timed separately.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.schema import SHANGHAI, Customer, Matter, Source, Ticket, make_ticket_id  # noqa: E402
from hub.judge import judge_text  # noqa: E402
from hub.pipeline.enrich import enrich_and_route  # noqa: E402
from hub.pipeline.matter import forget_descriptors  # noqa: E402
from hub.store.db import Store  # noqa: E402
from hub.store.tickets import upsert_tickets  # noqa: E402


def texts() -> list[dict]:
    """The corpus's complaint texts (data/judge/corpus), as {"ch", "text"}."""
    from hub.judge.corpus import ComplaintRecord, load_corpus

    return [{"ch": r.channel, "text": r.text} for r in load_corpus() if isinstance(r, ComplaintRecord)]


def make_tickets(n: int, seed: int = 7, start_at: int = 0, count: int | None = None) -> list[Ticket]:
    """Tickets start_at … start_at+count of a run of n, spread over five days."""
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


#: share of tickets from the regulars (the rest: customers who complain once), and how many regulars
REGULAR_SHARE, REGULARS = 0.2, 2000
#: how a regular's phone starts (block 0's regulars have the same phone in every store size)
REGULAR_PREFIX = "138"


class CustomerPool:
    """Phones of a realistic customer mix: one-off complainers, and Zipf-weighted regulars.

    `blocks` copies of the regulars: a store `blocks` times as large serves as many times the
    customers, each copy behaving like the one of a 10k store (pool "scaled"); with one block
    (pool "fixed") the same 2,000 regulars carry every store size, so at 1M the busiest of them
    files ~400 complaints a day — the worst case for the history caps, not a bank's customers.
    """

    def __init__(self, seed: int, regulars: int = REGULARS, share: float = REGULAR_SHARE, blocks: int = 1):
        self.rnd = random.Random(seed)
        self.share = share
        self.blocks = max(1, blocks)
        self.cum: list[float] = []
        total = 0.0
        for k in range(regulars):
            total += 1.0 / (k + 1)
            self.cum.append(total)
        self.once = 0
        self.seed = seed

    def phone(self) -> str:
        """The next ticket's customer phone."""
        if self.rnd.random() < self.share:
            k = self.rnd.choices(range(len(self.cum)), cum_weights=self.cum)[0]
            if self.blocks == 1:
                return f"{REGULAR_PREFIX}0{k:07d}"
            return f"{REGULAR_PREFIX}{self.rnd.randrange(self.blocks):04d}{k:04d}"
        self.once += 1
        return f"15{self.seed % 10}{self.once:08d}"


def _templates() -> list[tuple[str, dict]]:
    """One stored row per corpus text (source, `ticket_to_row` output) to stamp pre-filled tickets from."""
    from hub.store.tickets import ticket_to_row

    at = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    out = []
    for i, c in enumerate(texts()):
        t = Ticket(ticket_id=make_ticket_id(c["ch"], f"TPL{i}"), source=Source(c["ch"]), external_id=f"TPL{i}",
                   received_at=at, customer=Customer(name="李娜", phone="13800000000", phone_hash="x"),
                   matter=Matter(title=c["text"][:18], content=c["text"]))
        out.append((c["ch"], ticket_to_row(t)))
    return out


def _signature_rows(tpls: list[tuple[str, dict]]) -> list[dict]:
    """Each template's stored case-linking descriptor (a store whose tickets were linked before has them)."""
    from hub.pipeline import dedupe, matter

    try:
        from hub.store.tables import ticket_signatures  # noqa: F401  (absent before issue 19)
    except ImportError:
        return []
    from core.pii import get_vault

    cfg, hasher, out = dedupe.load_config(), matter.MinHasher(dedupe.load_config().num_perm), []
    for _, tpl in tpls:
        m = tpl["data"]["matter"]
        d = matter._Doc("", "", tpl["received_at"], None, True, 0, ())
        from hub.store.tickets import stored_matter

        full = stored_matter(tpl["data"], tpl["pii_enc"], get_vault())
        d.describe(matter._text_of(full), m.get("amount"), cfg, hasher)
        out.append({"config_key": matter.config_key(cfg), "size": d.size,
                    "descriptor": get_vault().encrypt_bytes(matter._packed(d))})
    return out


def prefill(store: Store, n: int, end: datetime, days: float, seed: int = 11, blocks: int = 1) -> float:
    """Bulk-insert n tickets received over `days` before `end` (rows stamped from templates); seconds.

    As in a store that has run for a while: tickets older than three days are closed, the
    rest assigned (every one with a team and handler), and each has its linking signature.
    """
    from hub.store import bulk
    from hub.store import tables as tb
    from hub.store.handler_load import recount
    from hub.teams import get_teams

    t0 = time.perf_counter()
    rnd = random.Random(seed)
    pool, tpls = CustomerPool(seed, blocks=blocks), _templates()
    sigs = _signature_rows(tpls)
    staff = [(t.id, h.id) for t in get_teams().teams.values() for h in t.handlers]
    span = days * 86400
    for lo in range(0, n, 20_000):
        rows, sig_rows = [], []
        for i in range(lo, min(n, lo + 20_000)):
            k = rnd.randrange(len(tpls))
            ch, tpl = tpls[k]
            ext = f"S{i:08d}"
            tid = make_ticket_id(ch, ext)
            at = end - timedelta(seconds=span * (n - i) / n)
            ph = "h" + pool.phone()
            team, handler = staff[rnd.randrange(len(staff))]
            status = "closed" if at < end - timedelta(days=3) else "assigned"
            cust = {**tpl["data"]["customer"], "phone_hash": ph}
            handling = {**tpl["data"]["handling"], "status": status, "team": team, "handler": handler,
                        "first_handler": handler}
            data = {**tpl["data"], "ticket_id": tid, "external_id": ext, "received_at": at.isoformat(),
                    "ingested_at": at.isoformat(), "updated_at": at.isoformat(), "customer": cust,
                    "handling": handling}
            rows.append({**tpl, "ticket_id": tid, "external_id": ext, "received_at": at, "ingested_at": at,
                         "updated_at": at, "phone_hash": ph, "raw_hash": f"r{i}", "data": data, "status": status,
                         "team": team, "handler": handler, "first_handler": handler})
            if sigs:
                sig_rows.append({**sigs[k], "ticket_id": tid, "raw_hash": f"r{i}"})
        with store.begin() as conn:
            bulk.executemany(conn, tb.tickets.insert(), rows)
            if sig_rows:
                bulk.executemany(conn, tb.ticket_signatures.insert(), sig_rows)
    with store.begin() as conn:  # rows stamped straight into the table: count their handlers' load once
        recount(conn)
    return time.perf_counter() - t0


def _prefill_child(url: str, n: int, end: datetime, days: float, blocks: int, out: Any) -> None:
    """`prefill` in a child process (its seconds sent back through `out`)."""
    store = Store(url)
    out.send(prefill(store, n, end, days, blocks=blocks))
    store.dispose()


def _prefill_apart(store: Store, n: int, end: datetime, days: float, blocks: int = 1) -> float:
    """`prefill` in a child process, so the peak memory of this process is the batch's, not the set-up's."""
    from bench.child import result_of_child

    store.dispose()  # no connection is shared across the fork
    return float(result_of_child(_prefill_child, store.url, n, end, days, blocks, what="pre-fill"))


def new_batch(count: int, start: datetime, seed: int = 13, blocks: int = 1) -> list[Ticket]:
    """`count` fresh tickets over the hour after `start`, customers from the same pool as the store's."""
    rnd = random.Random(seed)
    pool, corpus = CustomerPool(11, blocks=blocks), texts()
    pool.once = 10**7  # one-off customers of the batch are new ones
    pool.rnd = random.Random(seed + 1)  # its own draws: every run judges the very same texts
    out = []
    for i in range(count):
        c = rnd.choice(corpus)
        phone = pool.phone()
        ext = f"N{i:07d}"
        out.append(Ticket(ticket_id=make_ticket_id(c["ch"], ext), source=Source(c["ch"]), external_id=ext,
                          received_at=start + timedelta(seconds=3600 * i / count),
                          customer=Customer(name="李娜", phone=phone, phone_hash=f"h{phone}"),
                          matter=Matter(title=c["text"][:18], content=c["text"])))
    return out


def warm_up() -> None:
    """Load what a running worker has loaded once (configs, taxonomy automaton, model, segmenter):
    the timed batch then measures the per-ticket work, not a process's start."""
    from hub.pipeline.dedupe import load_config
    from hub.routing import get_routing
    from hub.sla import get_sla
    from hub.sla.calendar import get_calendar
    from hub.teams import get_teams

    get_teams(), get_routing(), get_sla(), get_calendar(), load_config()
    judge_text("app", "信用卡年费乱扣，客服态度差，我要投诉到银保监会")


def _profiler() -> Any:
    """A started pyinstrument profiler (dev extras)."""
    from pyinstrument import Profiler

    prof = Profiler(interval=0.0005)
    prof.start()
    return prof


def profile_summary(prof: Any, top: int = 16) -> str:
    """The profile's top costs: project functions by inclusive share (each counted once per stack),
    then any function by own time (where the CPU actually went)."""
    root = prof.last_session.root_frame()
    total = root.time or 1.0
    incl: dict[str, float] = {}
    own: dict[str, float] = {}

    def walk(f: Any, seen: frozenset[str], parent: str) -> None:
        name = parent if f.is_synthetic else f"{f.function} ({f.file_path_short}:{f.line_no})"
        if name not in seen:
            incl[name] = incl.get(name, 0.0) + f.time
        if not f.is_synthetic:  # total_self_time already holds its [self] children
            own[name] = own.get(name, 0.0) + f.total_self_time
        for c in f.children:
            walk(c, seen | {name}, name)

    walk(root, frozenset(), "-")
    mine = sorted(((t, n) for n, t in incl.items() if re.search(r"\((hub|core)/", n)), reverse=True)[:top]
    spent = sorted(((t, n) for n, t in own.items()), reverse=True)[:top]
    return ("by total time (hub/core functions):\n" + "\n".join(f"{t / total:6.1%}  {n}" for t, n in mine)
            + "\nby own time:\n" + "\n".join(f"{t / total:6.1%}  {n}" for t, n in spent))


def pool_blocks(stored: int, pool: str) -> int:
    """Copies of the regular customers for a store of `stored` tickets (see `CustomerPool`)."""
    if pool not in ("scaled", "fixed"):
        raise ValueError(f"pool must be scaled or fixed, not {pool!r}")
    return max(1, stored // 10_000) if pool == "scaled" else 1


#: who files the timed batch: "same" — the very same tickets for every store (its regulars are the first
#: block's, whom every store holds with a history alike); "spread" — regulars drawn across the store's pool
BATCH_CUSTOMERS = ("same", "spread")


def batch_blocks(blocks: int, customers: str) -> int:
    """The pool blocks the timed batch's regulars come from (see `BATCH_CUSTOMERS`)."""
    if customers not in BATCH_CUSTOMERS:
        raise ValueError(f"customers must be one of {BATCH_CUSTOMERS}, not {customers!r}")
    return 1 if customers == "same" else blocks


def measure_sizes(specs: list[tuple[int, str] | tuple[int, str, str]], new: int = 2000, days: float = 60,
                  db: str | None = None, batch: int = 2000, profile: bool = False,
                  rounds: int = 3) -> list[dict[str, Any]]:
    """One store per distinct (stored, pool) pre-filled, then each spec's batch of `new` fresh tickets
    enriched `rounds` times — every round on a fresh copy of the pre-filled store, with an empty
    descriptor cache, as a new worker would — the specs taking turns (round 1 of every spec, then
    round 2 …): a shared machine's slow minutes fall on every store alike. Each spec's figures are
    the median of its rounds. A spec is (stored, pool[, customers]): `pool` see `CustomerPool`,
    `customers` (default "same") see `BATCH_CUSTOMERS`. `profile`: pyinstrument's top costs of each
    spec's first round; `db`: one store at that URL, kept afterwards, one round."""
    full = [(s[0], s[1], s[2] if len(s) > 2 else "same") for s in specs]
    if db is not None and len({s[:2] for s in full}) != 1:
        raise ValueError("--db names one store: give one --stored size with it")
    rounds = 1 if db is not None else rounds  # a store at a URL cannot be copied for a second round
    start = datetime(2026, 11, 16, 9, tzinfo=SHANGHAI)
    stores: dict[tuple[int, str], dict[str, Any]] = {}
    timed = []
    for stored, pool, customers in full:
        f = stores.get((stored, pool))
        if f is None:
            blocks = pool_blocks(stored, pool)
            tmp = Path(tempfile.mkdtemp(prefix="bench-enrich-"))
            store = Store(db or f"sqlite:///{tmp}/filled.db")
            store.upgrade()
            fill_s = _prefill_apart(store, stored, start, days, blocks)
            store.dispose()
            if db is None:  # the WAL folded into the file: a copy of the file is the whole store
                with closing(sqlite3.connect(tmp / "filled.db")) as raw:
                    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            f = stores[(stored, pool)] = {"blocks": blocks, "tmp": tmp, "prefill_s": fill_s}
        # the batch is made again for each round (the same tickets each time: seeded), so the specs'
        # batches are not all held at once — four of them would add ~30 MB to the peak measured
        timed.append({"stored": stored, "pool": pool, "customers": customers, "store": f, "runs": [],
                      "batch_blocks": batch_blocks(f["blocks"], customers)})
    warm_up()
    for r in range(rounds):
        for f in timed:
            tmp = f["store"]["tmp"]
            if db is None:
                for left in tmp.glob("round.db*"):  # the last round's file, WAL and shared memory
                    left.unlink()
                shutil.copyfile(tmp / "filled.db", tmp / "round.db")
            # the pre-fill and the copy leave gigabytes of dirty pages: written back now, so the kernel's
            # flusher threads cannot compete with the timed batch
            os.sync()
            store = Store(db or f"sqlite:///{tmp}/round.db")
            fresh = new_batch(new, start, blocks=f["batch_blocks"])
            with store.begin() as conn:
                upsert_tickets(conn, fresh)
            forget_descriptors()
            f["before_mb"] = f.get("before_mb") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            prof = _profiler() if profile and r == 0 else None
            ids = [t.ticket_id for t in fresh]
            t0, c0 = time.perf_counter(), time.process_time()
            linked = 0
            for i in range(0, len(ids), batch):
                linked += enrich_and_route(store, ids[i:i + batch], now=start + timedelta(hours=1)).linked
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
            if prof is not None:
                prof.stop()
                print(f"--- profile, {f['stored']:,} stored, {f['customers']} customers ---\n"
                      f"{profile_summary(prof)}", flush=True)
            store.dispose()
            f["runs"].append({"seconds": secs, "cpu_s": cpu, "linked": linked})
            f["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if db is None:
        for s in stores.values():
            shutil.rmtree(s["tmp"], ignore_errors=True)  # a 1M-ticket store is gigabytes
    out = []
    for f in timed:
        runs = f["runs"]
        secs, cpu = statistics.median(x["seconds"] for x in runs), statistics.median(x["cpu_s"] for x in runs)
        batch_made = new_batch(new, start, blocks=f["batch_blocks"])
        regulars = [t.customer.phone_hash for t in batch_made if t.customer.phone_hash.startswith("h" + REGULAR_PREFIX)]
        out.append({"stored": f["stored"], "pool": f["pool"], "customers": f["customers"], "new": new,
                    "prefill_s": f["store"]["prefill_s"], "rounds": len(runs), "seconds": secs, "cpu_s": cpu,
                    "per_s": new / secs, "per_cpu_s": new / cpu,
                    "per_cpu_s_rounds": [round(new / x["cpu_s"]) for x in runs], "linked": runs[0]["linked"],
                    "linked_rounds": [x["linked"] for x in runs],
                    "regular_tickets": len(regulars), "regular_customers": len(set(regulars)),
                    "peak_mb": f["peak_mb"], "before_mb": f["before_mb"],
                    "judge_per_cpu_s": judge_alone(batch_made)})
    return out


def judge_alone(batch: list[Ticket]) -> float:
    """The judge by itself (`judge_batch`: normalise, match, model) over the same tickets' texts, per
    CPU-second: the ceiling of enrich + route, which judges every ticket and then does the rest."""
    from hub.judge import JudgeInput, judge_batch
    from hub.judge.core import ticket_text

    items = [JudgeInput(t.source, ticket_text(t)) for t in batch]
    gc.disable()  # as enrich judges (hub.pipeline.enrich._collector_paused): a big heap's collections not timed
    try:
        c0 = time.process_time()
        judge_batch(items)
        return len(items) / (time.process_time() - c0)
    finally:
        gc.enable()


def table(rows: list[dict[str, Any]]) -> str:
    """The store-size runs as one markdown table (rates per CPU-second: the machine is shared), each
    beside the first (smallest) store's rate and the judge's own rate on the same texts."""
    head = ("| stored | pool | batch customers (regulars: tickets / people) | enrich+route /s wall | "
            "enrich+route /CPU-s | × first row | judge alone /CPU-s | enrich ÷ judge | linked | "
            "peak RSS MB (so far) |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    base = rows[0]["per_cpu_s"] if rows else 1.0
    lines = [f"| {m['stored']:,} | {m['pool']} | {m['customers']} ({m['regular_tickets']} / "
             f"{m['regular_customers']}) | {m['per_s']:,.0f} | {m['per_cpu_s']:,.0f} | {m['per_cpu_s'] / base:.2f} | "
             f"{m['judge_per_cpu_s']:,.0f} | {m['per_cpu_s'] / m['judge_per_cpu_s']:.2f} | {m['linked']:,} | "
             f"{m['peak_mb']:,.0f} |" for m in rows]
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (argv as on the command line; `python -m bench` passes [])."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="store URL (default: a temporary SQLite file)")
    ap.add_argument("--batch", type=int, default=5000, help="ticket ids per enrich_and_route call")
    ap.add_argument("--stored", type=int, nargs="+", default=None,
                    help="store-size mode: pre-fill N tickets (several N: one run each), time --new fresh ones")
    ap.add_argument("--new", type=int, default=2000, help="fresh tickets timed in --stored mode")
    ap.add_argument("--days", type=float, default=60, help="span of the pre-filled tickets in --stored mode")
    ap.add_argument("--profile", action="store_true", help="--stored mode: print pyinstrument's top costs")
    ap.add_argument("--pool", choices=("scaled", "fixed"), default="scaled",
                    help="--stored mode: regular customers grow with the store (scaled) or stay 2,000 (fixed)")
    ap.add_argument("--customers", choices=BATCH_CUSTOMERS, nargs="+", default=["same"],
                    help="--stored mode: the batch's regulars the same for every store (same) or drawn across "
                         "the store's pool (spread); several: each timed on every store")
    ap.add_argument("--rounds", type=int, default=3,
                    help="--stored mode: batches timed per store, the stores taking turns (median reported)")
    args = ap.parse_args(argv)
    if args.stored:
        rows = measure_sizes([(n, args.pool, c) for n in args.stored for c in args.customers], args.new, args.days, args.db, args.batch,
                             args.profile, args.rounds)
        for m in rows:
            print(f"stored {m['stored']:>9,}, {m['customers']} customers: pre-fill {m['prefill_s']:.0f} s; enrich+route {m['new']:,} new, "
                  f"median of {m['rounds']}: {m['seconds']:.2f} s, {m['per_s']:,.0f} tickets/s wall, "
                  f"{m['per_cpu_s']:,.0f} per CPU-s (rounds {m['per_cpu_s_rounds']}); linked {m['linked']}; "
                  f"peak RSS {m['before_mb']:,.0f} MB before the batches, {m['peak_mb']:,.0f} MB after", flush=True)
        print(table(rows))
        return
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
