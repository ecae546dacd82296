"""The console in real Chromium: sign in, queue at a glance, detail, accept and resolve, XSS, CSP, CSRF."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from core.schema import ClockKind
from hub.handling.actions import request_extension
from hub.store.outbox import open_payload
from hub.store.tables import outbox
from hub.store.tickets import get_events, get_ticket
from tests.api.seed import PHONE
from tests.console.conftest import PASSWORD, XSS

VIEWPORT = {"width": 1366, "height": 768}  # a common laptop screen


async def _sign_in(browser, url: str, user: str, password: str = PASSWORD):  # noqa: ANN001, ANN202
    ctx = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    await page.goto(f"{url}/console/")
    assert page.url.endswith("/console/login")  # not signed in: sent to the sign-in page
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    return ctx, page, dialogs


async def test_queue_detail_accept_resolve(browser, console_app, artifacts_dir: Path) -> None:  # noqa: ANN001
    app, ids = console_app, console_app.ids
    ctx, page, dialogs = await _sign_in(browser, app.url, "zhang.wei")
    try:
        await page.wait_for_selector("table.queue")
        assert "信用卡投诉组" in await page.inner_text("header")
        rows = page.locator("table.queue tbody tr")
        # nearest deadline first; warning and breach visible as colour (row class) and text
        first_ids = [await rows.nth(i).locator("td").nth(2).inner_text() for i in range(await rows.count())]
        assert first_ids[:3] == [ids["breach"], ids["warning"], ids["act"]]
        assert ids["other"] not in first_ids  # another team's ticket never shows
        assert await rows.nth(0).get_attribute("class") == "row-breach"
        assert "已超时" in await rows.nth(0).inner_text()
        assert await rows.nth(1).get_attribute("class") == "row-warning"
        assert "即将到期" in await rows.nth(1).inner_text()
        bg = await rows.nth(0).evaluate("r => getComputedStyle(r).backgroundColor")
        assert bg not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")  # the stylesheet loaded under the CSP
        # a complaint containing <script> shows as text, runs nothing, adds no element
        body = await page.inner_text("table.queue")
        assert XSS in body
        assert await page.locator("script").count() == 0 and dialogs == []
        await page.screenshot(path=str(artifacts_dir / "console-queue.png"), full_page=True)

        # detail: timeline and explanations, then accept
        await page.click(f"a[href='/console/tickets/{ids['act']}'] >> nth=0")
        await page.wait_for_selector("ol.timeline")
        text = await page.inner_text("main")
        assert "研判说明" in text and "关键词权重 3" in text and "keyword weight" not in text and "年费、乱收费" in text
        assert "创建" in await page.inner_text("ol.timeline")
        assert PHONE not in text and "138****5678" in text  # masked for a handler
        await page.click("#btn-accept")
        await page.wait_for_selector("p.alert.info")
        assert "已受理" in await page.inner_text("p.alert.info")
        assert await page.inner_text("strong.status") == "处理中"
        assert "受理" in await page.inner_text("ol.timeline")
        await page.screenshot(path=str(artifacts_dir / "console-detail.png"), full_page=True)

        # resolve with a reply: status changes and the push-back is queued for the source
        await page.fill("form[action$='/resolve'] textarea[name=note]", "已核实，积分商品重新发货")
        await page.fill("form[action$='/resolve'] textarea[name=reply]", "您好，商品已重新发货，请注意查收。")
        await page.click("#btn-resolve")
        await page.wait_for_selector("p.alert.info")
        assert await page.inner_text("strong.status") == "已解决"
        with app.store.begin() as conn:
            t = get_ticket(conn, ids["act"])
            pushes = conn.execute(select(outbox.c.kind, outbox.c.payload).where(
                outbox.c.ticket_id == ids["act"], outbox.c.kind == "status_update")).all()
            kinds = [e.kind for e in get_events(conn, ids["act"])]
        assert t.handling.status.value == "resolved" and t.handling.handler == "zhang.wei"
        assert "accepted" in kinds and "status_changed" in kinds
        assert any(p.payload["status"] == "resolved" and "重新发货" in (open_payload(p.payload)["reply"] or "")
                   for p in pushes)
        assert not any("重新发货" in str(p.payload) for p in pushes)  # the reply is sealed at rest
        # back on the queue the resolved ticket is gone (open tickets only)
        await page.click("text=← 返回队列")
        await page.wait_for_selector("table.queue")
        assert ids["act"] not in await page.inner_text("table.queue")

        # XSS ticket detail: shown as text, nothing executed
        await page.goto(f"{app.url}/console/tickets/{ids['xss']}")
        assert XSS in await page.inner_text("div.content") and "<b>粗体</b>" in await page.inner_text("div.content")
        assert await page.locator("div.content b").count() == 0 and dialogs == []

        # another team's ticket by URL: not found, like an unknown id
        resp = await page.goto(f"{app.url}/console/tickets/{ids['other']}")
        assert resp.status == 404 and "工单不存在" in await page.inner_text("main")
    finally:
        await ctx.close()


async def test_security_headers_csrf_and_login(browser, console_app) -> None:  # noqa: ANN001
    app = console_app
    ctx = await browser.new_context(viewport=VIEWPORT)
    page = await ctx.new_page()
    try:
        resp = await page.goto(f"{app.url}/console/login")
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["x-content-type-options"] == "nosniff" and resp.headers["x-frame-options"] == "DENY"
        await page.fill("input[name=username]", "zhang.wei")
        await page.fill("input[name=password]", "wrong-password")
        await page.click("button[type=submit]")
        assert "用户名或密码错误" in await page.inner_text("p.alert.error")
        await page.fill("input[name=username]", "zhang.wei")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("table.queue")
        cookie = next(c for c in await ctx.cookies() if c["name"] == "hub_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    finally:
        await ctx.close()
    # a signed-in session without the form's CSRF token cannot act
    target = app.ids["ok"]
    with httpx.Client(base_url=app.url, cookies={"hub_session": cookie["value"]}) as c:
        r = c.post(f"/console/tickets/{target}/accept", data={"csrf": "forged"})
        assert r.status_code == 403
        r = c.post(f"/console/tickets/{target}/accept", data={})
        assert r.status_code == 403
    # a tampered cookie is no session at all
    with httpx.Client(base_url=app.url, cookies={"hub_session": cookie["value"][:-3] + "AAA"}) as c:
        r = c.get("/console/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
    with app.store.begin() as conn:
        assert get_ticket(conn, target).handling.status.value == "assigned"


async def test_lead_reveal_is_audited(browser, console_app) -> None:  # noqa: ANN001
    app = console_app
    ctx, page, _ = await _sign_in(browser, app.url, "lead.cards")
    try:
        await page.wait_for_selector("table.queue")
        await page.goto(f"{app.url}/console/tickets/{app.ids['ok']}")
        assert PHONE not in await page.inner_text("main")
        await page.click("text=查看明文（将记录审计）")
        await page.wait_for_selector("p.alert.warning")
        assert PHONE in await page.inner_text("main")
        with app.store.begin() as conn:
            audits = [e for e in get_events(conn, app.ids["ok"]) if e.kind == "pii_revealed"]
        assert len(audits) == 1 and audits[0].actor == "lead:lead.cards" and audits[0].data["channel"] == "console"

        # extension: the lead may not grant its own request (four eyes)...
        await page.fill("form[action$='/extension'] input[name=reason]", "需调取通话录音，情况复杂")
        await page.click("#btn-extension")
        await page.wait_for_selector("#btn-approve")
        await page.click("#btn-approve")
        await page.wait_for_selector("p.alert.error")
        assert "延期申请不能由申请人本人审批" in await page.inner_text("p.alert.error")  # in Chinese
        # ...but approves a handler's request; the resolution deadline moves
        with app.store.begin() as conn:
            due_before = get_ticket(conn, app.ids["ok"]).clock(ClockKind.RESOLUTION).due_at
            request_extension(conn, app.ids["ok"], actor="handler:zhang.wei", days=15, reason="客户材料未齐")
        await page.goto(f"{app.url}/console/tickets/{app.ids['ok']}")
        assert "处理人 zhang.wei 申请延期 15 天" in await page.inner_text("main")
        await page.click("#btn-approve")
        await page.wait_for_selector("p.alert.info")
        assert "延期审批已记录" in await page.inner_text("p.alert.info")
        assert "延期已批准" in await page.inner_text("ol.timeline")
        assert await page.locator("#btn-approve").count() == 0
        with app.store.begin() as conn:
            due_after = get_ticket(conn, app.ids["ok"]).clock(ClockKind.RESOLUTION).due_at
        assert due_after - due_before >= timedelta(days=15)

        # transfer: the ticket leaves this team's queue, with a reason on its timeline
        await page.goto(f"{app.url}/console/tickets/{app.ids['xss']}")
        await page.select_option("form[action$='/transfer'] select[name=to_team]", "payments")
        await page.fill("form[action$='/transfer'] input[name=reason]", "涉及跨行转账，归支付结算组")
        await page.click("#btn-transfer")
        await page.wait_for_selector("table.queue")
        assert "工单已转办至其他团队" in await page.inner_text("p.alert.info")
        assert app.ids["xss"] not in await page.inner_text("table.queue")
        with app.store.begin() as conn:
            t = get_ticket(conn, app.ids["xss"])
            ev = get_events(conn, app.ids["xss"])[-1]
        assert t.handling.team == "payments" and ev.kind == "transferred" and "跨行" in (ev.note or "")
    finally:
        await ctx.close()


async def test_reclassify_confirms_an_unsure_judgement_and_reroutes(browser, console_app) -> None:  # noqa: ANN001
    """A ticket marked for review shows why; the handler's correction is recorded and moves it on."""
    app, tid = console_app, console_app.ids["review"]
    ctx, page, _ = await _sign_in(browser, app.url, "zhang.wei")
    try:
        await page.wait_for_selector("table.queue")
        await page.goto(f"{app.url}/console/tickets/{tid}")
        banner = await page.inner_text("#needs-review")
        assert "待人工复核" in banner and "0.41" in banner
        assert await page.inner_text("#btn-reclassify") == "确认研判"
        await page.select_option("#form-reclassify select[name=reason]", "info_security/fraud")
        await page.select_option("#form-reclassify select[name=urgency]", "urgent")
        await page.fill("#form-reclassify input[name=note]", "钓鱼短信诈骗，转安全团队")
        await page.click("#btn-reclassify")
        await page.wait_for_selector("p.alert.info")
        assert "改判后工单已转至其他团队" in await page.inner_text("p.alert.info")
        with app.store.begin() as conn:
            t = get_ticket(conn, tid)
            kinds = [e.kind for e in get_events(conn, tid)]
        assert t is not None and t.handling.team == "security" and not t.judgement.needs_review
        assert t.judgement.sub_category == "fraud" and t.judgement.corrected_by == "handler:zhang.wei"
        assert kinds[-2:] == ["reclassified", "transferred"]
        resp = await page.goto(f"{app.url}/console/tickets/{tid}")  # it left the team
        assert resp is not None and resp.status == 404
    finally:
        await ctx.close()
