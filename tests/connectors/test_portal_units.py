"""Portal layer pieces that need no browser: cursor logic, session files, code providers, options."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from connectors.config import PortalConfig, SourceConfig
from connectors.portal.codes import (
    CodeRequest,
    EnvCodeProvider,
    FileCodeProvider,
    SandboxCodeProvider,
    make_code_provider,
)
from connectors.portal.options import PortalOptions
from connectors.portal.state import load_state, save_state, state_path
from connectors.portal.watermark import PortalCursor, Row, RunPlan
from core.errors import AuthError, ConfigError


def plan(cursor=None, overlap=60, revisit=60 * 24):  # noqa: ANN001, ANN201
    return RunPlan(PortalCursor.model_validate(cursor.to_json() if isinstance(cursor, PortalCursor) else cursor or {}),
                   overlap=timedelta(minutes=overlap),
                   revisit=timedelta(minutes=revisit))


def test_first_run_takes_everything_and_dedupes_within_the_run() -> None:
    p = plan()
    rows = [Row("A", "2026-11-20 10:00:00", "待处理"), Row("B", "2026-11-20 10:00:00", "待处理"),
            Row("A", "2026-11-20 10:00:00", "待处理")]  # A delivered twice (pages shifted)
    assert [r.id for r in rows if p.wants(r)] == ["A", "B"]
    p.done(rows[:2])
    cur = p.final_cursor()
    assert cur.watermark == "2026-11-20 10:00:00" and set(cur.seen) == {"A", "B"} and cur.complete


def test_next_run_skips_unchanged_takes_changed_same_second_and_late_rows() -> None:
    first = plan()
    old = [Row("A", "2026-11-20 10:00:00", "待处理"), Row("B", "2026-11-20 09:00:00", "待处理")]
    for r in old:
        first.wants(r)
    first.done(old)
    p = plan(first.final_cursor())
    rows = [Row("A", "2026-11-20 10:00:00", "待处理"),   # unchanged
            Row("C", "2026-11-20 10:00:00", "待处理"),   # same second as the watermark, new
            Row("D", "2026-11-20 09:30:00", "待处理"),   # late arrival inside the overlap
            Row("B", "2026-11-20 09:00:00", "已撤回"),   # changed at the source
            Row("E", "2026-11-19 08:00:00", "待处理")]   # history never seen: not re-landed
    assert [r.id for r in rows if p.wants(r)] == ["C", "D", "B"]
    assert p.stats["unchanged"] == 1 and p.stats["old"] == 1


def test_stopped_run_resumes_without_loss_or_repeat() -> None:
    p = plan()
    page1 = [Row("A", "2026-11-20 10:00:00", "s"), Row("B", "2026-11-20 09:59:00", "s")]
    assert all(p.wants(r) for r in page1)
    p.done(page1)
    mid = p.page_cursor()
    assert mid.watermark is None and not mid.complete  # the watermark moves only at the end
    resumed = plan(mid)
    again = page1 + [Row("C", "2026-11-19 09:00:00", "s")]
    assert [r.id for r in again if resumed.wants(r)] == ["C"]


def test_malformed_times_never_move_the_watermark() -> None:
    p = plan({"watermark": "2026-11-20 10:00:00", "seen": {}})
    assert p.wants(Row("X", "2026-13-45 25:61:00", "s")) and p.wants(Row("Y", "昨天下午", "s"))
    p.done([Row("X", "2026-13-45 25:61:00", "s"), Row("Y", "昨天下午", "s")])
    cur = p.final_cursor()
    assert cur.watermark == "2026-11-20 10:00:00" and set(cur.seen) == {"X", "Y"}


def test_list_stops_below_the_revisit_window() -> None:
    p = plan({"watermark": "2026-11-20 10:00:00", "seen": {}}, overlap=60, revisit=120)
    assert not p.is_past_window("2026-11-20 08:00:00")
    assert p.is_past_window("2026-11-20 07:59:59")


def test_session_file_is_owner_only(tmp_path) -> None:  # noqa: ANN001
    path = state_path(tmp_path, "gov12315")
    save_state(path, {"cookies": [{"name": "JSESSIONID", "value": "x"}], "origins": []})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert load_state(path)["cookies"][0]["name"] == "JSESSIONID"
    path.write_text("{broken")
    assert load_state(path) is None  # unreadable → just log in again


async def test_code_providers(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    req = CodeRequest(source="gov12315", username="u", requested_at=datetime.now(UTC) - timedelta(seconds=1))
    monkeypatch.setenv("HUB_TEST_SMS_CODE", "482913")
    assert await make_code_provider("env:HUB_TEST_SMS_CODE").get_code(req) == "482913"
    monkeypatch.delenv("HUB_TEST_SMS_CODE")
    with pytest.raises(AuthError):
        await EnvCodeProvider("HUB_TEST_SMS_CODE").get_code(req)
    f = tmp_path / "code.txt"
    f.write_text("您的验证码是 135790，5分钟内有效")
    assert await FileCodeProvider(f, timeout=1, poll=0.05).get_code(req) == "135790"
    assert isinstance(make_code_provider("sandbox"), SandboxCodeProvider)
    with pytest.raises(ConfigError):
        make_code_provider("carrier-pigeon")


def _portal_section(**kw: object) -> SourceConfig:
    return SourceConfig.model_validate({"source": "blackcat", "kind": "portal", "base_url": "http://127.0.0.1:1", **kw})


def test_options_from_config_resolve_references(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HUB_TEST_PORTAL_PW", "s3cret")
    cfg = _portal_section(credentials={"username": "env:HUB_TEST_PORTAL_ACCOUNT|merchant",
                                       "password": "env:HUB_TEST_PORTAL_PW"},
                          portal={"parallel_pages": 2, "selectors": {"list.card": "div.x"}})
    opts = PortalOptions.from_config(cfg, default_selectors={"list.card": "div.y", "list.more": "button"},
                                     default_paths={"detail": "/c/{id}"})
    assert opts.username == "merchant" and opts.password.get_secret_value() == "s3cret"
    assert opts.portal.parallel_pages == 2
    assert opts.selector("list.card") == "div.x" and opts.selector("list.more") == "button"
    assert opts.url("detail", id="7") == "http://127.0.0.1:1/c/7"
    assert "s3cret" not in repr(opts)
    with pytest.raises(ConfigError, match="list.nothing"):
        opts.selector("list.nothing")
    with pytest.raises(ConfigError):  # a literal secret is refused
        PortalOptions.from_config(_portal_section(credentials={"password": "literal"}), default_selectors={},
                                  default_paths={})
    with pytest.raises(ValueError, match="parallel_pags"):  # a misspelt key names itself
        _portal_section(portal={"parallel_pags": 2})


@pytest.mark.browser
async def test_runtime_launches_its_own_browser_and_keeps_failure_evidence(tmp_path) -> None:  # noqa: ANN001
    """The path `hub pull` and the flows take: PortalRuntime starts (and stops) Chromium itself."""
    from connectors.portal import PortalRuntime
    from connectors.portal.scrape import Scraper
    from core.errors import PortalChangedError
    from core.settings import get_settings

    async with PortalRuntime(get_settings().model_copy(update={"home": tmp_path})) as rt:
        page = await rt.new_page("gov12315")
        assert await rt.new_page("gov12315") and len((await rt.context("gov12315")).context.pages) == 2
        await page.set_content("<h2>登记详情</h2><table class='detail-table'></table>")
        opts = PortalOptions(source="gov12315", base_url="http://127.0.0.1:9",
                             portal=PortalConfig(element_timeout_ms=200),
                             selectors={"detail.table": "table.detail-table", "detail.row": "tr.gone"})
        assert await Scraper(rt, opts, page).require("detail.table")
        with pytest.raises(PortalChangedError) as err:
            await Scraper(rt, opts, page).require("detail.row")
        assert err.value.selector == "detail.row=tr.gone" and err.value.source == "gov12315"
        assert err.value.screenshot.read_bytes()[:4] == b"\x89PNG" and err.value.trace.stat().st_size > 0
        saved = await rt.save_session("gov12315")
        assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert rt._browser is None  # noqa: SLF001 - closed with the runtime
