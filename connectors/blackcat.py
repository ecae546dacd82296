"""新浪黑猫投诉 merchant backend, through Playwright.

Pull: log in, walk the card list by clicking 加载更多 (cards are appended to
the same page; newest first), open each new or changed complaint's detail page
and scrape it into the payload of docs/raw-records.md (sn, title, target,
problem, demands list, amount, content, user_nick, phone, created_at, status,
progress list).
Push: the reply (update.reply; internal notes never reach the public page) and, when the hub status is
resolved/closed, 申请完成 — each only after reading the detail page: a reply
carrying this update's marker, or a completed complaint, is never sent again.

Selectors/paths come from the `blackcat` entry of config/sources.yaml; the
defaults below match the backend's current markup. Detail sub-selectors are CSS
(the page is read in one round trip).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlparse

from connectors.portal.base import PortalConnector
from connectors.portal.watermark import Row, RunPlan
from core.errors import PushRefused
from core.pii import keep_ids_after
from core.schema import PushReceipt, Status, StatusUpdate

if TYPE_CHECKING:
    from playwright.async_api import Page as PwPage

LABELS = {"投诉编号": "sn", "投诉对象": "target", "投诉问题": "problem", "投诉要求": "demands",
          "涉诉金额": "amount", "投诉人昵称": "user_nick", "联系方式": "phone", "投诉时间": "created_at"}

CARDS_JS = """(cards, [from, link, time, status]) => cards.slice(from).map(c => {
  const a = c.querySelector(link), t = c.querySelector(time), s = c.querySelector(status);
  return [a ? (a.getAttribute('href') || '') : null, t ? t.innerText : null, s ? s.innerText : null];
})"""

DETAIL_JS = """(sel) => {
  if (!document.querySelector(sel.info)) return {missing: 'detail.info'};
  const one = (q) => { const e = document.querySelector(q); return e ? e.innerText : null; };
  const info = Array.from(document.querySelectorAll(sel.info_row)).map(r => {
    const l = r.querySelector(sel.label), v = r.querySelector(sel.value);
    if (!l || !v) return null;
    return [l.innerText, v.innerText, v.getAttribute('data-field'),
            Array.from(v.querySelectorAll(sel.demand)).map(d => d.innerText)];
  }).filter(x => x);
  const progress = Array.from(document.querySelectorAll(sel.progress_item)).map(r => {
    const t = r.querySelector(sel.progress_time), x = r.querySelector(sel.progress_text);
    return {time: t ? t.innerText.trim() : '', text: x ? x.innerText.trim() : r.innerText.trim()};
  });
  const replies = Array.from(document.querySelectorAll(sel.reply_text)).map(e => e.innerText.trim());
  return {title: one(sel.title), status: one(sel.status), content: one(sel.content), info, progress, replies};
}"""


class BlackcatConnector(PortalConnector):
    """The 黑猫投诉 merchant backend connector (see module doc)."""

    key = "blackcat"
    label = "黑猫投诉"
    PUSH_STEPS = 3  # reply, 申请完成, confirm

    DEFAULT_PATHS: ClassVar[dict[str, str]] = {
        "login": "/login", "list_home": "/merchant/complaints",
        "list_page": "/merchant/complaints?status=&page={page}", "detail": "/merchant/complaints/{id}",
    }
    DEFAULT_SELECTORS: ClassVar[dict[str, str]] = {
        "login.username": "input[name=account]", "login.password": "input[name=password]",
        "login.submit": "#loginForm button[type=submit]", "login.error": ".login-error",
        "list.container": "div#card-list", "list.card": "div.complaint-card", "list.link": "a.card-title",
        "list.time": "span.card-time", "list.status": "span.card-status",
        "list.more": "button#load-more", "list.end": "div.no-more",
        "detail.info": "ul.complaint-info", "detail.info_row": "ul.complaint-info > li",
        "detail.label": "label", "detail.value": "span.info-val", "detail.demand": "span.demand-tag",
        "detail.title": "h1.complaint-title", "detail.status": "span.status-tag",
        "detail.content": "div.complaint-content", "detail.progress_item": "ul.timeline > li.timeline-item",
        "detail.progress_time": "span.tl-time", "detail.progress_text": "span.tl-text",
        "detail.reply_text": "ul.replies li.reply div.reply-text",
        "reply.form": "form#reply-form", "reply.content": "textarea[name=content]",
        "reply.submit": "form#reply-form button[type=submit]",
        "complete.form": "form#complete-form", "complete.submit": "form#complete-form button[type=submit]",
        "form.error": ".form-error",
    }
    #: appended to every reply so a retry can recognise its own earlier reply; {ref} = hash of the key
    REPLY_MARKER = "（回复编号{ref}）"

    # --- list ----------------------------------------------------------------------------

    async def list_rows(self, page: PwPage, plan: RunPlan, state: dict[str, Any]) -> tuple[list[Row], bool]:
        """The cards added since the last call: the first page, then one 加载更多 click each."""
        s = self.scraper(page)
        if "read" not in state:
            await self.open(page, self.opts.url("list_home"))
            state["read"] = 0
        else:
            await self._load_more(page, state)
        await s.require("list.container")
        cells = await s.loc("list.card").evaluate_all(
            CARDS_JS, [state["read"], self.opts.selector("list.link"), self.opts.selector("list.time"),
                       self.opts.selector("list.status")])
        state["read"] += len(cells)
        rows: list[Row] = []
        past = False
        for href, t, status in cells:
            for name, value in (("list.link", href), ("list.time", t), ("list.status", status)):
                if value is None:
                    raise await s.changed(name, "card part")
            rid = href.rstrip("/").rsplit("/", 1)[-1]
            if rid:
                rows.append(Row(id=rid, time=t.strip(), version=status.strip(), url=urljoin(page.url, href)))
                past = past or plan.is_past_window(t)
        more = not past and await s.exists("list.more")
        if not more and not past and not await s.exists("list.end"):
            raise await s.changed("list.end", "end-of-list marker (or 加载更多 button)")
        return rows, more

    async def _load_more(self, page: PwPage, state: dict[str, Any]) -> None:
        """Click 加载更多 and wait for the appended cards; on a failed fetch, open that page in full."""
        s = self.scraper(page)
        btn = (await s.require("list.more")).first
        next_page = await btn.get_attribute("data-next-page")
        before = await s.loc("list.card").count()
        # The detail tabs were in front: a background tab's animation frames are throttled
        # (~1 s per click for Playwright's actionability checks), so bring the list forward.
        await page.bring_to_front()
        try:
            async with page.expect_response(lambda r: r.request.resource_type in ("fetch", "xhr"),
                                            timeout=self.opts.portal.navigation_timeout_ms) as info:
                await btn.click()
            resp = await info.value
            failed = resp.status >= 400 or await self._is_login_url(resp.url)
        except Exception as exc:  # noqa: BLE001 - a hung fragment request: fall back to the full page
            if "Timeout" not in type(exc).__name__:
                raise
            failed = True
        if not failed:
            deadline = time.monotonic() + self.opts.portal.element_timeout_ms / 1000
            while time.monotonic() < deadline:
                if await s.loc("list.card").count() > before or await s.exists("list.end"):
                    return
                more = s.loc("list.more")
                if await more.count() and await more.first.get_attribute("data-next-page") != next_page:
                    return
                await asyncio.sleep(0.02)
        # The fragment failed (5xx/429/expired session) or never landed: page N as a full
        # page carries the same cards and its own 加载更多, so the walk goes on from there.
        if not next_page:
            raise await s.changed("list.more", "加载更多 without data-next-page")
        await asyncio.sleep(self.opts.retry.backoff(1))  # a pause before falling back to the full page
        await self.open(page, self.opts.url("list_page", page=next_page))
        state["read"] = 0

    async def _is_login_url(self, url: str) -> bool:
        return urlparse(url).path.rstrip("/") == urlparse(self.opts.url("login")).path.rstrip("/")

    # --- detail --------------------------------------------------------------------------

    async def _read(self, page: PwPage) -> dict[str, Any]:
        s = self.scraper(page)
        names = ("info", "info_row", "label", "value", "demand", "title", "status", "content", "progress_item",
                 "progress_time", "progress_text", "reply_text")
        data = await page.evaluate(DETAIL_JS, {n: self.opts.selector(f"detail.{n}") for n in names})
        if data.get("missing"):
            raise await s.changed(data["missing"])
        for required in ("title", "status", "content"):
            if data[required] is None:
                raise await s.changed(f"detail.{required}")
        if not data["info"]:
            raise await s.changed("detail.info_row", "info rows")
        return data

    async def scrape_detail(self, page: PwPage, row: Row) -> dict[str, Any]:
        """Detail page → payload dict (labels mapped by LABELS; unknown labels kept as they are)."""
        data = await self._read(page)
        payload: dict[str, Any] = {"title": data["title"].strip()}
        for label, value, field, tags in data["info"]:
            label = label.strip().rstrip("：:").strip()
            key = LABELS.get(label) or field or label
            payload[key] = [t.strip() for t in tags if t.strip()] if key == "demands" else value.strip()
        payload.setdefault("demands", [])
        payload["content"] = data["content"].strip()
        payload["status"] = data["status"].strip()
        payload["progress"] = data["progress"]
        if "sn" not in payload:
            raise await self.scraper(page).changed("detail.label", "投诉编号 row")
        return payload

    # --- push ----------------------------------------------------------------------------

    def marker(self, key: str) -> str:
        """The short tag that identifies this update's reply on the page."""
        return self.REPLY_MARKER.format(ref=hashlib.sha256(key.encode()).hexdigest()[:8])

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Reply once (recognised by its marker) and 申请完成 once, each after reading the page."""
        text = (update.reply or "").strip()
        want_complete = update.status in (Status.RESOLVED, Status.CLOSED)
        marker = self.marker(update.idempotency_key)
        page = await self.main_page()
        url = self.opts.url("detail", id=update.external_id)
        did: list[str] = []
        tried = False  # a post with an unknown outcome (5xx/timeout) may have been applied

        async def step() -> PushReceipt | None:
            """Read the page; post the reply or 申请完成 still missing (None: read again), else the receipt."""
            nonlocal tried
            resp = await self.open(page, url)
            if resp is not None and resp.status == 404:
                raise PushRefused(f"complaint {update.external_id} not found at 黑猫", source=self.src,
                                  status_code=404)
            data = await self._read(page)
            status = data["status"].strip()
            seen = data["replies"] + [p["text"] for p in data["progress"]]
            replied = any(marker in r for r in seen)
            if text and not replied and status != "已完成":
                tried = True
                if await self._post(page, "reply", text + marker):
                    did.append("reply")
                return None  # re-read: the next step depends on what the page now says
            if want_complete and status != "已完成":
                if status != "已回复":
                    raise PushRefused("申请完成 needs a reply first (none in this update)", source=self.src,
                                      field="reply")
                tried = True
                if await self._post(page, "complete", None):
                    did.append("complete")
                return None
            return self.receipt(update.idempotency_key, update.external_id, already_applied=not (did or tried),
                                status=status, sent=did)

        return await self.verified_push(step, "黑猫 push")

    async def _post(self, page: PwPage, form: str, content: str | None) -> bool:
        """Submit the reply or complete form; True when accepted, False when the page must be re-read.

        A timeout or a retryable answer raises (the outcome is unknown: the next step re-reads
        the page after the policy's backoff); 409 (e.g. already completed) also means re-read.
        """
        s = self.scraper(page)
        f = await s.require(f"{form}.form")
        if content is not None:
            await (await s.require("reply.content", f)).fill(content)
        resp = await self.submit(page, await s.require(f"{form}.submit"), f"POST {form}")
        await self.raise_if_retryable(resp, f"POST {form}")
        code = resp.status if resp is not None else 200
        if code == 409:
            return False
        if code == 422:
            raise PushRefused(f"黑猫 refused the {form}: {await s.text('form.error', required=False)}",
                              source=self.src, status_code=422)
        return True


# 黑猫 complaint numbers (sn) are 11 digits starting with 17: shown as ids, not masked as phones
keep_ids_after(BlackcatConnector.key)
