"""`bench/ingest` runs end to end on a tiny input and prints its figures."""

from __future__ import annotations

import pytest

pytest.importorskip("sandbox.generator")


def test_bench_ingest_small(capsys):  # noqa: ANN001
    from bench.ingest import main

    assert main(["--n", "300"]) == 0
    out = capsys.readouterr().out
    assert "records/s" in out and "ratio hub/floor" in out and "peak memory" in out
    assert "floor + the hub's own rows" in out and "created" in out
