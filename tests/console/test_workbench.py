"""Issue 18 in real Chromium: Chinese everywhere, clocks a handler can act on, 390 px cards, search, history.

Screenshots at 1366 px and 390 px of the queue, a ticket and the search page go to test-artifacts/.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from core.pii import get_vault
from core.schema import Attachment, EscalationTarget, Explanation, Status, TicketEvent, Urgency, utcnow
from hub import labels
from hub.backoffice.export import xlsx_bytes
from hub.backoffice.users import add_user
from hub.outbox.dispatch import dispatch_message, reminder_message
from hub.sla.config import get_sla
from hub.store.db import Store
from hub.store.tables import audit_log, saved_searches, tickets
from hub.store.tickets import add_events, get_events
from tests.api.seed import PHONE, make_ticket, seed
from tests.console.conftest import PASSWORD
from tests.fixtures.hub_config import clear_config_caches
from web.app import create_app
from web.server import serve_in_thread

WIDE = {"width": 1366, "height": 768}
PHONE_VIEW = {"width": 390, "height": 844}
HUB = Path(__file__).resolve().parents[2] / "hub"
#: words of the English texts earlier versions wrote into explanations and the raw keys of the hub
ENGLISH = re.compile(r"\b(policy|rule|keyword|weight|threat|escalate|working days|sticky|least_loaded|on duty|"
                     r"none|urgent|general|classified|clock_breached|clock\.\w+|first_response|resolution|"
                     r"breached|running|gov12315|banking|product|fees|needs_review|incident_\w+|survey_\w+)\b")


def code_event_kinds() -> set[str]:
    """Every timeline event kind the hub's code writes (read from the source, so a new kind is found)."""
    kinds: set[str] = set()
    for path in HUB.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"TicketEvent\((?:[^()]|\([^()]*\))*\)", text):
            for a, b in re.findall(r'kind="(\w+)"(?: if \w+ else "(\w+)")?', m.group(0)):
                kinds.update((a, b))
        kinds.update(re.findall(r'_event\(t, [\w"]+, "(\w+)"', text))
        for a, b in re.findall(r'kind = "(\w+)" if \w+ else "(\w+)"', text):
            kinds.update((a, b))
        kinds.update(re.findall(r'"kind": "(\w+)",\s*"data"', text))
    kinds.discard("")
    return kinds


def code_explanation_keys() -> set[str]:
    """Every explanation key the hub's code writes (clock keys for every clock kind)."""
    keys: set[str] = set()
    for path in HUB.rglob("*.py"):
        keys.update(re.findall(r'explanations\["([\w.]+)"\]\s*=', path.read_text(encoding="utf-8")))
    return keys | {f"clock.{k}" for k in labels.CLOCK_KIND}


@dataclass
class Bench:
    url: str
    store: Store
    ids: dict[str, str]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, hub_env: Path) -> Iterator[Bench]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('bench') / 'hub.db'}")
    store.upgrade()
    with store.begin() as conn:
        add_user(conn, "li.na", PASSWORD, team="cards", role="handler", display_name="李娜")
    now = utcnow()
    late = make_ticket("12315-2026-0001", team="cards", title="信用卡年费未经同意扣收，已投诉12315", source="gov12315",
                       due_in=-timedelta(hours=3, minutes=12), now=now, repeat_count=2, handler="h1",
                       category="service")
    late.clocks[0].policy, late.clocks[1].policy = "general", "gov12315"
    late.case_id, late.handling.first_handler = "C-CASE-1", "h1"
    late.matter.attachments = [Attachment(name="扣费截图.png", ref="https://files.example.cn/a/1.png"),
                               Attachment(name="录音.mp3", ref="/files/7")]
    late.explanations.update({  # texts as earlier versions stored them (English), and the current keys
        "escalation": Explanation(value="none", reason="no threat to escalate"),
        "urgency": Explanation(value="general", reason="keyword weight 6", matched=["扣收"]),
        "clock.resolution": Explanation(value="2026-12-15T23:59+08:00", matched=["gov12315"],
                                        reason="policy gov12315: 10 working days from 2026-12-01 10:00; "
                                               "stricter than general 12-08 10:00"),
        "handler": Explanation(value="h1", reason="sticky (首接责任): same case as T0, its first handler"),
        "team": Explanation(value="cards", reason="rule cards", matched=["cards"]),
        "route": Explanation(value="cards", reason="rule cards", matched=["rule:cards"]),
        "category": Explanation(value="service/fees", reason="keyword weight 3", matched=["年费"]),
        "incident": Explanation(value="I-1", reason="mass fault 'sms-down'"),
        "review": Explanation(value="needs_review", reason="原因判断置信度低"),
    })
    earlier = make_ticket("APP-77", team="cards", title="年费又被扣了", now=now, received_at=now - timedelta(days=20),
                          status=Status.CLOSED, satisfied=False, handler="h1")
    earlier.case_id, earlier.handling.first_handler = "C-CASE-1", "h1"
    elsewhere = make_ticket("CC-9", team="payments", title="转账未到账", source="callcenter", now=now,
                            received_at=now - timedelta(days=40))
    elsewhere.judgement.escalation_intent = [EscalationTarget.REGULATOR]
    soon = make_ticket("BC-5", team="cards", title="分期手续费计算有误", source="blackcat", due_in=timedelta(minutes=30))
    items = {"late": late, "earlier": earlier, "elsewhere": elsewhere, "soon": soon}
    for t in (late, earlier, elsewhere):  # the mapping stores the keyed hash of the phone (seeds do not)
        t.customer.phone_hash = get_vault().hash(PHONE)
    soon.customer.phone_hash = get_vault().hash("13900000000")
    seed(store, list(items.values()))
    with store.begin() as conn:  # one event of every kind the hub writes
        add_events(conn, [TicketEvent(ticket_id=late.ticket_id, at=now, actor=a, kind=k, data={})
                          for k, a in zip(sorted(code_event_kinds()),
                                          ["hub:chase", "customer", "handler:h1", "source:gov12315", "system:sync"] * 20,
                                          strict=False)])
    with serve_in_thread(create_app(store)) as srv:
        yield Bench(url=srv.url, store=store, ids={k: t.ticket_id for k, t in items.items()})
    store.dispose()


async def _page(browser, url: str, viewport: dict[str, int]):  # noqa: ANN001, ANN202
    ctx = await browser.new_context(viewport=viewport, locale="zh-CN")
    page = await ctx.new_page()
    await page.goto(f"{url}/console/login")
    await page.fill("input[name=username]", "li.na")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("table.queue")
    return ctx, page


def test_every_key_has_a_chinese_label() -> None:
    kinds, keys = code_event_kinds(), code_explanation_keys()
    assert {"classified", "clock_breached", "routed", "reclassified", "survey_sent"} <= kinds
    assert not kinds - set(labels.EVENT), f"event kinds without a label: {kinds - set(labels.EVENT)}"
    assert {"priority", "clock.first_response"} <= keys
    assert not keys - set(labels.EXPLANATION), f"explanations without a label: {keys - set(labels.EXPLANATION)}"
    assert not set(get_sla().policies) - set(labels.POLICY), "an SLA policy without a name"
    assert not set(get_sla().extensions) - set(labels.POLICY)
    assert labels.explain_reason("policy gov12315: 10 working days from 2026-12-01 10:00") == \
        "12315平台时限：10个工作日，自 2026-12-01 10:00 起算"
    assert labels.actor_label("hub:chase") == "系统（催办）" and labels.actor_label("customer") == "客户"


async def test_ticket_page_is_chinese_with_actionable_clocks(browser, bench, artifacts_dir: Path) -> None:  # noqa: ANN001
    for name, vp in (("1366", WIDE), ("390", PHONE_VIEW)):
        ctx, page = await _page(browser, bench.url, vp)
        try:
            await page.goto(f"{bench.url}/console/tickets/{bench.ids['late']}")
            explain = await page.inner_text("#explain")
            assert "服务 / 收费争议" in explain and "无升级意图" in explain and "关键词权重 6" in explain and "12315平台时限：10个工作日" in explain
            assert "办结时限" in explain and "首接责任" in explain and "群体故障「sms-down」" in explain
            assert not ENGLISH.search(explain), ENGLISH.search(explain)
            timeline = await page.inner_text("ol.timeline")
            for kind in code_event_kinds():
                assert labels.EVENT[kind] in timeline
            assert not ENGLISH.search(timeline), ENGLISH.search(timeline)
            assert "系统（催办）" in timeline and "hub:chase" not in timeline
            clocks = await page.inner_text("#clocks")
            assert re.search(r"已超时 3小时1[12]分", clocks), clocks  # how long overdue, not "-"
            assert "一般件时限" in clocks and "12315平台时限：10个工作日" in clocks and "工作日" in clocks
            # attachments: an http(s) link opens safely, a source path is listed as text only
            link = page.locator("ul.attachments a")
            assert await link.count() == 1 and await link.get_attribute("href") == "https://files.example.cn/a/1.png"
            assert "noopener" in (await link.get_attribute("rel") or "")
            assert "录音.mp3" in await page.inner_text("ul.attachments")
            # no inline script or style anywhere (the strict CSP stays)
            assert await page.locator("script").count() == 0 and await page.locator("[style]").count() == 0
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= vp["width"], f"ticket page {width}px wide at {vp['width']}px"
            await page.screenshot(path=str(artifacts_dir / f"workbench-ticket-{name}.png"), full_page=True)
        finally:
            await ctx.close()


async def test_customer_history_on_the_ticket(browser, bench) -> None:  # noqa: ANN001
    ctx, page = await _page(browser, bench.url, WIDE)
    try:
        await page.goto(f"{bench.url}/console/tickets/{bench.ids['late']}")
        hist = await page.inner_text("#history")
        assert bench.ids["earlier"] in hist and bench.ids["elsewhere"] in hist
        assert "同一案件" in hist and "满意度 不满意" in hist and "曾威胁升级" in hist
        assert "支付结算组" in hist or "payments" not in hist
        # the own team's ticket is a link, another team's only a number
        assert await page.locator(f"#history a[href='/console/tickets/{bench.ids['earlier']}']").count() == 1
        assert await page.locator(f"#history a[href='/console/tickets/{bench.ids['elsewhere']}']").count() == 0
        assert PHONE not in await page.inner_text("main")  # masked
        assert "重复投诉 2 次" in await page.inner_text("#owner") and "首接处理人" in await page.inner_text("#owner")
    finally:
        await ctx.close()


def test_history_of_other_teams_is_shown_counted_or_hidden_as_configured(bench, hub_config: Path) -> None:  # noqa: ANN001
    from hub.backoffice.views import customer_history
    from hub.store.tickets import get_ticket

    path = hub_config / "teams.yaml"
    text = path.read_text(encoding="utf-8")
    seen = {}
    for mode in ("show", "count", "hide"):
        path.write_text(text.replace("history_other_teams: show", f"history_other_teams: {mode}"), encoding="utf-8")
        clear_config_caches()
        with bench.store.begin() as conn:
            rows, hidden = customer_history(conn, get_ticket(conn, bench.ids["late"]), "cards")
        seen[mode] = ({r.ticket_id for r in rows}, hidden)
    own, other = bench.ids["earlier"], bench.ids["elsewhere"]
    assert seen["show"] == ({own, other}, 0)
    assert seen["count"] == ({own}, 1)
    assert seen["hide"] == ({own}, 0)


async def test_queue_as_cards_at_390px_and_keyboard(browser, bench, artifacts_dir: Path) -> None:  # noqa: ANN001
    for name, vp in (("1366", WIDE), ("390", PHONE_VIEW)):
        ctx, page = await _page(browser, bench.url, vp)
        try:
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= vp["width"], f"queue {width}px wide at {vp['width']}px"
            head_shown = await page.locator("table.queue thead").is_visible()
            assert head_shown == (vp["width"] > 700)  # a table on a laptop, cards on a phone
            assert "已超时" in await page.inner_text("table.queue")
            await page.screenshot(path=str(artifacts_dir / f"workbench-queue-{name}.png"), full_page=True)
        finally:
            await ctx.close()
    ctx, page = await _page(browser, bench.url, WIDE)
    try:  # keyboard only: Tab reaches the search box, Enter searches, Tab reaches the ticket link
        for _ in range(30):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.name") == "q":
                break
        else:
            raise AssertionError("the search box is not reachable by keyboard")
        await page.keyboard.type(bench.ids["late"])
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/console/search?**")
        for _ in range(40):
            await page.keyboard.press("Tab")
            href = await page.evaluate("document.activeElement.getAttribute('href')")
            if href == f"/console/tickets/{bench.ids['late']}":
                break
        else:
            raise AssertionError("the ticket link is not reachable by keyboard")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#clocks")
    finally:
        await ctx.close()


async def test_search_by_number_source_number_phone_and_filters(browser, bench, artifacts_dir: Path) -> None:  # noqa: ANN001
    for name, vp in (("1366", WIDE), ("390", PHONE_VIEW)):
        ctx, page = await _page(browser, bench.url, vp)
        try:
            await page.goto(f"{bench.url}/console/search")
            await page.fill("input[name=q]", "138 1234 5678")  # typed by the handler, spaces and all
            await page.click("#btn-search")
            await page.wait_for_selector("#search-kind")
            text = await page.inner_text("table.queue")
            # the customer's tickets of this team, closed ones too; never another team's
            assert bench.ids["late"] in text and bench.ids["earlier"] in text and bench.ids["elsewhere"] not in text
            assert "按电话号码" in await page.inner_text("#search-kind")
            html = await page.content()
            assert "13812345678" not in html and "138 1234 5678" not in html  # not echoed back
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= vp["width"]
            await page.screenshot(path=str(artifacts_dir / f"workbench-search-{name}.png"), full_page=True)
        finally:
            await ctx.close()
    ctx, page = await _page(browser, bench.url, WIDE)
    try:
        await page.goto(f"{bench.url}/console/search?q=12315-2026-0001")  # the source's own number
        rows = page.locator("table.queue tbody tr")
        assert await rows.count() == 1 and bench.ids["late"] in await rows.first.inner_text()
        await page.goto(f"{bench.url}/console/search?q={bench.ids['soon'].lower()}")  # ticket number, any case
        assert bench.ids["soon"] in await page.inner_text("table.queue")
        await page.goto(f"{bench.url}/console/?due=overdue")
        text = await page.inner_text("table.queue")
        assert bench.ids["late"] in text and bench.ids["soon"] not in text
        await page.goto(f"{bench.url}/console/?source=blackcat&urgency=general")
        assert await rows.count() == 1 and bench.ids["soon"] in await rows.first.inner_text()
        day = (utcnow() - timedelta(days=30)).date().isoformat()
        await page.goto(f"{bench.url}/console/search?to={day}")
        assert bench.ids["late"] not in await page.inner_text("table.queue")
    finally:
        await ctx.close()
    # bad input: 422 naming the field, the value never echoed, never a 5xx
    ctx, page = await _page(browser, bench.url, WIDE)
    cookies = {c["name"]: c["value"] for c in await ctx.cookies()}
    await ctx.close()
    async with httpx.AsyncClient(base_url=bench.url, cookies=cookies) as client:
        for query, field in (("from=<b>x</b>", "from"), ("status=<i>zz</i>", "status"),
                             ("q=<script>1</script>", "q"), ("from=2026-12-05&to=2026-12-01", "to")):
            r = await client.get(f"/console/search?{query}")
            assert r.status_code == 422 and f"字段 {field}" in r.text
            assert "<b>x" not in r.text and "<i>zz" not in r.text and "<script>1" not in r.text
    with bench.store.begin() as conn:  # the hash matched; the store holds no raw number in any column
        row = conn.execute(select(tickets.c.phone_hash).where(tickets.c.ticket_id == bench.ids["late"])).one()
        assert row.phone_hash and PHONE not in row.phone_hash


def test_notifications_and_refusals_are_chinese() -> None:
    t = make_ticket("N-1", team="cards", urgency=Urgency.URGENT)
    msg = dispatch_message(t)
    assert msg.title.startswith("[紧急] 新投诉") and "紧急程度: 紧急  风险: 中" in msg.text
    assert not re.search(r"\b(urgent|medium|app)\b", msg.text)
    rem = reminder_message(t, {"ticket_id": t.ticket_id, "level": "escalate_1", "clock": "resolution",
                               "recipients": ["lead"]})
    assert rem.title.startswith("[催办 升级1]") and "办结时限" in rem.text and "resolution" not in rem.text
    assert labels.action_error(409, "ticket T1 is already resolved") == "工单已是「已解决」"
    assert labels.action_error(409, "an extension cannot be decided by the one who requested it") == \
        "延期申请不能由申请人本人审批"
    assert labels.action_error(422, "something new", "to_team") == "「转办团队」填写有误，请检查后重试"
    assert labels.action_error(409, "some future refusal") == "当前状态下无法执行此操作"  # never English


async def test_excel_export_of_the_filtered_queue_and_the_report(browser, bench) -> None:  # noqa: ANN001
    with bench.store.begin() as conn:
        add_user(conn, "lead.x", PASSWORD, team="cards", role="lead")
    ctx, page = await _page(browser, bench.url, WIDE)
    try:
        await page.goto(f"{bench.url}/console/?due=overdue")
        assert await page.locator("#btn-report").count() == 0  # a handler exports the queue, not the reports
        async with page.expect_download() as dl:
            await page.click("#btn-export")
        path = await (await dl.value).path()
        ws = openpyxl.load_workbook(io.BytesIO(Path(path).read_bytes())).active
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        assert rows[0][:3] == ["时限", "到期时间", "工单号"] and len(rows) == 2  # the filter holds: overdue only
        assert rows[1][2] == bench.ids["late"] and rows[1][0] == "已超时" and rows[1][11] == "张**"
        assert PHONE not in str(rows) and "张三丰" not in str(rows)  # masked
        r = await page.request.get(f"{bench.url}/console/report.xlsx")
        assert r.status == 403
        assert await page.locator("#btn-export-reveal").count() == 0  # a handler may not reveal
        r = await page.request.get(f"{bench.url}/console/export.xlsx?reveal=1")
        assert r.status == 403 and PHONE not in await r.text()
    finally:
        await ctx.close()
    ctx = await browser.new_context(viewport=WIDE, locale="zh-CN")
    page = await ctx.new_page()
    try:
        await page.goto(f"{bench.url}/console/login")
        await page.fill("input[name=username]", "lead.x")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("table.queue")
        r = await page.request.get(f"{bench.url}/console/report.xlsx?period=weekly")
        assert r.status == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
        wb = openpyxl.load_workbook(io.BytesIO(await r.body()))
        assert wb.sheetnames == ["核心指标", "分类统计", "超时未结"]
        assert [c.value for c in wb["核心指标"]["A"]][:2] == ["指标", "受理"]
        bad = await page.request.get(f"{bench.url}/console/report.xlsx?period=<b>x</b>")
        assert bad.status == 422 and "<b>x" not in await bad.text()
        # a lead may export in clear: the same filtered rows with the customer's name and phone, audited
        await page.goto(f"{bench.url}/console/?due=overdue")
        async with page.expect_download() as dl:
            await page.click("#btn-export-reveal")
        ws = openpyxl.load_workbook(io.BytesIO(Path(await (await dl.value).path()).read_bytes())).active
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        assert rows[0][-3:] == ["客户姓名（明文）", "手机号（明文）", "证件号（明文）"] and len(rows) == 2
        assert rows[1][2] == bench.ids["late"] and rows[1][11] == "张**" and rows[1][-3] == "张三丰"
        assert PHONE in str(rows[1])
    finally:
        await ctx.close()
    with bench.store.begin() as conn:  # every export is audited
        kinds = conn.execute(select(audit_log.c.actor, audit_log.c.subject).where(audit_log.c.kind == "export")).all()
    assert ("handler:li.na", "queue:cards") in [tuple(k) for k in kinds]
    assert ("lead:lead.x", "report:weekly") in [tuple(k) for k in kinds]
    with bench.store.begin() as conn:  # the clear export: masked=False on the audit row, a reveal event per ticket
        clear = conn.execute(select(audit_log.c.data).where(audit_log.c.kind == "export",
                                                            audit_log.c.actor == "lead:lead.x",
                                                            audit_log.c.subject == "queue:cards")).scalars().all()
        reveals = [e for e in get_events(conn, bench.ids["late"])
                   if e.kind == "pii_revealed" and e.data.get("channel") == "xlsx"]
    assert [d["masked"] for d in clear] == [False] and clear[0]["tickets"] == [bench.ids["late"]]
    assert [(e.actor, e.data["fields"]) for e in reveals] == [
        ("lead:lead.x", ["customer.name", "customer.phone", "customer.id_number"])]


def test_xlsx_cells_are_text_never_formulas() -> None:
    data = xlsx_bytes([("s", ["a"], [["=HYPERLINK(\"http://x\")"], ["@SUM(1)"]])])
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.data_type for c in ws["A"]][1:] == ["s", "s"]


async def test_saved_searches_are_per_user_and_never_keep_the_search_text(browser, bench) -> None:  # noqa: ANN001
    ctx, page = await _page(browser, bench.url, WIDE)
    try:
        await page.goto(f"{bench.url}/console/search?q=13812345678&source=gov12315&due=overdue")
        await page.fill("#form-save-search input[name=name]", "超时12315")
        await page.click("#btn-save-search")
        await page.wait_for_selector("#saved-searches a")
        assert "超时12315" in await page.inner_text("#saved-searches")
        await page.goto(f"{bench.url}/console/")
        await page.click("#saved-searches a:has-text('超时12315')")
        await page.wait_for_selector("table.queue")
        rows = page.locator("table.queue tbody tr")
        assert await rows.count() == 1 and bench.ids["late"] in await rows.first.inner_text()
        assert await page.input_value("select[name=source]") == "gov12315"
    finally:
        await ctx.close()
    with bench.store.begin() as conn:
        saved = conn.execute(select(saved_searches)).all()
    assert [(r.username, r.name) for r in saved] == [("li.na", "超时12315")]
    assert saved[0].params == {"source": "gov12315", "due": "overdue"} and PHONE not in str(saved[0].params)
    with bench.store.begin() as conn:
        add_user(conn, "wang.x", PASSWORD, team="cards", role="handler")
    ctx = await browser.new_context(viewport=WIDE, locale="zh-CN")
    page = await ctx.new_page()
    try:  # another user does not see it
        await page.goto(f"{bench.url}/console/login")
        await page.fill("input[name=username]", "wang.x")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("table.queue")
        assert "超时12315" not in await page.inner_text("#saved-searches")
    finally:
        await ctx.close()
