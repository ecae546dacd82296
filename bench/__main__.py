"""`make bench`: every benchmark of the hub in ONE table, each row with its baseline and peak memory.

    .venv/bin/python -m bench [--quick] [--only ROW ...] [--json FILE]

Each row runs in its own child process (`python -m bench --row NAME`), so its peak
memory (max RSS of that process) is its own and no row warms another's caches; the
baseline of a row is measured in the same child, right after (or before) the row.
Rows (full size; `--quick` shrinks them ~10x for a smoke run):

| row          | measured                                             | baseline (same run)                         |
|--------------|------------------------------------------------------|---------------------------------------------|
| ingest       | land + normalise 100k sandbox records, records/s     | raw floor: json.loads+pydantic+SQLite       |
| ingest-dlt   | the hub's ingest of 20k sandbox records, records/s;  | dlt merge-loading the same records into     |
|              | the note adds hub / store-only floor (target ≥ 0.5)  | SQLite from its own venv (target ≥ 1.5)     |
| pipeline-*   | 100k backlog pulled, landed, normalised, enriched,   | the pull+land+normalise stage alone, rec/s  |
|              | routed, dispatched (sync path, no Prefect), rec/s;   |                                             |
|              | SQLite and PostgreSQL                                |                                             |
| enrich       | enrich + route the same 2,000 new tickets, 1M        | the same with 10k stored (flat: ratio ~1)   |
|              | stored, rec/s; the note adds the batch's regulars    |                                             |
|              | spread over the 1M pool, and a fixed customer pool   |                                             |
| judge        | judge in batches (normalise+match+model), texts/s    | the rule pass alone (normalise+match)       |
| chase-sqlite | one chase run over 1M open tickets, ms               | the idle scan (nothing due), ms             |
| chase-pg     | the same on PostgreSQL                               | the idle scan on PostgreSQL                 |
| drain        | outbox → local signed webhook, rows/s                | plain httpx POSTs to the receiver, /s       |
| portal-*     | portal scrape with 4 pages at once, records/s        | the same with 1 page                        |
| empty-cycle  | hub pass over all five sources, nothing new, s       | the five connectors' pulls alone, s         |
| e2e          | complaint in sandbox → dispatch sent (median), s     | one empty hub pass, s                       |
| startup      | empty sync-source run in a fresh process against a   | a bare `@flow` run the same way, s          |
|              | real `prefect server` (what a worker runs), s        |                                             |

The code of each measurement lives in bench/ingest.py, dlt_compare.py, pipeline.py,
enrich.py, chase.py, portal.py and cycle.py; this runner only imports and tabulates them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HUB_PII_KEY", "q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU=")  # bench-only key
os.environ.setdefault("HUB_SANDBOX", "1")  # benchmarks run against the sandbox
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

SIZES = {"full": {"ingest": 100_000, "enrich": 1_000_000, "chase": 1_000_000, "drain": 5000, "portal": 200,
                 "judge": 50_000, "dlt": 20_000, "pipeline": 100_000},
         "quick": {"ingest": 10_000, "enrich": 100_000, "chase": 50_000, "drain": 1000, "portal": 40, "judge": 5000,
                   "dlt": 5000, "pipeline": 10_000}}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _wall(t: float | tuple[float, float]) -> float:
    """bench/ingest.py returns (wall, CPU) seconds; the table compares wall time."""
    return t[0] if isinstance(t, tuple) else t


def _tmp_home() -> Path:
    d = Path(tempfile.mkdtemp(prefix="bench-"))
    os.environ["HUB_HOME"] = str(d)
    return d


def row_ingest(size: dict[str, int]) -> dict[str, Any]:
    from bench.ingest import RssSampler, floor, hub, read_input, write_input
    from hub.mapping import get_mappings
    from hub.store.db import Store

    n = size["ingest"]
    tmp = _tmp_home()
    source = tmp / "records.jsonl"
    write_input(source, 1, n)  # generated in a child: the peak sampled is the hub's, not the input's
    store = Store(f"sqlite:///{tmp / 'hub.db'}")
    store.upgrade()
    get_mappings()
    sampler = RssSampler()
    sampler.start()
    secs = _wall(hub(read_input(source), store, 1000)[0])
    peak = sampler.stop()
    store.dispose()
    fsecs = _wall(floor(source.read_text(encoding="utf-8").splitlines(), True, tmp))
    return {"label": f"ingest: land+normalise {n:,} records", "value": n / secs, "unit": "rec/s",
            "baseline_label": "raw floor json+pydantic+SQLite", "baseline": n / fsecs, "peak_mb": peak,
            "higher_is_better": True, "note": "records read from a JSONL file as they go (as pages arrive); "
                                              "peak = resident memory sampled during the hub phase"}


def row_ingest_dlt(size: dict[str, int]) -> dict[str, Any]:
    """The hub's ingest beside dlt on the same records (bench/dlt_compare.py); fails if dlt cannot be installed."""
    from bench.dlt_compare import measure

    m = measure(size["dlt"])
    return {"label": f"ingest vs dlt {m['dlt_version']}→SQLite, {m['n']:,} rec", "value": m["hub_per_s"],
            "unit": "rec/s", "baseline_label": "dlt merge-load, same records", "baseline": m["dlt_per_s"],
            "peak_mb": m["hub_peak_mb"], "higher_is_better": True,
            "note": f"hub/dlt {m['hub_vs_dlt']:.2f} (CPU {m['hub_vs_dlt_cpu']:.2f}); hub/store floor "
                    f"{m['hub_vs_store_floor']:.2f} (CPU {m['hub_vs_store_floor_cpu']:.2f})", "extra": m}


def _pipeline_row(size: dict[str, int], db: str) -> dict[str, Any]:
    from bench.pipeline import measure

    _tmp_home()
    m = measure(size["pipeline"], db)
    front = m["stages_s"]["pull+land+normalise"]
    return {"label": f"pipeline {m['new']:,} rec → dispatched ({'SQLite' if db == 'sqlite' else 'PostgreSQL'})",
            "value": m["per_s"], "unit": "rec/s", "baseline_label": "pull+land+normalise stage alone",
            "baseline": m["new"] / front if front else 0.0, "peak_mb": m["max_rss_mb"], "higher_is_better": True,
            "note": f"CPU of the hub process {m['cpu_per_s']:,.0f} rec/s; stages (s): "
                    + ", ".join(f"{k} {v:.1f}" for k, v in m["stages_s"].items()), "extra": m}


def row_pipeline_sqlite(size: dict[str, int]) -> dict[str, Any]:
    """The full pipeline on SQLite (bench/pipeline.py)."""
    return _pipeline_row(size, "sqlite")


def row_pipeline_pg(size: dict[str, int]) -> dict[str, Any]:
    """The full pipeline on a throw-away PostgreSQL database (bench/pipeline.py)."""
    return _pipeline_row(size, "postgres")


def row_enrich(size: dict[str, int]) -> dict[str, Any]:
    from bench.enrich import measure_sizes

    n = size["enrich"]
    _tmp_home()
    # the very same 2,000 new tickets (texts and customers), enriched with 10k and with n tickets stored,
    # three rounds taking turns (medians); customers grow with the store ("scaled"). Beside it, on the
    # same n store, a batch whose regulars are spread over its whole pool (more customers with a history
    # to read), and "fixed": 2,000 regulars for every size (the history caps' worst case)
    small, big, spread, fixed = measure_sizes([(10_000, "scaled", "same"), (n, "scaled", "same"),
                                               (n, "scaled", "spread"), (n, "fixed", "same")])
    return {"label": f"enrich+route same 2,000 new, {n:,} stored", "value": big["per_cpu_s"],
            "unit": "rec/s", "baseline_label": "the same with 10,000 stored", "baseline": small["per_cpu_s"],
            "peak_mb": _peak_mb(), "higher_is_better": True,
            "note": f"per CPU-second (the machine is shared: wall time varies), median of {big['rounds']} rounds "
                    f"taking turns with the 10k store; its regulars spread over the {n:,} store's pool "
                    f"({spread['regular_customers']} people for {spread['regular_tickets']} tickets, against "
                    f"{small['regular_customers']} for {small['regular_tickets']}): {spread['per_cpu_s']:,.0f} "
                    f"rec/s, {spread['per_cpu_s'] / small['per_cpu_s']:.2f} of 10k; 2,000 regulars for every "
                    f"size (fixed pool): {fixed['per_cpu_s']:,.0f} rec/s, "
                    f"{fixed['per_cpu_s'] / small['per_cpu_s']:.2f}; judge alone "
                    f"{small['judge_per_cpu_s']:,.0f} texts/CPU-s",
            "extra": {"small": small, "big": big, "spread": spread, "fixed": fixed}}


def row_judge(size: dict[str, int]) -> dict[str, Any]:
    from bench.judge import measure

    m = measure(size["judge"])
    return {"label": f"judge {m['n']:,} texts in batches (model load {m['load_s'] * 1000:.0f} ms)",
            "value": m["judge_per_s"], "unit": "texts/s", "baseline_label": "rule pass alone",
            "baseline": m["rules_per_s"], "peak_mb": _peak_mb(), "higher_is_better": True}


def _chase_doc(store: Any, label: str) -> dict[str, Any]:
    from bench.chase import measure_chase

    return measure_chase(store, label)


def row_chase_sqlite(size: dict[str, int]) -> dict[str, Any]:
    from bench.chase import load_sqlite
    from hub.store.db import Store

    n = size["chase"]
    tmp = _tmp_home()
    url = f"sqlite:///{tmp / 'bench.db'}"
    store = Store(url)
    store.upgrade()
    load_sqlite(url, n)
    doc = _chase_doc(store, "sqlite")
    store.dispose()
    return _chase_row("SQLite", n, doc)


def _chase_row(db: str, n: int, doc: dict[str, Any]) -> dict[str, Any]:
    return {"label": f"chase run, {n:,} open ({db}; {doc['due_clocks']:,} due)", "value": doc["run_ms"],
            "unit": "ms", "baseline_label": "idle scan (nothing due)", "baseline": doc["idle_scan_ms"],
            "peak_mb": _peak_mb(), "higher_is_better": False, "extra": doc}


def row_chase_pg(size: dict[str, int]) -> dict[str, Any]:
    from bench.chase import load_pg
    from bench.pgdb import throwaway_database
    from hub.store.db import Store

    n = size["chase"]
    _tmp_home()
    with throwaway_database("bench_chase") as url:
        store = Store(url)
        store.upgrade()
        load_pg(store, n)
        doc = _chase_doc(store, "postgres")
        store.dispose()
    return _chase_row("PostgreSQL", n, doc)


def row_drain(size: dict[str, int]) -> dict[str, Any]:
    from bench.chase import load_sqlite, measure_drain
    from hub.store.db import Store

    tmp = _tmp_home()
    url = f"sqlite:///{tmp / 'bench.db'}"
    store = Store(url)
    store.upgrade()
    load_sqlite(url, 100)  # the ticket the reminders point at
    doc = measure_drain(store, size["drain"], "sqlite")
    store.dispose()
    return {"label": f"outbox drain → local webhook ({doc['drain_rows']:,} rows)", "value": doc["drain_rows_per_s"],
            "unit": "rows/s", "baseline_label": "plain POSTs, same concurrency", "baseline": doc["raw_http_posts_per_s"],
            "peak_mb": _peak_mb(), "higher_is_better": True}


def _portal_rows(size: dict[str, int]) -> list[dict[str, Any]]:
    import multiprocessing as mp

    from bench.portal import measure, portal_sources, serve

    sources = portal_sources()
    home = _tmp_home()
    urls_q: mp.Queue = mp.Queue()
    stop = mp.Event()
    child = mp.Process(target=serve, args=(size["portal"], sources, urls_q, stop), daemon=True)
    child.start()
    try:
        res = asyncio.run(measure(urls_q.get(timeout=120), sources, [1, 4], home))
    finally:
        stop.set()
        child.join(timeout=10)
    rows = []
    for src in sources:
        one = next(r for r in res if r["source"] == src and r["parallel"] == 1)
        four = next(r for r in res if r["source"] == src and r["parallel"] == 4)
        rows.append({"label": f"portal scrape {src}, 4 pages ({four['records']} rec)", "value": four["records_per_s"],
                     "unit": "rec/s", "baseline_label": "1 page", "baseline": one["records_per_s"],
                     "peak_mb": _peak_mb(), "higher_is_better": True, "note": "RSS of the hub process, not Chromium"})
    return rows


def row_cycle(size: dict[str, int]) -> list[dict[str, Any]]:
    from bench.cycle import e2e_latency, empty_cycle

    quick = size is SIZES["quick"]
    ec = asyncio.run(empty_cycle(quick))
    e2e = asyncio.run(e2e_latency(quick))
    return [{"label": "empty cycle, all five sources", "value": ec["seconds"], "unit": "s",
             "baseline_label": "the five connector pulls alone", "baseline": ec["baseline_seconds"],
             "peak_mb": _peak_mb(), "higher_is_better": False},
            {"label": f"end to end: sandbox → dispatch sent (median of {e2e['n']})", "value": e2e["seconds"],
             "unit": "s", "baseline_label": "one empty hub pass", "baseline": e2e["baseline_seconds"],
             "peak_mb": _peak_mb(), "higher_is_better": False}]


def row_startup(size: dict[str, int]) -> dict[str, Any]:
    from bench.startup import measure

    doc = measure(n=2 if size is SIZES["quick"] else 5)
    return {"label": "empty scheduled sync run: process start → Completed", "value": doc["seconds"], "unit": "s",
            "baseline_label": "bare Prefect flow run, same way", "baseline": doc["baseline_seconds"],
            "peak_mb": _peak_mb(), "higher_is_better": False, "extra": doc}


ROWS = {"ingest": row_ingest, "ingest-dlt": row_ingest_dlt, "pipeline-sqlite": row_pipeline_sqlite,
        "pipeline-pg": row_pipeline_pg, "enrich": row_enrich, "judge": row_judge, "chase-sqlite": row_chase_sqlite,
        "chase-pg": row_chase_pg,
        "drain": row_drain, "portal": _portal_rows, "cycle": row_cycle, "startup": row_startup}


def _child(name: str, quick: bool) -> None:
    size = SIZES["quick" if quick else "full"]
    out = ROWS[name](size)
    rows = out if isinstance(out, list) else [out]
    print("BENCH-ROWS " + json.dumps(rows, default=str), flush=True)


def _run_row(name: str, quick: bool, timeout: float) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "bench", "--row", name] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"label": name, "error": f"timed out after {timeout:.0f} s"}]
    secs = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-ROWS "):
            rows = json.loads(line[len("BENCH-ROWS "):])
            for r in rows:
                r["row_seconds"] = secs
            return rows
    return [{"label": name, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:150]}]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def render(rows: list[dict[str, Any]]) -> str:
    """The one table (plain text, fixed width)."""
    head = f"{'benchmark':<52} {'value':>12} {'unit':<6} {'baseline':>12}  {'baseline is':<32} {'ratio':>6} {'peak MB':>8} {'time':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['label']:<52} FAILED: {r['error']}")
            continue
        ratio = r["value"] / r["baseline"] if r["baseline"] else float("nan")
        lines.append(f"{r['label'][:52]:<52} {_fmt(r['value']):>12} {r['unit']:<6} {_fmt(r['baseline']):>12}  "
                     f"{r['baseline_label'][:32]:<32} {ratio:>6.2f} {r['peak_mb']:>8.0f} {r['row_seconds']:>5.0f}s")
    lines.append("ratio = value / baseline (rec/s, rows/s: higher is better; ms, s: lower is better). "
                 "peak MB = max RSS of the row's process.")
    lines += [f"  {r['label'][:52]}: {r['note']}" for r in rows if r.get("note") and "error" not in r]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every row (each in a child process) and print the table; non-zero if a row failed."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="~10x smaller sizes (a smoke run)")
    ap.add_argument("--only", nargs="+", choices=sorted(ROWS), help="run these rows only")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per row")
    ap.add_argument("--row", choices=sorted(ROWS), help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args(argv)
    if args.row:
        _child(args.row, args.quick)
        return 0
    rows: list[dict[str, Any]] = []
    for name in args.only or list(ROWS):
        print(f"running {name} …", file=sys.stderr, flush=True)
        rows += _run_row(name, args.quick, args.timeout)
    print(render(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
