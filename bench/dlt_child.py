"""Run inside the throw-away dlt environment (bench/dlt_compare.py): merge-load a JSONL file into SQLite.

    <env>/bin/python bench/dlt_child.py RECORDS.jsonl WORKDIR

Only the standard library and dlt are importable here (not the hub). Each line of
RECORDS.jsonl is {"source", "external_id", "payload"}; the records are merge-loaded
(primary key source + external_id, write_disposition="merge") with dlt's
sqlalchemy destination into a fresh SQLite file under WORKDIR. Prints one line
`DLT-RESULT {json}` with the seconds of `pipeline.run` (reading the file included:
the hub side parses the same texts) and what was loaded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def main() -> int:
    """Load the file, print the result line."""
    records, work = Path(sys.argv[1]), Path(sys.argv[2])
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no phoning home from a benchmark
    os.environ.setdefault("DLT_DATA_DIR", str(work / "dlt-data"))
    import dlt  # imported after the environment is set: dlt reads it at import

    @dlt.resource(name="raw_records", primary_key=("source", "external_id"), write_disposition="merge")
    def raw() -> Iterator[dict[str, Any]]:
        with records.open(encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)

    db = work / "dlt.db"
    pipeline = dlt.pipeline(pipeline_name="bench_dlt", pipelines_dir=str(work / "pipelines"),
                            destination=dlt.destinations.sqlalchemy(credentials=f"sqlite:///{db}"),
                            dataset_name="main")
    t0, c0 = time.perf_counter(), time.process_time()
    info = pipeline.run(raw())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    info.raise_on_failed_jobs()
    print("DLT-RESULT " + json.dumps({"seconds": wall, "cpu_seconds": cpu, "dlt_version": dlt.__version__,
                                      "loaded": _count(work)}), flush=True)
    return 0


def _count(work: Path) -> int:
    """Rows in the loaded raw_records table (whichever SQLite file of WORKDIR holds it)."""
    for f in sorted(work.glob("*.db")):
        con = sqlite3.connect(f)
        try:
            n = con.execute("SELECT count(*) FROM raw_records").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        finally:
            con.close()
        return int(n)
    return -1


if __name__ == "__main__":
    sys.exit(main())
