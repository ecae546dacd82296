"""bench/dlt_compare: the hub's ingest beside dlt merge-loading the very same records into SQLite.

    python -m bench.dlt_compare --n 20000

In one run:
1. the sandbox generates N records, written once to a JSONL file (one
   {"source", "external_id", "payload"} per line, `bench.ingest.write_input`) that
   both sides read, each timing its reading of it;
2. dlt (pinned `DLT_VERSION`, installed in its own throw-away virtualenv under
   var/bench-dlt-env/dlt-<version>/, never a project dependency; a second run reuses
   it) merge-loads them (primary key source + external_id, write_disposition="merge")
   with its sqlalchemy destination into a fresh SQLite file, timed in that child
   process (bench/dlt_child.py: `pipeline.run`, reading the file included);
3. the hub ingests the same texts the way `bench.ingest` does (land + normalise,
   payloads, PII and free text encrypted, tickets and events written) into a fresh
   SQLite store, and the store floor copies the rows the hub wrote (the storage
   alone, `bench.ingest.store_floor`).

Prints records/s of each, hub / dlt and hub / store floor. dlt does no mapping, no
encryption and writes no tickets: it is what "just load the records" costs with a
maintained loader. If dlt cannot be installed (no network, no index) the run
fails with that reason: a comparison without its baseline is not a result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: the dlt measured against (the issue's figure was taken with 1.31); the env is cached per version
DLT_VERSION = "1.31.0"
ENV_ROOT = ROOT / "var" / "bench-dlt-env"

os.environ.setdefault("HUB_PII_KEY", "q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU=")  # bench-only key
os.environ.setdefault("HUB_SANDBOX", "1")


class DltUnavailable(RuntimeError):
    """dlt could not be installed or run in its own environment."""


def dlt_python(version: str = DLT_VERSION, root: Path = ENV_ROOT) -> Path:
    """The interpreter of a virtualenv with `dlt[sqlalchemy]==version`, made on first use.

    The env is complete only once `.ready` is written after a successful install and
    import check, so an interrupted install is redone, not reused.
    """
    env = root / f"dlt-{version}"
    py = env / "bin" / "python"
    if (env / ".ready").exists() and py.exists():
        return py
    shutil.rmtree(env, ignore_errors=True)
    env.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(env)],
             [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"dlt[sqlalchemy]=={version}"],
             [str(py), "-c", "import dlt, sqlalchemy; print(dlt.__version__)"]]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as exc:
            raise DltUnavailable(f"installing dlt {version} timed out ({' '.join(cmd[:4])} …)") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise DltUnavailable(f"cannot install dlt {version} into {env} (package index unreachable?): "
                                 + " | ".join(tail))
    (env / ".ready").write_text(version)
    return py


def run_dlt(py: Path, records: Path, work: Path) -> dict[str, Any]:
    """Merge-load `records` with dlt in its own interpreter; its DLT-RESULT line."""
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PYTHON"))}
    proc = subprocess.run([str(py), str(ROOT / "bench" / "dlt_child.py"), str(records), str(work)],
                          capture_output=True, text=True, timeout=3600, env=env, cwd=work)
    for line in proc.stdout.splitlines():
        if line.startswith("DLT-RESULT "):
            return dict(json.loads(line[len("DLT-RESULT "):]))
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    raise DltUnavailable(f"the dlt load failed (exit {proc.returncode}): " + " | ".join(tail))


def measure(n: int, seed: int = 1, batch: int = 1000) -> dict[str, Any]:
    """Generate n records, run dlt and the hub on them; rates, ratios and the hub's peak memory."""
    from bench.ingest import RssSampler, hub, read_input, store_floor, write_input
    from hub.mapping import get_mappings
    from hub.store.db import Store

    t0 = time.perf_counter()
    py = dlt_python()  # first: a missing dlt fails the row before anything is measured
    setup_s = time.perf_counter() - t0
    old_home = os.environ.get("HUB_HOME")
    with tempfile.TemporaryDirectory(prefix="bench-dlt-") as d:
        tmp = Path(d)
        os.environ["HUB_HOME"] = str(tmp / "home")
        records = tmp / "records.jsonl"
        n = write_input(records, seed, n)  # generated in a child process: its memory is not the hub's
        dlt_doc = run_dlt(py, records, tmp / "dlt")
        if dlt_doc["loaded"] != n:
            raise DltUnavailable(f"dlt loaded {dlt_doc['loaded']} of {n} records")
        store = Store(f"sqlite:///{tmp / 'hub.db'}")
        store.upgrade()
        get_mappings()
        sampler = RssSampler()
        sampler.start()
        # read from the very file dlt read (its timing includes reading it, so does the hub's)
        (h_wall, h_cpu), stats, landed = hub(read_input(records), store, batch)
        peak = sampler.stop()
        store.dispose()
        f_wall, f_cpu = store_floor(records.read_text(encoding="utf-8").splitlines(), tmp / "hub.db", tmp, batch)
        if old_home is None:
            os.environ.pop("HUB_HOME", None)
        else:
            os.environ["HUB_HOME"] = old_home
    return {"n": n, "dlt_version": dlt_doc["dlt_version"], "dlt_env_setup_s": setup_s,
            "dlt_per_s": n / dlt_doc["seconds"], "dlt_cpu_per_s": n / dlt_doc["cpu_seconds"],
            "hub_per_s": n / h_wall, "hub_cpu_per_s": n / h_cpu, "store_floor_per_s": n / f_wall,
            "store_floor_cpu_per_s": n / f_cpu, "hub_vs_dlt": dlt_doc["seconds"] / h_wall,
            "hub_vs_dlt_cpu": dlt_doc["cpu_seconds"] / h_cpu, "hub_vs_store_floor": f_wall / h_wall,
            "hub_vs_store_floor_cpu": f_cpu / h_cpu, "landed": landed, "created": stats.created,
            "quarantined": stats.quarantined, "hub_peak_mb": peak}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print it (exit 1 when dlt is unavailable or a --assert target is missed)."""
    ap = argparse.ArgumentParser(prog="bench.dlt_compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="records (default 20000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--assert-ratio", type=float, default=None, help="fail when hub/dlt is below this")
    args = ap.parse_args(argv)
    try:
        m = measure(args.n, args.seed)
    except DltUnavailable as exc:
        print(f"dlt comparison FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"dlt {m['dlt_version']} merge → SQLite:   {m['dlt_per_s']:9,.0f} records/s  (CPU {m['dlt_cpu_per_s']:,.0f}/s; "
          f"env ready in {m['dlt_env_setup_s']:.1f}s)")
    print(f"hub land+normalise → SQLite: {m['hub_per_s']:9,.0f} records/s  (CPU {m['hub_cpu_per_s']:,.0f}/s; "
          f"created {m['created']}, quarantined {m['quarantined']}; peak RSS {m['hub_peak_mb']:.0f} MB)")
    print(f"store floor (hub's rows):    {m['store_floor_per_s']:9,.0f} records/s  (CPU {m['store_floor_cpu_per_s']:,.0f}/s)")
    print(f"hub / dlt = {m['hub_vs_dlt']:.2f} (target ≥ 1.5, stretch 2; by CPU {m['hub_vs_dlt_cpu']:.2f})   "
          f"hub / store floor = {m['hub_vs_store_floor']:.2f} (target ≥ 0.5; by CPU {m['hub_vs_store_floor_cpu']:.2f})")
    if args.assert_ratio is not None and m["hub_vs_dlt"] < args.assert_ratio:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
