"""End to end in Chromium: a handler takes a complaint from the queue to resolved with a 话术 reply,
without leaving the console; the push worker delivers the reply to the sandbox's app backend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hub.backoffice.replies import get_replies, templates_for
from hub.outbox.worker import drain_outbox
from sandbox import Sandbox
from tests.api.seed import make_ticket, seed
from tests.console.test_console import _sign_in
from tests.console.test_e2e_pushback import app_sandbox  # noqa: F401  (the sandbox fixture)


def test_templates_fit_sub_category_and_source() -> None:
    cfg = get_replies()
    assert cfg.limits["sms"].max_chars == 70 and cfg.limits["blackcat"].public
    fees = templates_for(make_ticket("R-1", team="cards", source="blackcat"))  # sub-category fees
    ids = [x.id for x in fees]
    assert ids[0] in ("fees-refund", "fees-explain") and "blackcat-public" in ids and "sms-short" not in ids
    assert "ack-general" in ids and ids.index("ack-general") > ids.index("fees-refund")


async def test_queue_to_resolved_with_a_template_reply(browser, console_app, app_sandbox: Sandbox,  # noqa: ANN001, F811
                                                       artifacts_dir: Path) -> None:
    ext = next(r["id"] for r in app_sandbox.records("app") if r["status"] not in ("withdrawn", "resolved", "closed"))
    (tid,) = seed(console_app.store, [make_ticket(ext, team="cards", source="app", title="年费多扣一笔要求退还",
                                                 due_in=timedelta(minutes=-20))])  # new, unassigned, overdue
    ctx, page, _ = await _sign_in(browser, console_app.url, "zhang.wei")
    try:
        await page.wait_for_selector("table.queue")
        await page.click(f"table.queue a[href='/console/tickets/{tid}'] >> nth=0")  # from the queue
        await page.click("#btn-accept")
        await page.wait_for_selector("p.alert.info")
        assert "已超时" in await page.inner_text("#clocks")
        # 话术: picking one fills the reply with the ticket number and the expected time
        await page.select_option("#form-template select[name=tpl]", "fees-refund")
        await page.click("#btn-template")
        await page.wait_for_selector("#form-template")
        reply = await page.input_value("form[action$='/reply'] textarea[name=text]")
        assert tid in reply and "退回原账户" in reply and "{" not in reply
        assert "App" in await page.inner_text("#source-limit")
        await page.screenshot(path=str(artifacts_dir / "workbench-template-1366.png"), full_page=True)
        await page.click("#btn-reply")
        await page.wait_for_selector("p.alert.info")
        assert await page.inner_text("strong.status") == "处理中"
        await page.select_option("#form-template select[name=tpl]", "ack-general")
        await page.click("#btn-template")
        await page.wait_for_selector("#form-template")
        final = await page.input_value("form[action$='/resolve'] textarea[name=reply]")
        assert tid in final and "年" in final  # the expected date filled in
        await page.click("#btn-resolve")
        await page.wait_for_selector("p.alert.info")
        assert await page.inner_text("strong.status") == "已解决"
        # 黑猫's replies are public: the handler is warned beside the reply
        await page.goto(f"{console_app.url}/console/tickets/{console_app.ids['warning']}")
        warn = page.locator("p.alert.warning#source-limit")
        assert "对公众可见" in await warn.inner_text()
        assert "blackcat-public" in await page.inner_html("#form-template")
        # a template id that is not offered on this ticket: 422 naming the field
        r = await page.goto(f"{console_app.url}/console/tickets/{tid}?tpl=<b>nope</b>")
        assert r is not None and r.status == 422 and "话术模板" in await page.inner_text("p.alert.error")
        assert "<b>nope" not in await page.content()
    finally:
        await ctx.close()
    stats = await drain_outbox(console_app.store, "e2e-workbench", kinds=["status_update"])
    assert stats.sent >= 2 and not stats.errors, stats.errors
    writes = [w for w in app_sandbox.writes("app") if w["external_id"] == ext]
    assert tid in writes[0]["data"]["reply"] and "退回原账户" in writes[0]["data"]["reply"]
    now = next(r for r in app_sandbox.records("app") if r["id"] == ext)
    assert now["status"] == "resolved" and tid in now["reply"]  # what the customer now sees
