"""Benchmark: the chase scan over many open tickets, and the outbox drain rate to a local webhook.

    .venv/bin/python bench/chase.py --n 1000000 --db both
    .venv/bin/python bench/chase.py --n 100000 --db sqlite --drain 5000

Steady state is simulated: every open ticket has a first-response clock (mostly
met already) and a running resolution clock, received over the last 15 days; a
running clock's next look (`next_alert_at`) lies between 5 minutes ago and
`max_recheck` ahead, as the chase's own scheduling leaves it, so a scan every
5 minutes finds the share that came due since the last one. Figures printed:
- idle scan: `chase()` when nothing is due (the index probe the cron pays every run);
- due pick: the first batch query (`LIMIT batch`) over the due clocks;
- full run: `chase()` processing every due clock (reminders, events, outbox rows);
- drain: rows/s delivered by `drain_outbox` to a local signed webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 Shanghai: outside quiet hours
TEAMS = {"cards": ["zhang.wei", "li.na", "wang.fang"], "payments": ["liu.yang", "chen.jing", "zhao.lei"],
         "digital": ["sun.li", "zhou.qiang", "wu.min"], "service": ["xu.ting", "ma.chao", "guo.yan"]}
T_COLS = ["ticket_id", "source", "external_id", "is_primary", "kind", "status", "team", "handler", "first_handler",
          "urgency", "risk_level", "risk_score", "repeat_count", "received_at", "ingested_at", "updated_at",
          "next_due_at", "version", "data"]
C_COLS = ["ticket_id", "kind", "policy", "started_at", "due_at", "state", "paused_seconds", "warn_at",
          "next_alert_at", "urgent", "stopped_at"]


R_COLS = ["ticket_id", "clock_kind", "level", "recipient", "created_at", "outbox_key"]
STEPS = [("breach", timedelta(0)), ("escalate_1", timedelta(hours=2)), ("escalate_2", timedelta(hours=24))]


def gen(n: int, seed: int = 7):  # noqa: ANN201
    """Yield (ticket row, [clock rows], [reminder rows]) as a chase that has been running would leave them.

    Received times spread over the last 15 days, 15 % urgent; first response answered (90 % in time)
    unless still young; every level already passed has its reminder on record, and each running
    clock's next look follows the chase's scheduling (half the time to the next threshold, 5 min..12 h).
    """
    rnd = random.Random(seed)
    teams = list(TEAMS)
    lo, hi = timedelta(minutes=5), timedelta(hours=12)
    for i in range(n):
        received = NOW - timedelta(seconds=rnd.uniform(0, 15 * 86400))
        urgent = rnd.random() < 0.15
        team = teams[i % len(teams)]
        handler = TEAMS[team][i % 3]
        fr_h = 1 if urgent else 4
        res_d = 1 if urgent else 15
        fr_due = received + timedelta(hours=fr_h)
        res_due = received + timedelta(days=res_d)
        status = "in_progress" if NOW > fr_due else "assigned"
        tid = f"T{i:011d}"
        trow = [tid, "app", f"B{i}", True, "complaint", status, team, handler, handler,
                "urgent" if urgent else "general", "low", 0.0, 0, received, received, received, res_due, 1, "{}"]
        clocks, rems = [], []

        def running(kind: str, start: datetime, due: datetime, tid: str = tid, handler: str = handler,
                    urgent: bool = urgent, rems: list = rems) -> list:
            warns = [start + (due - start) * f for f in (0.5, 0.75)]
            crossed = [w for w in warns if w <= NOW]
            if crossed:
                rems.append([tid, kind, f"warn_{len(crossed)}", handler, crossed[-1], f"reminder:{tid}:{kind}"])
            nxt = next((w for w in warns if w > NOW), due)
            gap = max(lo, min(hi, (nxt - NOW) / 2))
            look = min(nxt, NOW + timedelta(seconds=rnd.uniform(-300, gap.total_seconds())))
            return [tid, kind, "p", start, due, "running", 0.0, json.dumps([w.isoformat() for w in warns]),
                    look, urgent, None]

        if NOW > fr_due:  # answered: the clock is stopped and never looked at again
            met = rnd.random() < 0.9
            clocks.append([tid, "first_response", "p", received, fr_due, "met" if met else "breached", 0.0, "[]",
                           None, urgent, fr_due - timedelta(minutes=5) if met else fr_due + timedelta(minutes=30)])
        else:
            clocks.append(running("first_response", received, fr_due))
        if NOW < res_due:
            clocks.append(running("resolution", received, res_due))
        else:  # breached and still open: the steps passed are on record, the next one is scheduled
            for level, after in STEPS:
                if res_due + after <= NOW:
                    rems.append([tid, "resolution", level, handler, res_due + after, f"reminder:{tid}:r"])
            nxt = min((res_due + a for _, a in STEPS if res_due + a > NOW), default=None)
            clocks.append([tid, "resolution", "p", received, res_due, "breached", 0.0, "[]", nxt, urgent, None])
        yield trow, clocks, rems


def _sqlite_ts(v):  # noqa: ANN001, ANN202
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def load_sqlite(url: str, n: int) -> None:
    import sqlite3

    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    tq = f"INSERT INTO tickets ({','.join(T_COLS)}) VALUES ({','.join('?' * len(T_COLS))})"
    cq = f"INSERT INTO clocks ({','.join(C_COLS)}) VALUES ({','.join('?' * len(C_COLS))})"
    rq = f"INSERT INTO reminders ({','.join(R_COLS)}) VALUES ({','.join('?' * len(R_COLS))})"
    tb, cb, rb = [], [], []
    for trow, clocks, rems in gen(n):
        tb.append([_sqlite_ts(v) for v in trow])
        cb.extend([_sqlite_ts(v) for v in c] for c in clocks)
        rb.extend([_sqlite_ts(v) for v in r] for r in rems)
        if len(tb) >= 50_000:
            db.executemany(tq, tb)
            db.executemany(cq, cb)
            db.executemany(rq, rb)
            tb, cb, rb = [], [], []
    db.executemany(tq, tb)
    db.executemany(cq, cb)
    db.executemany(rq, rb)
    db.commit()
    db.execute("ANALYZE")
    db.close()


def load_pg(store, n: int) -> None:  # noqa: ANN001
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY tickets ({','.join(T_COLS)}) FROM STDIN") as tcopy:
            for trow, _, _ in gen(n):
                tcopy.write_row(trow)
        with cur.copy(f"COPY clocks ({','.join(C_COLS)}) FROM STDIN") as ccopy:
            for _, clocks, _ in gen(n):
                for c in clocks:
                    ccopy.write_row(c)
        with cur.copy(f"COPY reminders ({','.join(R_COLS)}) FROM STDIN") as rcopy:
            for _, _, rems in gen(n):
                for r in rems:
                    rcopy.write_row(r)
        raw.commit()
        cur.execute("ANALYZE tickets")
        cur.execute("ANALYZE clocks")
        cur.execute("ANALYZE reminders")
        raw.commit()
    finally:
        raw.close()


def measure_chase(store, label: str) -> dict:  # noqa: ANN001
    from sqlalchemy import func, select

    from hub.chase.config import get_chase_config
    from hub.chase.reminders import _pick, chase
    from hub.store.tables import clocks

    batch = get_chase_config().chase.batch

    def due_at(now: datetime) -> int:
        with store.begin() as conn:
            return conn.execute(select(func.count()).select_from(clocks).where(
                clocks.c.state.in_(["running", "breached"]), clocks.c.next_alert_at <= now)).scalar()

    def timed(now: datetime):  # noqa: ANN202
        t0 = time.perf_counter()
        st = chase(store, now=now)
        return st, (time.perf_counter() - t0) * 1000

    # 1. the cron run at NOW: what came due in the 5 minutes since the previous run
    due = due_at(NOW)
    picks = []
    for _ in range(5):
        t0 = time.perf_counter()
        with store.begin() as conn:
            rows = _pick(conn, "running", NOW, batch)
            conn.rollback()
        picks.append((time.perf_counter() - t0) * 1000)
    steady, steady_ms = timed(NOW)
    # 2. the next run, 5 minutes later
    nxt, nxt_ms = timed(NOW + timedelta(minutes=5))
    # 3. idle: a run with nothing due (the index probe every run pays)
    idle = sorted(timed(NOW + timedelta(minutes=5))[1] for _ in range(5))
    doc = {"db": label, "due_clocks": due, "pick_batch_ms": round(min(picks), 1), "picked": len(rows),
           "run_ms": round(steady_ms), "run_reminders": steady.reminders, "run_breached": steady.breached,
           "next_run_clocks": nxt.scanned, "next_run_ms": round(nxt_ms), "next_run_reminders": nxt.reminders,
           "idle_scan_ms": round(idle[len(idle) // 2], 2),
           "clocks_per_s": round((steady.scanned + nxt.scanned) / ((steady_ms + nxt_ms) / 1000))}
    print(json.dumps(doc), flush=True)
    return doc


class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counter = None  # multiprocessing.Value in the receiver process

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _Hook.counter.get_lock():
            _Hook.counter.value += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *a) -> None:  # noqa: ANN002
        pass


def _serve(port_q, counter) -> None:  # noqa: ANN001
    """The webhook receiver, in its own process so it does not share the worker's GIL."""
    class Srv(ThreadingHTTPServer):
        request_queue_size = 512
        daemon_threads = True

    _Hook.counter = counter
    srv = Srv(("127.0.0.1", 0), _Hook)
    port_q.put(srv.server_address[1])
    srv.serve_forever()


def measure_drain(store, rows: int, label: str) -> dict:  # noqa: ANN001
    import multiprocessing as mp

    from hub.outbox.worker import drain_outbox
    from hub.store import outbox as ob

    ctx = mp.get_context("spawn")
    counter, port_q = ctx.Value("i", 0), ctx.Queue()
    proc = ctx.Process(target=_serve, args=(port_q, counter), daemon=True)
    proc.start()
    os.environ["HUB_TEAM_CARDS_WEBHOOK"] = f"http://127.0.0.1:{port_q.get(timeout=30)}/hook"
    os.environ["HUB_TEAM_CARDS_WEBHOOK_SECRET"] = "bench-secret"
    from core.schema import Ticket

    demo = Ticket(ticket_id="T00000000000", source="app", external_id="B0", received_at=NOW)
    with store.begin() as conn:
        conn.execute(text("DELETE FROM outbox"))  # the chase run's reminders are not part of this figure
        conn.execute(text("UPDATE tickets SET data = :d WHERE ticket_id = 'T00000000000'"),
                     {"d": demo.model_dump_json(exclude={"clocks"})})
        for _ in range(rows):
            ob.enqueue(conn, key=f"bench:{uuid.uuid4().hex}", kind="reminder", target="cards",
                       ticket_id="T00000000000", payload={"ticket_id": "T00000000000", "team": "cards",
                                                          "level": "warn_1", "recipients": ["li.na"]})

    async def run() -> int:
        n = 0
        while (s := await drain_outbox(store, "bench", limit=200, kinds=["reminder"])).claimed:
            n += s.sent
        return n

    async def ceiling(n: int = 1000) -> float:
        """Plain signed-size POSTs to the same receiver, same concurrency: the HTTP path's own limit."""
        import httpx

        from hub.outbox.worker import CONCURRENCY

        url = os.environ["HUB_TEAM_CARDS_WEBHOOK"]
        sem = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient() as cl:
            async def one() -> None:
                async with sem:
                    await cl.post(url, content=b"{}" * 200)

            t = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            return n / (time.perf_counter() - t)

    raw_rps = asyncio.run(ceiling())
    t0 = time.perf_counter()
    sent = asyncio.run(run())
    dt = time.perf_counter() - t0
    received = counter.value
    proc.terminate()
    proc.join(5)
    doc = {"db": label, "raw_http_posts_per_s": round(raw_rps), "drain_rows": sent, "received": received - 1000, "drain_rows_per_s": round(sent / dt)}
    print(json.dumps(doc), flush=True)
    return doc


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (also called by `python -m bench`)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="open tickets")
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--pg-url", default=os.environ.get("HUB_TEST_POSTGRES_URL",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--drain", type=int, default=5000, help="outbox rows for the drain-rate run (0: skip)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HUB_PII_KEY", "q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU=")
    os.environ.setdefault("HUB_SANDBOX", "1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-chase-"))
    os.environ["HUB_HOME"] = str(tmp)
    from bench.pgdb import throwaway_database
    from hub.store.db import Store

    if args.db in ("sqlite", "both"):
        url = f"sqlite:///{tmp / 'bench.db'}"
        store = Store(url)
        store.upgrade()
        t0 = time.perf_counter()
        load_sqlite(url, args.n)
        print(json.dumps({"db": "sqlite", "loaded_tickets": args.n, "load_s": round(time.perf_counter() - t0, 1)}),
              flush=True)
        measure_chase(store, "sqlite")
        if args.drain:
            measure_drain(store, args.drain, "sqlite")
        store.dispose()
    if args.db in ("postgres", "both"):
        with throwaway_database("bench_chase", args.pg_url) as pg_url:
            store = Store(pg_url)
            store.upgrade()
            t0 = time.perf_counter()
            load_pg(store, args.n)
            print(json.dumps({"db": "postgres", "loaded_tickets": args.n,
                              "load_s": round(time.perf_counter() - t0, 1)}), flush=True)
            measure_chase(store, "postgres")
            if args.drain:
                measure_drain(store, args.drain, "postgres")
            store.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
