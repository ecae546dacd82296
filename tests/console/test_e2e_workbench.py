"""End to end in Chromium: a handler takes a complaint from the queue to resolved with a 话术 reply,
without leaving the console; the push worker delivers the reply to the sandbox's app backend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from core.schema import utcnow
from hub.backoffice.replies import get_replies, templates_for
from hub.outbox.worker import drain_outbox
from hub.reports import period_window
from hub.reports.metrics import compute
from hub.store.outbox import open_payload
from hub.store.tables import incidents, outbox
from hub.store.tickets import get_events, get_ticket
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
        # a small compensation within the handler's authority (fees: 500 元) is granted at once
        assert "500" in await page.inner_text("#form-compensate")
        await page.fill("#form-compensate input[name=amount]", "300")
        await page.fill("#form-compensate input[name=reason]", "退还多扣年费")
        await page.click("#btn-compensate")
        await page.wait_for_selector("p.alert.info")
        assert "已补偿" in await page.inner_text("ol.timeline") and "300 元" in await page.inner_text("ol.timeline")
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


async def test_compensation_above_the_limit_waits_for_another_lead(browser, console_app) -> None:  # noqa: ANN001
    (tid,) = seed(console_app.store, [make_ticket("COMP-big", team="cards", handler="zhang.wei",
                                                 title="年费重复扣收三年要求全部退还")])
    ctx, page, _ = await _sign_in(browser, console_app.url, "zhang.wei")
    try:
        await page.wait_for_selector("table.queue")
        await page.goto(f"{console_app.url}/console/tickets/{tid}")
        r = await page.request.post(f"{console_app.url}/console/tickets/{tid}/compensate", form={
            "amount": "-5.557", "reason": "x", "csrf": await page.get_attribute("#form-compensate input[name=csrf]", "value")})
        assert r.status == 422 and "「金额」填写有误" in await r.text() and "-5.557" not in await r.text()
        await page.fill("#form-compensate input[name=amount]", "900")
        await page.fill("#form-compensate input[name=reason]", "三年年费")
        await page.click("#btn-compensate")
        await page.wait_for_selector("#comp-pending")
        assert "待组长审批" in await page.inner_text("#comp-pending")
        assert await page.locator("#btn-comp-approve").count() == 0  # a handler never approves
    finally:
        await ctx.close()
    ctx, page, _ = await _sign_in(browser, console_app.url, "lead.cards")
    try:
        await page.wait_for_selector("table.queue")
        await page.goto(f"{console_app.url}/console/tickets/{tid}")
        await page.click("#btn-comp-approve")
        await page.wait_for_selector("p.alert.info")
        assert await page.locator("#comp-pending").count() == 0
        # the lead's own request above the limit: the lead may not approve it
        await page.fill("#form-compensate input[name=amount]", "800")
        await page.fill("#form-compensate input[name=reason]", "补偿交通费")
        await page.click("#btn-compensate")
        await page.click("#btn-comp-approve")
        await page.wait_for_selector("p.alert.error")
        assert "补偿申请不能由申请人本人审批" in await page.inner_text("p.alert.error")
    finally:
        await ctx.close()
    with console_app.store.begin() as conn:
        kinds = [(e.kind, e.actor, e.data.get("amount")) for e in get_events(conn, tid) if "compens" in e.kind]
        tables = compute(conn, period_window("daily", utcnow() + timedelta(hours=1)), hourly_trend=True)
    assert kinds == [("compensation_requested", "handler:zhang.wei", "900"), ("compensated", "lead:lead.cards", "900"),
                     ("compensation_requested", "lead:lead.cards", "800")]
    comp = tables["compensation"]  # every grant appears in the reports
    assert comp["count"] >= 1 and comp["approved_above_limit"] >= 1 and Decimal(comp["total"]) >= 900


async def test_incident_page_one_notice_for_all_and_close(browser, console_app, artifacts_dir: Path) -> None:  # noqa: ANN001
    inc_id = "I-SMSDOWN-1"
    items = [make_ticket(f"INC-{i}", team="cards", source=src, title=f"短信验证码收不到 {i}")
             for i, src in enumerate(("app", "blackcat", "callcenter"))]
    for t in items:
        t.judgement.incident_id = inc_id
    ids = seed(console_app.store, items)
    now = utcnow()
    with console_app.store.begin() as conn:
        conn.execute(incidents.insert().values(incident_id=inc_id, signature="sms-down", title="短信验证码故障",
                                               first_at=now - timedelta(hours=2), last_at=now, ticket_count=3,
                                               team="cards", state="open", data={}))
    ctx, page, _ = await _sign_in(browser, console_app.url, "zhang.wei")
    try:  # a handler sees the incident and its tickets, but only a lead answers them all
        await page.wait_for_selector("table.queue")
        await page.goto(f"{console_app.url}/console/tickets/{ids[0]}")
        await page.click("#incident-link")
        await page.wait_for_selector("#incident-meta")
        listed = await page.inner_text("table.queue")
        assert all(tid in listed for tid in ids)
        assert await page.locator("#incident-actions").count() == 0
        csrf = await page.get_attribute("form[action='/console/logout'] input[name=csrf]", "value")
        r = await page.request.post(f"{console_app.url}/console/incidents/{inc_id}/notice",
                                    form={"text": "故障已修复", "csrf": csrf or ""})
        assert r.status == 403
    finally:
        await ctx.close()
    for name, vp in (("1366", {"width": 1366, "height": 768}), ("390", {"width": 390, "height": 844})):
        ctx, page, _ = await _sign_in(browser, console_app.url, "lead.cards")
        await page.set_viewport_size(vp)
        await page.wait_for_selector("table.queue")
        await page.goto(f"{console_app.url}/console/incidents/{inc_id}")
        assert await page.evaluate("document.documentElement.scrollWidth") <= vp["width"]
        await page.screenshot(path=str(artifacts_dir / f"workbench-incident-{name}.png"), full_page=True)
        if name == "390":
            await ctx.close()
            continue
        notice = "您好，短信验证码故障已于今日修复，给您带来不便深表歉意。"
        for _ in range(2):  # the same notice twice: one push per ticket
            await page.fill("#incident-actions textarea[name=text]", notice)
            await page.click("#btn-incident-notice")
            await page.wait_for_selector("p.alert.info")
        with console_app.store.begin() as conn:
            rows = conn.execute(select(outbox.c.ticket_id, outbox.c.payload).where(outbox.c.ticket_id.in_(ids))).all()
        pushed = [r.ticket_id for r in rows if notice in str(open_payload(r.payload))]
        assert sorted(pushed) == sorted(ids)  # exactly one each, through the outbox
        await page.fill("#incident-actions textarea[name=text]", "故障已修复，本次投诉办结。")
        await page.check("#incident-actions input[name=close]")
        await page.click("#btn-incident-notice")
        await page.wait_for_selector("p.alert.info")
        assert "已关闭" in await page.inner_text("#incident-meta")
        assert await page.locator("#incident-actions").count() == 0
        await ctx.close()
    with console_app.store.begin() as conn:
        states = {get_ticket(conn, tid).handling.status.value for tid in ids}
        kinds = [e.kind for e in get_events(conn, ids[1])]
    assert states == {"resolved"} and kinds.count("incident_notice") == 2
