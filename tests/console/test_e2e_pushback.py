"""End to end: a handler replies and resolves in the console; the push worker delivers both to the
sandbox's app backend, where the customer would see them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.configfile import reload_config
from hub.outbox.worker import drain_outbox
from sandbox import Sandbox
from tests.api.seed import make_ticket, seed
from tests.console.test_console import _sign_in


@pytest.fixture
def app_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    sb = Sandbox(seed=3, rate=0, backlog=5, burst_size=20,
                 start=datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    sb.start(port=0)
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(sb.urls))
    monkeypatch.setenv("HUB_SOURCE_URLS", str(urls))  # connectors reach the sandbox by configuration alone
    reload_config()
    try:
        yield sb
    finally:
        sb.stop()
        monkeypatch.delenv("HUB_SOURCE_URLS")
        reload_config()


async def test_console_reply_and_resolve_reach_the_source(browser, console_app, app_sandbox) -> None:  # noqa: ANN001
    ext = next(r["id"] for r in app_sandbox.records("app") if r["status"] not in ("withdrawn", "resolved", "closed"))
    (tid,) = seed(console_app.store, [make_ticket(ext, team="cards", source="app", title="转账被扣两次",
                                                 handler="zhang.wei")])  # a handler works their own tickets
    ctx, page, _ = await _sign_in(browser, console_app.url, "zhang.wei")
    try:
        await page.wait_for_selector("table.queue")
        await page.goto(f"{console_app.url}/console/tickets/{tid}")
        await page.fill("form[action$='/reply'] textarea[name=text]", "您好，我们已核实并将在今日内退回重复扣款。")
        await page.click("#btn-reply")
        await page.wait_for_selector("p.alert.info")
        assert await page.inner_text("strong.status") == "处理中"
        await page.fill("form[action$='/resolve'] textarea[name=reply]", "重复扣款已退回，请查收。")
        await page.click("#btn-resolve")
        await page.wait_for_selector("p.alert.info")
        assert await page.inner_text("strong.status") == "已解决"
    finally:
        await ctx.close()
    stats = await drain_outbox(console_app.store, "e2e-worker", kinds=["status_update"])
    assert stats.sent >= 2 and not stats.errors, stats.errors
    writes = [w for w in app_sandbox.writes("app") if w["external_id"] == ext]
    assert [w["kind"] for w in writes] == ["reply", "reply"]
    assert writes[0]["data"]["reply"] == "您好，我们已核实并将在今日内退回重复扣款。"
    assert writes[-1]["data"]["status"] == "resolved" and "重复扣款已退回" in writes[-1]["data"]["reply"]
    now = next(r for r in app_sandbox.records("app") if r["id"] == ext)
    assert now["status"] == "resolved" and "重复扣款已退回" in now["reply"]  # what the customer now sees
