"""`make bench` prints one table: every row with value, baseline, ratio and peak memory; failures shown."""

from __future__ import annotations

import subprocess
import sys

from bench.__main__ import ROWS, render
from core.settings import PROJECT_ROOT


def test_table_has_every_row_with_baseline_and_memory() -> None:
    rows = [{"label": "ingest: land+normalise 10 records", "value": 500.0, "unit": "rec/s", "baseline": 1000.0,
             "baseline_label": "raw floor", "peak_mb": 123.4, "row_seconds": 3.0},
            {"label": "chase-pg", "error": "timed out after 5 s"}]
    out = render(rows).splitlines()
    assert "baseline" in out[0] and "peak MB" in out[0] and "ratio" in out[0]
    assert "0.50" in out[2] and "123" in out[2] and "raw floor" in out[2]
    assert "FAILED: timed out" in out[3]
    noted = render([{**rows[0], "note": "hub/dlt 1.62"}]).splitlines()
    assert noted[-1].strip() == "ingest: land+normalise 10 records: hub/dlt 1.62"
    assert set(ROWS) == {"ingest", "ingest-dlt", "pipeline-sqlite", "pipeline-pg", "enrich", "judge", "chase-sqlite",
                         "chase-pg", "drain", "portal", "cycle", "startup"}


def test_runner_child_mode_reports_a_row_as_json() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--only", "drain", "--quick", "--timeout", "240"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("outbox drain"))
    assert "rows/s" in line and "plain POSTs" in line


def test_enrich_store_sizes_take_turns_on_fresh_copies(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """`bench/enrich.py --stored`: every round enriches the same batch on a fresh copy of its store, so the
    rounds do the very same work (the same links found each time) and differ only by the machine's noise.
    The "same" batch is identical for every store; "spread" draws its regulars across a bigger store's pool
    (more people, each with a history) and is timed on the same pre-filled store, not a second one."""
    from bench.enrich import measure_sizes

    monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
    small, big, spread, fixed = measure_sizes([(2000, "scaled"), (30_000, "scaled", "same"),
                                               (30_000, "scaled", "spread"), (6000, "fixed")], new=400, rounds=2)
    for m in (small, big, spread, fixed):
        assert m["rounds"] == 2 and len(m["per_cpu_s_rounds"]) == 2 and m["per_cpu_s"] > 0
        assert m["linked_rounds"][0] == m["linked_rounds"][1]  # round 2 did not see round 1's tickets
        assert m["judge_per_cpu_s"] > 0 and m["peak_mb"] >= m["before_mb"] > 0
    assert small["linked"] + big["linked"] > 0  # the batch did link to stored tickets: the equality says something
    assert [(m["stored"], m["pool"], m["customers"]) for m in (small, big, spread, fixed)] == [
        (2000, "scaled", "same"), (30_000, "scaled", "same"), (30_000, "scaled", "spread"), (6000, "fixed", "same")]
    assert big["prefill_s"] == spread["prefill_s"]  # one pre-filled store for both batches
    # the same batch: the same regulars at every size; spread over three blocks: more people for as many tickets
    assert (small["regular_tickets"], small["regular_customers"]) == (big["regular_tickets"],
                                                                      big["regular_customers"])
    assert spread["regular_customers"] > big["regular_customers"]
