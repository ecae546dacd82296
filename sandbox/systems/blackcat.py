"""黑猫投诉 merchant backend: login, card list with 加载更多, detail, reply box and 申请完成."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sandbox import texts
from sandbox.channels import FULLWIDTH, Matter, RecordKeys, Style, decorate, fill, fmt_min
from sandbox.store import Rec, Session, Store, touch_record
from sandbox.system import SimulatedSystem
from sandbox.systems.common import base_app, render, with_duplicates

KEY = "blackcat"
CREDENTIALS = {"account": "demo_merchant", "password": "Demo@heimao"}

COOKIE = "SUB"
PAGE_SIZE = 10
FIELDS = (("sn", "投诉编号"), ("target", "投诉对象"), ("problem", "投诉问题"), ("demands", "投诉要求"),
          ("amount", "涉诉金额"), ("user_nick", "投诉人昵称"), ("phone", "联系方式"), ("created_at", "投诉时间"))
V2_ORDER = ("created_at", "sn", "demands", "target", "problem", "amount", "user_nick", "phone")
OPTIONAL = ("amount", "phone")


def create_app(state: Store) -> FastAPI:
    """The merchant backend."""
    app = base_app(KEY, state, title="blackcat merchant backend (sandbox)")
    creds = CREDENTIALS

    def v2() -> bool:
        return state.faults[KEY].markup_variant == "v2"

    def page(template: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("v2", v2())
        return HTMLResponse(render(f"blackcat/{template}", **ctx), status_code=code)

    def authed(request: Request) -> Session | Response:
        sid = request.cookies.get(COOKIE)
        sess = state.session(KEY, sid)
        if sess is None or not sess.authed:
            return RedirectResponse("/login?expired=1" if sid else "/login", status_code=302)
        return sess

    @app.get("/")
    def root() -> Response:
        return RedirectResponse("/merchant/complaints", status_code=302)

    @app.get("/login")
    def login_form(expired: int = 0) -> HTMLResponse:
        return page("login.html", expired=bool(expired))

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        if form.get("account") != creds["account"] or form.get("password") != creds["password"]:
            return page("login.html", error="账号或密码错误", account=str(form.get("account", "")))
        sess = state.new_session(KEY)
        sess.authed = True
        resp = RedirectResponse("/merchant/complaints", status_code=303)
        resp.set_cookie(COOKIE, sess.sid, httponly=True, path="/")
        return resp

    @app.get("/logout")
    def logout(request: Request) -> Response:
        with state.lock:
            state.sessions.pop(request.cookies.get(COOKIE, ""), None)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/merchant/complaints")
    def list_page(request: Request, status: str = "", partial: int = 0) -> Response:
        """Cards newest first, 10 a page; `partial=1` returns the fragment 加载更多 appends."""
        s = authed(request)
        if isinstance(s, Response):
            return s
        try:
            current = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            current = 1
        with state.lock:
            recs = sorted(state.listing(KEY), key=lambda r: (r.created, r.key), reverse=True)
            rows = [{"key": r.key, "p": dict(r.payload), "summary": str(r.payload.get("content", ""))[:60]}
                    for r in recs if not status or r.payload.get("status") == status]
        chunk = with_duplicates(rows[(current - 1) * PAGE_SIZE: current * PAGE_SIZE],
                                state.faults[KEY].duplicate_rate)
        ctx: dict[str, Any] = {"rows": chunk, "has_more": current * PAGE_SIZE < len(rows), "next_page": current + 1,
                               "status": status}
        if partial:
            return page("cards.html", **ctx)
        return page("list.html", authed=True, **ctx)

    def detail(key: str, sess: Session, status: int = 200, **ctx: Any) -> HTMLResponse:
        with state.lock:
            rec = state.get(KEY, key)
            if rec is None:
                return page("error.html", 404, authed=True, message="投诉不存在")
            p = {k: (list(v) if isinstance(v, list) else v) for k, v in rec.payload.items()}
            replies = list(rec.extra.get("replies", []))
            flash, sess.flash = sess.flash, None
        order = [(k, dict(FIELDS)[k]) for k in V2_ORDER] if v2() else list(FIELDS)
        fields = [(k, label, p.get(k, "")) for k, label in order if not (k in OPTIONAL and p.get(k) in (None, ""))]
        return page("detail.html", status, authed=True, key=key, p=p, fields=fields, replies=replies, flash=flash,
                    **ctx)

    @app.get("/merchant/complaints/{key}")
    def detail_page(key: str, request: Request) -> Response:
        s = authed(request)
        return s if isinstance(s, Response) else detail(key, s)

    @app.post("/merchant/complaints/{key}/reply")
    async def reply(key: str, request: Request) -> Response:
        """Every accepted reply is one write; the first moves the complaint to 已回复."""
        s = authed(request)
        if isinstance(s, Response):
            return s
        form = await request.form()
        content = str(form.get("content", "")).strip()
        with state.lock:
            rec = state.get(KEY, key)
            if rec is None:
                return page("error.html", 404, authed=True, message="投诉不存在")
            if rec.payload.get("status") == "已完成":
                return detail(key, s, 409, error="投诉已完成，无法回复")
            if not content:
                return detail(key, s, 422, error="回复内容不能为空")
            at = fmt_min(state.now)
            rec.extra.setdefault("replies", []).append({"at": at, "content": content})
            if rec.payload.get("status") != "已回复":
                rec.payload["status"] = "已回复"
            rec.payload["progress"].append({"time": at, "text": f"商家已回复：{content}"})
            touch_record(rec, state.now)
            state.record_write(KEY, "reply", key, {"content": content})
            s.flash = "回复成功"
        return RedirectResponse(f"/merchant/complaints/{key}", status_code=303)

    @app.post("/merchant/complaints/{key}/complete")
    async def complete(key: str, request: Request) -> Response:
        s = authed(request)
        if isinstance(s, Response):
            return s
        with state.lock:
            rec = state.get(KEY, key)
            if rec is None:
                return page("error.html", 404, authed=True, message="投诉不存在")
            current = rec.payload.get("status")
            if current == "已完成":
                return detail(key, s, 409, error="投诉已完成")
            if current != "已回复":
                return detail(key, s, 409, error="请先回复用户后再申请完成")
            rec.payload["status"] = "已完成"
            rec.payload["progress"].append({"time": fmt_min(state.now), "text": "商家申请完成，投诉已完成"})
            touch_record(rec, state.now)
            state.record_write(KEY, "complete", key, {})
            s.flash = "已申请完成"
        return RedirectResponse(f"/merchant/complaints/{key}", status_code=303)

    return app


# -- the record and its life at the source ------------------------------------------

def render_complaint(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    """A 黑猫 complaint card: casual title and text, a progress timeline, amount as `¥1,234.00元`."""
    c, t = m.customer, m.topic
    sn = f"173{(seq * 7 + 10_000_000) % 100_000_000:08d}"
    title = fill(rng, m, rng.choice(t.informal_title))
    body = "，".join(fill(rng, m, s) for s in rng.sample(t.casual, len(t.casual)))
    body += "，" + rng.choice(texts.CASUAL_TAILS)
    if m.escalation:
        body += "，" + m.escalation
    body = decorate(rng, body + "！", style, t.casual)
    payload: dict[str, Any] = {
        "sn": sn,
        "title": title,
        "target": texts.COMPANY,
        "problem": t.problem,
        "demands": rng.sample(t.demands, rng.randint(1, len(t.demands))),
        "content": body,
        "user_nick": c.nick,
        "created_at": fmt_min(at),
        "status": "审核通过",
        "progress": [{"time": fmt_min(at), "text": "投诉已提交"},
                     {"time": fmt_min(at), "text": "审核通过，已分配给商家"}],
    }
    if m.amount is not None:
        amount = f"¥{m.amount:,.2f}元"
        payload["amount"] = amount.translate(FULLWIDTH) if style.fullwidth else amount
    if rng.random() < 0.4:
        payload["phone"] = c.mobile
    return sn, payload


def progress(rec: Rec, status: str, at: datetime) -> None:
    """A status change shows on the complaint's timeline."""
    rec.payload.setdefault("progress", []).append({"time": fmt_min(at), "text": f"投诉进度更新：{status}"})


def source_update(rec: Rec, roll: float, rng: random.Random, now: datetime) -> str | None:
    """The platform moves a new complaint to 处理中, or the user adds to it (until 已完成)."""
    p = rec.payload
    if p["status"] == "已完成":
        return None
    if roll < 0.5 and p["status"] == "审核通过":
        SYSTEM.set_status(rec, "处理中", now)
        return "status"
    p["content"] += rng.choice(texts.SUPPLEMENT)
    p["progress"].append({"time": fmt_min(now), "text": "用户补充了投诉内容"})
    touch_record(rec, now)
    return "supplement"


SYSTEM = SimulatedSystem(
    key=KEY, order=20, html=True, session_ttl=3600.0, mix=0.13, credentials=CREDENTIALS,
    keys=RecordKeys(id="sn", date="created_at", content="content", amount="amount", bad_amount="¥abc元"),
    render=render_complaint, create_app=create_app, burst_mix=0.05, burst_rank=4,
    edges=frozenset({"emoji", "long", "fullwidth"}), on_status=progress, handling_status="处理中",
    update_weight=1, source_update=source_update)
