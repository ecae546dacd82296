"""The dlt comparison and the full-pipeline benchmark run end to end on tiny inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench import dlt_compare
from bench.pipeline import API_SOURCES, backlog_for, main


def test_dlt_that_cannot_be_installed_fails_with_the_reason(tmp_path: Path) -> None:
    """No silent skip: an install that fails names dlt, the version and pip's own last words."""
    with pytest.raises(dlt_compare.DltUnavailable, match=r"cannot install dlt 0\.0\.0\.999"):
        dlt_compare.dlt_python("0.0.0.999", root=tmp_path)
    assert not (tmp_path / "dlt-0.0.0.999" / ".ready").exists()


def test_a_ready_env_is_reused_without_reinstalling(tmp_path: Path) -> None:
    env = tmp_path / "dlt-9.9.9"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(sys.executable)
    (env / ".ready").write_text("9.9.9")
    assert dlt_compare.dlt_python("9.9.9", root=tmp_path) == env / "bin" / "python"


def test_the_hub_and_dlt_load_the_same_jsonl(tmp_path: Path) -> None:
    """The records both sides load: generated in a child process into one JSONL file, read back line by line."""
    from bench.ingest import read_input, write_input
    from sandbox.generator import generate_records

    assert write_input(tmp_path / "r.jsonl", 3, 40) == 40
    lines = list(read_input(tmp_path / "r.jsonl"))
    assert [json.loads(ln) for ln in lines] == [{"source": s, "external_id": e, "payload": p}
                                                for s, e, p in generate_records(3, 40)]


def test_backlog_is_sized_for_the_api_sources() -> None:
    from sandbox.systems import SYSTEMS

    share = sum(SYSTEMS[s].mix for s in API_SOURCES) / sum(s.mix for s in SYSTEMS.values())
    assert abs(backlog_for(1000) * share - 1000) < 2 and set(API_SOURCES) <= set(SYSTEMS)


def test_pipeline_small_run_dispatches_what_it_pulled(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--n", "150"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(next(ln for ln in out.splitlines() if ln.startswith("PIPELINE-RESULT "))[16:])
    assert doc["new"] >= 100 and doc["pulled"] >= doc["new"] and doc["created"] > 0.8 * doc["new"] and doc["routed"] == doc["created"]
    assert doc["sent"] > 0 and doc["peak_mb"] > 0 and "records/s" in out
    assert set(doc["stages_s"]) >= {"pull+land+normalise", "enrich+route", "drain"}
