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

from connectors.portal.base import PortalConnector
from connectors.portal.watermark import Row, RunPlan
from core.errors import SourceDataError, TransientError
from core.schema import PushReceipt, Source, Status, StatusUpdate

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


class Gov12315Connector(PortalConnector):
    """The 12315 enterprise portal connector (see module doc)."""

    source = Source.GOV12315
    REVISIT = timedelta(days=3)

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
            return PushReceipt(source=self.source, idempotency_key=update.idempotency_key,
                               remote_ref=update.external_id, detail={"skipped": "12315 records only final results"})
        process = (update.note or update.reply or "").strip()
        if len(process) < 5:
            raise SourceDataError("协商过程 must have at least 5 characters (12315 validation)",
                                  field="note", source=self.src)
        settled = update.settled if update.settled is not None else update.status == Status.RESOLVED
        result = "和解成功" if settled else "和解不成"
        method = update.method or self.opts.default_method
        page = await self.main_page()
        url = self.opts.url("detail", id=update.external_id)
        s = self.scraper(page)
        attempted = False  # a submission with an unknown outcome (5xx/timeout) may have been ours
        for _ in range(self.opts.max_attempts):
            resp = await self.open(page, url)
            if resp is not None and resp.status == 404:
                raise SourceDataError(f"complaint {update.external_id} not found at 12315", source=self.src)
            status = await self._status(page)
            if await s.exists("handle.done") or status in DONE:
                return PushReceipt(source=self.source, idempotency_key=update.idempotency_key,
                                   remote_ref=update.external_id, already_applied=not attempted,
                                   detail={"status": status, "confirmed_after_retry": attempted})
            form = await s.require("handle.form")
            await (await s.require("handle.process", form)).fill(process)
            await (await s.require("handle.method", form)).select_option(label=method)
            radios = s.loc("handle.result", form)
            radio = radios.and_(page.locator(f'[value="{result}"]'))
            if not await radio.count():
                raise await s.changed("handle.result", f"协商结果 option {result}")
            await radio.first.check()
            attempted = True
            try:
                resp = await self.submit(page, await s.require("handle.submit"), "POST 处理结果")
            except TransientError:
                continue  # outcome unknown: re-read the status before anything else
            code = resp.status if resp is not None else 200
            if code in (429,) or code >= 500:
                await self._pause(resp)
                continue  # maybe applied, maybe not: the loop re-checks the detail page
            if code == 409:
                return PushReceipt(source=self.source, idempotency_key=update.idempotency_key,
                                   remote_ref=update.external_id, already_applied=True,
                                   detail={"status": await s.text("alert.error", required=False)})
            if code == 422 or await s.exists("handle.errors"):
                errors = "; ".join(await s.texts("handle.errors"))
                raise SourceDataError(f"12315 refused the 处理结果: {errors or code}", source=self.src)
            return PushReceipt(source=self.source, idempotency_key=update.idempotency_key,
                               remote_ref=update.external_id,
                               detail={"result": result, "method": method, "status": await self._status(page)})
        raise TransientError("处理结果 not confirmed after retries", source=self.src)

    async def _status(self, page: PwPage) -> str:
        payload = await self.scrape_detail(page, Row(id="", time="", version=""))
        return str(payload.get("status", ""))

    async def _pause(self, resp: Any) -> None:
        import asyncio  # noqa: PLC0415

        ra = (await resp.all_headers()).get("retry-after") if resp is not None else None
        try:
            wait = float(ra) if ra else self.opts.backoff_base_seconds
        except ValueError:
            wait = self.opts.backoff_base_seconds
        await asyncio.sleep(min(wait, self.opts.max_retry_seconds))
