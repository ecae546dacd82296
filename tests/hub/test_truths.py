"""Small truths operators rely on: versions, schedules, artifact columns, listings that say they were cut."""

from __future__ import annotations

import json
from importlib.metadata import version

import yaml
from typer.testing import CliRunner

from cli import app
from connectors.config import SourceConfig
from connectors.registry import source_keys
from core.schema import Matter, Ticket, make_ticket_id, utcnow
from core.settings import PROJECT_ROOT
from hub.pipeline.sync import COLUMNS, SourceResult
from hub.store.tickets import upsert_tickets

runner = CliRunner()


def _prefect_yaml() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))


def test_prefect_yaml_names_the_installed_prefect() -> None:
    assert _prefect_yaml()["prefect-version"] == version("prefect")


def test_schedules_have_one_source_of_truth_prefect_yaml() -> None:
    assert "schedule" not in SourceConfig.model_fields
    text = (PROJECT_ROOT / "config" / "sources.yaml").read_text(encoding="utf-8")
    assert "\n    schedule:" not in text
    scheduled = {d["parameters"]["source"] for d in _prefect_yaml()["deployments"]
                 if d["entrypoint"] == "flows/sync.py:sync_source" and d.get("schedules")}
    assert set(source_keys()) <= scheduled


def test_sync_artifact_has_no_pushed_column_that_is_always_zero() -> None:
    assert "pushed" not in COLUMNS and "pushed" not in SourceResult(source="app").row()


def test_json_listing_says_when_it_was_cut(use_store) -> None:  # noqa: ANN001
    ts = [Ticket(ticket_id=make_ticket_id("app", f"L{i}"), source="app", external_id=f"L{i}", received_at=utcnow(),
                 matter=Matter(title="t", content="c")) for i in range(3)]
    with use_store.begin() as conn:
        upsert_tickets(conn, ts)
    cut = runner.invoke(app, ["tickets", "list", "--json", "--limit", "2"])
    assert cut.exit_code == 0 and len(json.loads(cut.stdout)) == 2
    assert "first 2 tickets; more exist" in cut.stderr and "--all" in cut.stderr
    whole = runner.invoke(app, ["tickets", "list", "--json", "--all", "--limit", "2"])
    assert len(json.loads(whole.stdout)) == 3 and "more exist" not in whole.stderr
    exact = runner.invoke(app, ["tickets", "list", "--json", "--limit", "3"])
    assert len(json.loads(exact.stdout)) == 3 and "more exist" not in exact.stderr
    for group in (["quarantine", "list"], ["outbox", "list"]):
        res = runner.invoke(app, [*group, "--json", "--all"])
        assert res.exit_code == 0, res.output
