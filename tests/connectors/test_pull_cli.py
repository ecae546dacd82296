"""`hub pull SOURCE` against the sandbox: lands pages with their cursor; a second run lands nothing new."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from core.configfile import reload_config
from hub.store.landing import get_cursor


@pytest.fixture
def sandbox_env(sandbox, tmp_path, monkeypatch):
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(sandbox.urls))
    monkeypatch.setenv("HUB_SOURCE_URLS", str(urls))
    reload_config()
    yield sandbox
    monkeypatch.delenv("HUB_SOURCE_URLS")
    reload_config()


@pytest.mark.parametrize("source", ["app", "sms", "callcenter"])
def test_pull_twice_lands_nothing_new_the_second_time(sandbox_env, use_store, source):
    runner = CliRunner()
    first = runner.invoke(app, ["pull", source, "--json"])
    assert first.exit_code == 0, first.output
    doc = json.loads(first.output)
    assert doc["records"] > 0 and doc["new"] == doc["records"] and doc["pages"] >= 1
    with use_store.begin() as conn:
        assert get_cursor(conn, source) == doc["cursor"]
    second = runner.invoke(app, ["pull", source, "--json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["new"] == 0


def test_pull_prints_counts_and_reports_auth_failure(sandbox_env, use_store, monkeypatch):
    runner = CliRunner()
    out = runner.invoke(app, ["pull", "callcenter", "--max-pages", "1"])
    assert out.exit_code == 0, out.output
    assert "page 1:" in out.output and "pages=1" in out.output and "cursor:" in out.output
    monkeypatch.setenv("HUB_CALLCENTER_APP_SECRET", "wrong-secret")
    bad = runner.invoke(app, ["pull", "callcenter"])
    assert bad.exit_code == 2
    assert "HTTP 401" in bad.output and "credentials" in bad.output and "wrong-secret" not in bad.output
    from sqlalchemy import select

    from hub.store.tables import sync_state

    with use_store.begin() as conn:
        row = conn.execute(select(sync_state).where(sync_state.c.source == "callcenter")).one()
    assert "401" in row.last_error and row.cursor is not None  # the committed cursor survives the failure
