"""全国12315 enterprise (ODR) portal: CSRF login + SMS code, list/detail pages, the 处理 form."""

from __future__ import annotations

import hmac
import random
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from sandbox import texts
from sandbox.channels import (
    FULLWIDTH,
    Matter,
    RecordKeys,
    Style,
    attachments,
    deadline_after,
    decorate,
    fill,
    fmt_sec,
)
from sandbox.store import Rec, Session, Store, touch_record
from sandbox.system import SimulatedSystem
from sandbox.systems.common import base_app, render, with_duplicates

KEY = "gov12315"
CREDENTIALS = {"username": "demo_ent", "password": "Demo@12315"}

COOKIE = "JSESSIONID"
PAGE_SIZE = 20
CODE_TTL = 300
DEMO_MOBILE = "13800000000"  # the enterprise operator's phone that receives the login code
METHODS = ("电话协商", "现场协商", "网络协商", "书面协商")
RESULTS = ("和解成功", "和解不成")
OPEN = ("待处理", "处理中")
FIELDS = (("reg_no", "登记编号"), ("complainant", "投诉人"), ("phone", "联系电话"), ("id_number", "证件号码"),
          ("region", "所属地区"), ("respondent", "被投诉方"), ("title", "投诉标题"), ("content", "投诉内容"),
          ("demands", "诉求"), ("amount", "涉及金额"), ("registered_at", "登记时间"), ("deadline", "处理期限"),
          ("status", "状态"), ("attachments", "附件"))
V2_FIRST = ("status", "reg_no", "registered_at", "deadline")
OPTIONAL = ("id_number", "title", "amount")
BADGES = {"待处理": "status-pending", "处理中": "status-processing", "已办结": "status-done", "已撤回": "status-withdrawn"}


def _badge(status: str) -> str:
    return BADGES.get(status, "")


def create_app(state: Store) -> FastAPI:
    """The 12315 portal."""
    app = base_app(KEY, state, title="12315 portal (sandbox)")
    creds = CREDENTIALS

    def v2() -> bool:
        return state.faults[KEY].markup_variant == "v2"

    def page(template: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("v2", v2())
        ctx.setdefault("badge", _badge)
        return HTMLResponse(render(f"gov12315/{template}", **ctx), status_code=code)

    def authed(request: Request) -> Session | Response:
        sid = request.cookies.get(COOKIE)
        sess = state.session(KEY, sid)
        if sess is None or not sess.authed:
            return RedirectResponse("/login?expired=1" if sid else "/login", status_code=302)
        return sess

    def login_page(request: Request, sess: Session | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        if sess is None:
            sess = state.new_session(KEY)
        resp = page("login.html", status, csrf=sess.csrf, **ctx)
        resp.set_cookie(COOKIE, sess.sid, httponly=True, path="/")
        return resp

    @app.get("/")
    def root(request: Request) -> Response:
        sess = state.session(KEY, request.cookies.get(COOKIE))
        return RedirectResponse("/complaints" if sess and sess.authed else "/login", status_code=302)

    @app.get("/login")
    def login_form(request: Request, expired: int = 0) -> HTMLResponse:
        sess = state.session(KEY, request.cookies.get(COOKIE))
        if sess is not None and sess.authed:
            sess = None  # a fresh login gets a fresh session
        return login_page(request, sess, expired=bool(expired))

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        sess = state.session(KEY, request.cookies.get(COOKIE))
        token = str(form.get("csrf_token", ""))
        if sess is None or not token or not hmac.compare_digest(token, sess.csrf):
            return page("error.html", 403, message="CSRF校验失败，请刷新页面重试")
        if form.get("username") != creds["username"] or form.get("password") != creds["password"]:
            return login_page(request, sess, error="用户名或密码错误", username=str(form.get("username", "")))
        sess.sms_pending = True
        state.issue_sms_code(DEMO_MOBILE)
        return RedirectResponse("/login/sms", status_code=303)

    @app.get("/login/sms")
    def sms_form(request: Request) -> Response:
        sess = state.session(KEY, request.cookies.get(COOKIE))
        if sess is None or not sess.sms_pending:
            return RedirectResponse("/login", status_code=302)
        return page("sms.html", csrf=sess.csrf, masked_mobile=DEMO_MOBILE[:3] + "****" + DEMO_MOBILE[-4:])

    @app.post("/login/sms")
    async def sms_verify(request: Request) -> Response:
        form = await request.form()
        sess = state.session(KEY, request.cookies.get(COOKIE))
        if sess is None or not sess.sms_pending:
            return RedirectResponse("/login?expired=1", status_code=302)
        if not hmac.compare_digest(str(form.get("csrf_token", "")), sess.csrf):
            return page("error.html", 403, message="CSRF校验失败，请刷新页面重试")
        code = state.sms_code or {}
        ok = (str(form.get("sms_code", "")).strip() == code.get("code")
              and time.time() - code.get("_real", 0) <= CODE_TTL)
        if not ok:
            return page("sms.html", 200, csrf=sess.csrf, error="验证码错误",
                        masked_mobile=DEMO_MOBILE[:3] + "****" + DEMO_MOBILE[-4:])
        with state.lock:
            sess.authed, sess.sms_pending = True, False
            state.sms_code = None  # one use
        return RedirectResponse("/complaints", status_code=303)

    @app.get("/logout")
    def logout(request: Request) -> Response:
        with state.lock:
            state.sessions.pop(request.cookies.get(COOKIE, ""), None)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/complaints")
    def list_page(request: Request, status: str = "", date_from: str = "", date_to: str = "") -> Response:
        s = authed(request)
        if isinstance(s, Response):
            return s
        try:
            current = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            current = 1
        with state.lock:
            recs = sorted(state.listing(KEY), key=lambda r: (r.created, r.key), reverse=True)
            rows = []
            for r in recs:
                p = r.payload
                day = str(p.get("registered_at", ""))[:10]
                if status and p.get("status") != status:
                    continue
                if date_from and day < date_from:
                    continue
                if date_to and day > date_to:
                    continue
                rows.append({"key": r.key, "p": dict(p)})
        total = len(rows)
        last_page = max(1, -(-total // PAGE_SIZE))
        current = min(current, last_page)
        chunk = with_duplicates(rows[(current - 1) * PAGE_SIZE: current * PAGE_SIZE],
                                state.faults[KEY].duplicate_rate)
        lo = max(1, min(current - 4, last_page - 9))
        pages = list(range(lo, min(last_page, lo + 9) + 1))

        def qs(n: int) -> str:
            return urlencode({"status": status, "date_from": date_from, "date_to": date_to, "page": n})

        return page("list.html", authed=True, rows=chunk, total=total, page=current, last_page=last_page,
                    pages=pages, qs=qs, status=status, date_from=date_from, date_to=date_to)

    def detail(key: str, sess: Session, status: int = 200, **ctx: Any) -> HTMLResponse:
        with state.lock:
            rec = state.get(KEY, key)
            if rec is None:
                return page("error.html", 404, authed=True, message="登记信息不存在")
            p = dict(rec.payload)
            handle = rec.extra.get("handle")
            flash, sess.flash = sess.flash, None
        order = list(FIELDS)
        if v2():
            first = [f for k in V2_FIRST for f in FIELDS if f[0] == k]
            order = first + [f for f in FIELDS if f[0] not in V2_FIRST]
        fields = [(k, label, p.get(k, "")) for k, label in order
                  if not (k in OPTIONAL and p.get(k) in (None, ""))]
        ctx.setdefault("form", {})
        return page("detail.html", status, authed=True, key=key, fields=fields, handle=handle, flash=flash,
                    can_handle=p.get("status") in OPEN, csrf=sess.csrf, methods=METHODS, results=RESULTS, **ctx)

    @app.get("/complaints/{key}")
    def detail_page(key: str, request: Request) -> Response:
        s = authed(request)
        return s if isinstance(s, Response) else detail(key, s)

    @app.post("/complaints/{key}/handle")
    async def handle(key: str, request: Request) -> Response:
        """Record 协商过程/方式/结果 once; the case becomes 已办结 and the form disappears."""
        s = authed(request)
        if isinstance(s, Response):
            return s
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf_token", "")), s.csrf):
            return page("error.html", 403, authed=True, message="CSRF校验失败，请刷新页面重试")
        process = str(form.get("process", "")).strip()
        method, result = str(form.get("method", "")), str(form.get("result", ""))
        with state.lock:
            rec = state.get(KEY, key)
            if rec is None:
                return page("error.html", 404, authed=True, message="登记信息不存在")
            current = rec.payload.get("status")
            if current == "已撤回":
                return detail(key, s, 409, error="该投诉已撤回，无需处理")
            if current not in OPEN:
                return detail(key, s, 409, error="该投诉已办结，不能重复提交")
            errors = []
            if not process:
                errors.append("协商过程不能为空")
            elif len(process) < 5:
                errors.append("协商过程至少5个字")
            if method not in METHODS:
                errors.append("请选择协商方式")
            if result not in RESULTS:
                errors.append("请选择协商结果")
            if errors:
                return detail(key, s, 422, errors=errors, form={"process": process, "method": method, "result": result})
            rec.extra["handle"] = {"process": process, "method": method, "result": result, "at": fmt_sec(state.now)}
            rec.payload["status"] = "已办结"
            touch_record(rec, state.now)
            state.record_write(KEY, "handle", key, {"process": process, "method": method, "result": result})
            s.flash = "处理结果已提交"
        return RedirectResponse(f"/complaints/{key}", status_code=303)

    @app.get("/files/{key}/{n}")
    def attachment(key: str, n: int, request: Request) -> Response:
        s = authed(request)
        if isinstance(s, Response):
            return s
        rec = state.get(KEY, key)
        files = rec.payload.get("attachments", []) if rec else []
        if not 1 <= n <= len(files):
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse(f"sandbox attachment {files[n - 1]['name']}\n")

    return app


# -- the record and its life at the source ------------------------------------------

def render_complaint(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    """A registration (登记) as the portal shows it; `reg_no` embeds the region code and the date."""
    c, t = m.customer, m.topic
    prov, city, district, code = m.city
    reg_no = f"12{code[:4]}00{at:%Y%m%d}{seq % 1_000_000:06d}"
    facts = "".join(fill(rng, m, f) for f in t.facts)
    content = rng.choice(texts.FORMAL_OPENERS) + facts
    if m.escalation:
        content += f"投诉人表示：{m.escalation}。"
    content += rng.choice(texts.FORMAL_CLOSERS)
    content = decorate(rng, content, Style(html=style.html, long=style.long), t.facts)
    phone = c.mobile
    if rng.random() < 0.5:
        phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    if style.fullwidth:
        phone = phone.translate(FULLWIDTH)
    demands = "、".join(rng.sample(t.demands, rng.randint(1, len(t.demands))))
    payload: dict[str, Any] = {
        "reg_no": reg_no,
        "complainant": c.name,
        "phone": phone,
        "respondent": f"{texts.COMPANY_FULL}{city.removesuffix('市')}分行",
        "region": f"{prov}{city}{district}" if prov != city else f"{city}{district}",
        "content": content,
        "demands": demands,
        "registered_at": fmt_sec(at),
        "deadline": deadline_after(at.date()).isoformat(),
        "status": "待处理",
        "attachments": attachments(rng, f"/files/{reg_no}", 0.3),
    }
    if rng.random() < 0.6:
        payload["id_number"] = c.id_number
    if rng.random() < 0.7:
        payload["title"] = rng.choice(t.title)
    if m.amount is not None:
        payload["amount"] = f"{m.amount:.2f}元"
    return reg_no, payload


def source_update(rec: Rec, roll: float, rng: random.Random, now: datetime) -> str | None:
    """An open case is withdrawn, moves to 处理中, or the complainant adds to it."""
    p = rec.payload
    if p["status"] not in OPEN:
        return None
    if roll < 0.25:
        p["status"], tag = "已撤回", "withdrawn"
    elif roll < 0.6 and p["status"] == "待处理":
        p["status"], tag = "处理中", "status"
    else:
        p["content"] += rng.choice(texts.SUPPLEMENT)
        tag = "supplement"
    touch_record(rec, now)
    return tag


SYSTEM = SimulatedSystem(
    key=KEY, order=10, html=True, session_ttl=1800.0, mix=0.12, credentials=CREDENTIALS,
    keys=RecordKeys(id="reg_no", date="registered_at", content="content", amount="amount", bad_amount="abc元"),
    render=render_complaint, create_app=create_app, edges=frozenset({"long", "fullwidth"}),
    handling_status="处理中", update_weight=1, source_update=source_update)
