"""Call-centre work orders: own HMAC scheme, page/offset pagination newest first, zone-less local times."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import time
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox import texts
from sandbox.channels import Matter, RecordKeys, Style, decorate, fill, fmt_sec
from sandbox.store import Rec, Store
from sandbox.system import SimulatedSystem
from sandbox.systems.common import base_app, with_duplicates

KEY = "callcenter"
CREDENTIALS = {"app_id": "hub-cc", "app_secret": "demo-cc-secret"}

WINDOW_MS = 300_000
STATUSES = {"10": "新建", "20": "处理中", "30": "已回复", "40": "已办结", "90": "撤销"}
WRITABLE = ("20", "30", "40")


def sign(app_id: str, app_secret: str, ts_ms: str, method: str, path_with_query: str, body: str) -> str:
    """UPPERCASE hex HMAC-SHA256 over app_id + time + METHOD + path_with_query + body (no separators)."""
    msg = f"{app_id}{ts_ms}{method.upper()}{path_with_query}{body}"
    return hmac.new(app_secret.encode(), msg.encode(), hashlib.sha256).hexdigest().upper()


def sign_headers(method: str, path_with_query: str, body: bytes | str = b"", app_id: str = "hub-cc",
                 app_secret: str = "demo-cc-secret", *, ts_ms: int | None = None) -> dict[str, str]:
    """Headers that authenticate one request to the call-centre API."""
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    text = body.decode() if isinstance(body, bytes) else body
    return {"X-CC-AppId": app_id, "X-CC-Time": ts,
            "X-CC-Sign": sign(app_id, app_secret, ts, method, path_with_query, text)}


def _fail(status: int, code: int, msg: str) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg}, status_code=status)


def create_app(state: Store) -> FastAPI:
    """The CTI work-order API."""
    app = base_app(KEY, state, title="呼叫中心工单接口 (sandbox)")
    creds = CREDENTIALS

    async def verify(request: Request) -> tuple[JSONResponse | None, bytes]:
        body = await request.body()
        h = request.headers
        app_id, ts, sig = h.get("x-cc-appid"), h.get("x-cc-time"), h.get("x-cc-sign")
        if app_id != creds["app_id"]:
            return _fail(401, 401, "appId不存在"), body
        path = request.scope.get("raw_path", request.url.path.encode()).decode()
        query = request.scope.get("query_string", b"").decode()
        target = path + ("?" + query if query else "")
        want = sign(app_id, creds["app_secret"], ts or "", request.method, target, body.decode("utf-8", "replace"))
        if not sig or not hmac.compare_digest(want, sig.upper()):
            return _fail(401, 401, "签名错误"), body
        try:
            stale = abs(time.time() * 1000 - int(ts or "0")) > WINDOW_MS
        except ValueError:
            stale = True
        if stale:
            return _fail(401, 401, "请求已过期"), body
        return None, body

    @app.get("/api/workorders")
    async def list_orders(request: Request, page: int = 1, size: int = 20, status: str | None = None,
                          updated_from: str | None = None, created_from: str | None = None) -> Any:
        """Newest first (by `created`, then `order_no`); offsets shift when new orders arrive."""
        err, _ = await verify(request)
        if err:
            return err
        page, size = max(1, page), max(1, min(size, 100))
        with state.lock:
            recs = state.listing(KEY)
            # Sort on the record's true time: a malformed `created` string must not break ordering.
            recs.sort(key=lambda r: (r.created, r.key), reverse=True)
            rows = []
            for r in recs:
                p = r.payload
                if status and p.get("status") != status:
                    continue
                # Zone-less local strings compare correctly as text (same format).
                if updated_from and str(p.get("updated", "")) < updated_from:
                    continue
                if created_from and str(p.get("created", "")) < created_from:
                    continue
                rows.append(r)
            chunk = [copy.deepcopy(r.payload) for r in rows[(page - 1) * size: page * size]]
        return {"code": 0, "msg": "success",
                "data": {"total": len(rows), "page": page, "size": size,
                         "list": with_duplicates(chunk, state.faults[KEY].duplicate_rate)}}

    @app.get("/api/workorders/{order_no}")
    async def get_order(order_no: str, request: Request) -> Any:
        err, _ = await verify(request)
        if err:
            return err
        with state.lock:
            rec = state.get(KEY, order_no)
            if rec is None:
                return _fail(404, 404, "工单不存在")
            return {"code": 0, "msg": "success", "data": copy.deepcopy(rec.payload)}

    @app.post("/api/workorders/{order_no}/update")
    async def update(order_no: str, request: Request) -> Any:
        """Set status/result. Every accepted call is recorded (no idempotency key)."""
        err, raw = await verify(request)
        if err:
            return err
        try:
            body = json.loads(raw or b"{}")
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            return _fail(400, 4000, "请求体格式错误")
        with state.lock:
            rec = state.get(KEY, order_no)
            if rec is None:
                return _fail(404, 404, "工单不存在")
            if rec.payload.get("status") == "90":
                return _fail(409, 4009, "工单已撤销")
            new_status = str(body.get("status", ""))
            if new_status not in WRITABLE:
                return _fail(400, 4001, "状态不合法")
            rec.payload["status"] = new_status
            if "result" in body:
                rec.payload["result"] = body.get("result")
            touch(rec, state.now)
            state.record_write(KEY, "update", order_no,
                               {"status": new_status, "result": body.get("result"), "operator": body.get("operator")})
            return {"code": 0, "msg": "success", "data": copy.deepcopy(rec.payload)}

    return app


# -- the record and its life at the source ------------------------------------------

def render_complaint(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    """A work order: the agent's transcript of the call, a category code, zone-less local times."""
    c, t = m.customer, m.topic
    order_no = f"WO{at:%Y%m%d}{seq % 100_000:05d}"
    agent = f"A{rng.randint(1001, 1099)}"
    parts = [texts.AGENT_LINES[0].format(agent=agent)]
    for line in t.spoken:
        parts.append("".join(rng.sample(texts.FILLERS, rng.randint(1, 3))) + fill(rng, m, line) + "。")
    if m.escalation:
        parts.append("嗯，" + m.escalation + "。")
    parts.append(rng.choice(texts.AGENT_LINES[1:]))
    transcript = decorate(rng, "".join(parts), Style(long=style.long, html=style.html), t.spoken)
    payload: dict[str, Any] = {
        "order_no": order_no,
        "caller": c.mobile,
        "customer_name": c.name if rng.random() < 0.8 else None,
        "id_number": c.id_number if rng.random() < 0.4 else None,
        "agent_id": agent,
        "category_code": t.code,
        "transcript": transcript,
        "summary": t.summary,
        "created": fmt_sec(at),
        "updated": fmt_sec(at),
        "status": "10",
        "result": None,
    }
    return order_no, payload


def touch(rec: Rec, at: datetime) -> None:
    """A change moves `updated` (a zone-less local string)."""
    rec.updated = at
    rec.payload["updated"] = fmt_sec(at)


def source_update(rec: Rec, roll: float, rng: random.Random, now: datetime) -> str | None:
    """An open order is revoked (撤销), or the customer calls again to chase it."""
    p = rec.payload
    if p["status"] not in ("10", "20"):
        return None
    if roll < 0.15:
        p["status"], tag = "90", "withdrawn"
    else:
        p["status"] = "20"
        p["transcript"] += "（客户再次来电催办）"
        tag = "status"
    touch(rec, now)
    return tag


SYSTEM = SimulatedSystem(
    key=KEY, order=50, html=False, session_ttl=0.0, mix=0.25, credentials=CREDENTIALS,
    keys=RecordKeys(id="order_no", date="created", content="transcript"),
    render=render_complaint, create_app=create_app, burst_mix=0.25, burst_rank=3, edges=frozenset({"long"}),
    touch=touch, handling_status="20", update_weight=1, source_update=source_update)
