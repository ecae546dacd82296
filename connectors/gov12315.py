"""全国12315平台 enterprise (ODR) portal, through Playwright.

Pull: log in (username, password, CSRF, SMS code), list with the 登记时间 date
filter and numbered pagination (newest first), open each new or changed
complaint's 登记详情 and scrape it into the payload of docs/raw-records.md.
Push: fill the 处理 form (协商过程, 协商方式, 协商结果) after reading the current
status on the detail page; a complaint already handled is never submitted twice.

Selectors and paths come from the `gov12315` entry of config/sources.yaml
(`selectors:` / `paths:`); the defaults below match the portal's current markup.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

from connectors.base import ConnectorOptions
from connectors.portal.base import PortalConnector
from connectors.portal.watermark import Row, RunPlan
from core.errors import PushRefused
from core.schema import PushReceipt, Status, StatusUpdate

if TYPE_CHECKING:
    from playwright.async_api import Page as PwPage

#: the portal's labels (unchanged across markup variants) → payload keys
LABELS = {"登记编号": "reg_no", "投诉人": "complainant", "联系电话": "phone", "证件号码": "id_number",
          "所属地区": "region", "被投诉方": "respondent", "投诉标题": "title", "投诉内容": "content",
          "诉求": "demands", "涉及金额": "amount", "登记时间": "registered_at", "处理期限": "deadline",
          "状态": "status", "附件": "attachments"}

DONE = ("已办结", "已撤回")

# Row sub-selectors (list.link / list.time / list.status) are CSS: a list page is read in one call.
LIST_JS = """(rows, [link, time, status]) => rows.map(r => {
  const a = r.querySelector(link), t = r.querySelector(time), s = r.querySelector(status);
  return [a ? (a.getAttribute('href') || '') : null, t ? t.innerText : null, s ? s.innerText : null];
})"""

# One round trip per detail page (page.evaluate in the main world is ~10x cheaper than a
# chain of locator calls), so every detail.* selector is CSS.
DETAIL_JS = """(sel) => {
  if (!document.querySelector(sel.table)) return {missing: 'detail.table'};
  const rows = Array.from(document.querySelectorAll(sel.row)).map(r => {
    const l = r.querySelector(sel.label), v = r.querySelector(sel.value);
    if (!l || !v) return null;
    return [l.innerText, v.innerText, v.getAttribute('data-field'),
            Array.from(v.querySelectorAll(sel.attachment)).map(a => [a.innerText, a.getAttribute('href') || ''])];
  }).filter(x => x);
  return {rows};
}"""


class Gov12315Options(ConnectorOptions):
    """`options:` of the 12315 source."""

    #: 协商方式 when an update carries none
    default_method: str = "电话协商"


class Gov12315Connector(PortalConnector):
    """The 12315 enterprise portal connector (see module doc)."""

    key = "gov12315"
    label = "12315平台"
    Options = Gov12315Options
    #: open cases stay listed and remembered while 12315 lets them change (10 working days to settle)
    REVISIT = timedelta(days=15)
    #: a 【补充】 changes the text, not the list's status: re-read each open case every 4th run
    REFRESH_EVERY = 4
    FINAL_VERSIONS = frozenset(DONE)
    options: Gov12315Options

    DEFAULT_PATHS: ClassVar[dict[str, str]] = {
        "login": "/login", "sms": "/login/sms", "list_home": "/complaints",
        "list": "/complaints?status=&date_from={date_from}&date_to=&page=1", "detail": "/complaints/{id}",
    }
    DEFAULT_SELECTORS: ClassVar[dict[str, str]] = {
        "login.username": "input[name=username]", "login.password": "input[name=password]",
        "login.submit": "#login-form button[type=submit]", "login.error": ".alert-error",
        "sms.code": "input[name=sms_code]", "sms.submit": "#sms-form button[type=submit]",
        "list.table": "table#complaint-table", "list.row": "tr.complaint-row", "list.link": "a.detail-link",
        "list.time": "td.col-registered-at", "list.status": "span.status-badge", "list.next": "a.next-page",
        "detail.table": "table.detail-table", "detail.row": "table.detail-table tr",
        "detail.label": "th.label", "detail.value": "td.value", "detail.attachment": "ul.attachments a",
        "handle.form": "form#handle-form", "handle.process": "textarea[name=process]",
        "handle.method": "select[name=method]", "handle.result": "input[name=result]",
        "handle.submit": "form#handle-form button[type=submit]", "handle.done": "div.handle-result",
        "handle.errors": "ul.form-errors li", "alert.error": ".alert-error",
    }

    # --- list ----------------------------------------------------------------------------

    async def list_rows(self, page: PwPage, plan: RunPlan, state: dict[str, Any]) -> tuple[list[Row], bool]:
        """One list page (newest first); `state["next"]` is the next page's URL from the pager."""
        url = state.get("next")
        if url is None:
            since = plan.list_since
            url = self.opts.url("list", date_from=since.strftime("%Y-%m-%d") if since else "")
        await self.open(page, url)
        s = self.scraper(page)
        await s.require("list.table")
        cells = await s.loc("list.row").evaluate_all(
            LIST_JS, [self.opts.selector("list.link"), self.opts.selector("list.time"),
                      self.opts.selector("list.status")])
        rows: list[Row] = []
        past = False
        for href, t, status in cells:
            for name, value in (("list.link", href), ("list.time", t), ("list.status", status)):
                if value is None:
                    raise await s.changed(name, "list cell")
            rid = href.rstrip("/").rsplit("/", 1)[-1]
            if not rid:
                continue
            rows.append(Row(id=rid, time=t.strip(), version=status.strip(), url=urljoin(page.url, href)))
            past = past or plan.is_past_window(t)
        nxt = s.loc("list.next")
        more = False
        if not past and await nxt.count():
            href = await nxt.first.get_attribute("href")
            if href:
                state["next"] = urljoin(page.url, href)
                more = True
        return rows, more

    # --- detail --------------------------------------------------------------------------

    async def scrape_detail(self, page: PwPage, row: Row) -> dict[str, Any]:
        """登记详情 → payload dict (labels mapped by LABELS; unknown labels kept under their own name)."""
        s = self.scraper(page)
        data = await page.evaluate(DETAIL_JS, {n: self.opts.selector(f"detail.{n}")
                                               for n in ("table", "row", "label", "value", "attachment")})
        if data.get("missing"):
            raise await s.changed(data["missing"])
        items = data["rows"]
        if not items:
            raise await s.changed("detail.row", "detail rows")
        payload: dict[str, Any] = {}
        for label, value, field, links in items:
            label = label.strip().rstrip("：:").strip()
            key = LABELS.get(label) or field or label
            if key == "attachments":
                payload[key] = [{"name": n.strip(), "url": urljoin(page.url, h)} for n, h in links if h]
            else:
                payload[key] = value.strip()
        if "reg_no" not in payload:
            raise await s.changed("detail.label", "登记编号 row")
        payload.setdefault("attachments", [])
        return payload

    # --- push ----------------------------------------------------------------------------

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Submit the 处理结果 once: read the status first; 已办结 means it is already applied."""
        if update.status not in (Status.RESOLVED, Status.CLOSED) and update.settled is None:
            # 12315 takes only a final 协商结果; intermediate hub states have nothing to write.
            return self.receipt(update.idempotency_key, update.external_id,
                                skipped="12315 records only final results")
        process = (update.reply or "").strip()  # the complainant reads it: the reply, never a note
        if len(process) < 5:
            raise PushRefused("协商过程 must have at least 5 characters (12315 validation)",
                              field="reply", source=self.src)
        settled = update.settled if update.settled is not None else update.status == Status.RESOLVED
        result = "和解成功" if settled else "和解不成"
        method = update.method or self.options.default_method
        page = await self.main_page()
        url = self.opts.url("detail", id=update.external_id)
        s = self.scraper(page)
        attempted = False  # a submission with an unknown outcome (5xx/timeout) may have been ours

        async def step() -> PushReceipt:
            """Read the record; submit the 处理结果 unless the page shows it done, then the receipt."""
            nonlocal attempted
            resp = await self.open(page, url)
            if resp is not None and resp.status == 404:
                raise PushRefused(f"complaint {update.external_id} not found at 12315", source=self.src,
                                  status_code=404)
            status = await self._status(page)
            if await s.exists("handle.done") or status in DONE:
                return self.receipt(update.idempotency_key, update.external_id, already_applied=not attempted,
                                    status=status, confirmed_after_retry=attempted)
            form = await s.require("handle.form")
            await (await s.require("handle.process", form)).fill(process)
            await (await s.require("handle.method", form)).select_option(label=method)
            radios = s.loc("handle.result", form)
            radio = radios.and_(page.locator(f'[value="{result}"]'))
            if not await radio.count():
                raise await s.changed("handle.result", f"协商结果 option {result}")
            await radio.first.check()
            attempted = True
            # a timeout or a retryable answer raises: maybe applied, so the next step re-reads the page
            resp = await self.submit(page, await s.require("handle.submit"), "POST 处理结果")
            await self.raise_if_retryable(resp, "POST 处理结果")
            code = resp.status if resp is not None else 200
            if code == 409:
                return self.receipt(update.idempotency_key, update.external_id, already_applied=True,
                                    status=await s.text("alert.error", required=False))
            if code == 422 or await s.exists("handle.errors"):
                errors = "; ".join(await s.texts("handle.errors"))
                raise PushRefused(f"12315 refused the 处理结果: {errors or code}", source=self.src, status_code=code)
            return self.receipt(update.idempotency_key, update.external_id, result=result, method=method,
                                status=await self._status(page))

        return await self.verified_push(step, "处理结果")

    async def _status(self, page: PwPage) -> str:
        payload = await self.scrape_detail(page, Row(id="", time="", version=""))
        return str(payload.get("status", ""))
