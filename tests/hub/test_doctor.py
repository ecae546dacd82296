"""`hub doctor` on a misconfigured and on a good installation: one actionable line per problem."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from core.configfile import reload_config
from hub.doctor import check_holidays, check_secrets, env_references, run_checks


def _invoke(*args: str):  # noqa: ANN202
    from cli import app

    return CliRunner().invoke(app, ["doctor", *args])


def _good_env(monkeypatch: pytest.MonkeyPatch, config_dir, db_url: str) -> None:  # noqa: ANN001
    for _, name, _ in env_references(config_dir):
        monkeypatch.setenv(name, f"real-{name.lower()}")
    monkeypatch.setenv("HUB_OPS_WEBHOOK", "http://127.0.0.1:9/ops")
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.delenv("HUB_SANDBOX", raising=False)


def test_misconfigured_installation_exits_non_zero_with_one_line_per_problem(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'never-migrated.db'}")
    monkeypatch.delenv("HUB_OPS_WEBHOOK", raising=False)
    monkeypatch.delenv("HUB_APP_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("HUB_SMS_SECRET", "demo-sms-secret")  # the published default, set explicitly
    monkeypatch.delenv("HUB_SANDBOX", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    reload_config()
    try:
        with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # nothing listens on port 9
            res = _invoke()
    finally:
        reload_config()
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    assert any(ln.startswith("ERROR store:") and "hub db upgrade" in ln for ln in lines)
    assert any("HUB_APP_CLIENT_SECRET" in ln and ln.startswith("ERROR secrets:") for ln in lines)
    assert any("HUB_SMS_SECRET" in ln and "published demo default" in ln for ln in lines)
    assert any(ln.startswith("ERROR ops:") and "HUB_OPS_WEBHOOK" in ln for ln in lines)
    assert any(ln.startswith("ERROR prefect:") and "unreachable" in ln for ln in lines)
    # the secret's value is never printed
    assert "demo-sms-secret" not in res.output


def test_sandbox_mode_allows_the_demo_credentials(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("HUB_APP_CLIENT_SECRET", raising=False)
    assert [f.level for f in check_secrets(sandbox=True)] == ["ok"]
    assert "error" in {f.level for f in check_secrets(sandbox=False)}


def test_holidays_warn_until_calendar_yaml_holds_the_next_year(hub_config) -> None:  # noqa: ANN001
    (warn,) = check_holidays(today=date(2026, 12, 1))
    assert warn.level == "warn" and "2027" in warn.text and "calendar.yaml" in warn.text
    y = hub_config / "calendar.yaml"
    y.write_text(y.read_text(encoding="utf-8").replace(
        "years: {}", 'years:\n  2027:\n    holidays: ["2027-01-01"]\n    workdays: []'), encoding="utf-8")
    reload_config()
    assert [f.level for f in check_holidays(today=date(2026, 12, 1))] == ["ok"]
    assert [f.level for f in check_holidays(today=date(2026, 6, 1))] == ["ok"]  # 2026 from the package


def test_good_installation_passes(prefect_harness, sqlite_store, hub_config, monkeypatch) -> None:  # noqa: ANN001
    y = hub_config / "calendar.yaml"
    y.write_text(y.read_text(encoding="utf-8").replace(
        "years: {}", 'years:\n  2027:\n    holidays: ["2027-01-01"]\n    workdays: []'), encoding="utf-8")
    _good_env(monkeypatch, hub_config, str(sqlite_store.engine.url))
    reload_config()
    try:
        findings = run_checks()
        res = _invoke()
    finally:
        reload_config()
    bad = [f.line() for f in findings if f.level != "ok"]
    assert not bad, bad
    assert res.exit_code == 0, res.output
    assert "OK    prefect:" in res.output and res.output.strip().endswith("all checks passed")


def test_wrong_handler_load_counts_warn_until_recounted(sqlite_store, monkeypatch) -> None:  # noqa: ANN001
    from cli import app
    from hub.doctor import check_store
    from hub.store.tables import handler_load

    monkeypatch.setenv("HUB_DATABASE_URL", str(sqlite_store.engine.url))
    with sqlite_store.begin() as conn:  # counters edited by hand: no ticket is open
        conn.execute(handler_load.insert().values(team="retail", handler="h0", open_count=3))
    found = {f.check: f for f in check_store()}
    assert found["handler load"].level == "warn"
    assert "retail/h0: 3 kept, 0 open" in found["handler load"].text and "hub db recount-load" in found["handler load"].text
    res = CliRunner().invoke(app, ["db", "recount-load"])
    assert res.exit_code == 0 and "rebuilt for 0 handler(s)" in res.output, res.output
    assert [f.level for f in check_store()] == ["ok", "ok"]
