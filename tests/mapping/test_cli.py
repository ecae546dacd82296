"""`hub mappings check` and `hub quarantine list | show | replay` against a real store."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from cli import app
from core.configfile import reload_config
from core.settings import PROJECT_ROOT
from hub.pipeline.normalise import normalise_pending
from hub.store import landing
from tests.mapping.helpers import raw, samples

runner = CliRunner()


def test_mappings_check_ok_and_bad(tmp_path):  # noqa: ANN001
    res = runner.invoke(app, ["mappings", "check", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {d["source"] for d in doc} == {"gov12315", "blackcat", "app", "sms", "callcenter"}
    assert all(d["version"].startswith(d["source"] + "@") for d in doc)
    shutil.copytree(PROJECT_ROOT / "mappings", tmp_path / "m")
    y = tmp_path / "m" / "app.yaml"
    y.write_text(y.read_text(encoding="utf-8").replace("transforms: [empty_null, phone]", "transforms: [phonee]"))
    res = runner.invoke(app, ["mappings", "check", "--dir", str(tmp_path / "m")])
    assert res.exit_code == 2
    assert "app.yaml" in res.output and "fields.customer.phone.transforms[0]" in res.output


def test_quarantine_list_show_replay(use_store, tmp_path, monkeypatch):  # noqa: ANN001
    store = use_store
    p = samples("gov12315")[0] | {"reg_no": "R-BAD", "amount": "abc"}
    landing.land(store, "gov12315", [raw("gov12315", p)], None)
    assert normalise_pending(store).quarantined == 1
    res = runner.invoke(app, ["quarantine", "list", "--json", "--source", "gov12315"])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)
    assert entry["external_id"] == "R-BAD" and entry["field"].startswith("matter.amount")
    res = runner.invoke(app, ["quarantine", "show", str(entry["id"]), "--json"])
    shown = json.loads(res.stdout)
    assert shown["payload"]["amount"] == "abc"
    assert "13812345678" not in res.stdout and "330102195001011234" not in res.stdout and "王建国" not in res.stdout
    assert shown["payload"]["phone"] == "138****5678"
    res = runner.invoke(app, ["quarantine", "show", str(entry["id"])])
    assert res.exit_code == 0 and "13812345678" not in res.stdout
    # fix the mapping (amount errors → no amount), replay by id
    shutil.copytree(PROJECT_ROOT / "mappings", tmp_path / "m")
    y = tmp_path / "m" / "gov12315.yaml"
    y.write_text(y.read_text(encoding="utf-8").replace(
        "matter.amount: {path: amount, transforms: [empty_null, amount]}",
        "matter.amount: {path: amount, transforms: [empty_null, {map: {values: {abc: null}, strict: false}}, amount]}"))
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path / "m"))
    reload_config()
    try:
        res = runner.invoke(app, ["quarantine", "replay", "--id", str(entry["id"]), "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["created"] == 1
        res = runner.invoke(app, ["quarantine", "list", "--json"])
        assert json.loads(res.stdout) == []
        res = runner.invoke(app, ["quarantine", "list", "--json", "--state", "replayed"])
        assert [e["external_id"] for e in json.loads(res.stdout)] == ["R-BAD"]
    finally:
        reload_config()
