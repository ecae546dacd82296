"""SMS gateway: HMAC-SHA256 signed requests, non-idempotent send, MO and delivery reports by cursor."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import random
import re
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox import texts
from sandbox.channels import Matter, RecordKeys, Style, decorate, fill, fmt_sec
from sandbox.store import Store
from sandbox.system import SimulatedSystem
from sandbox.systems.common import base_app, with_duplicates

KEY = "sms"
CREDENTIALS = {"access_key": "LTAIdemo0001", "secret": "demo-sms-secret"}

WINDOW = 300  # seconds a timestamp may differ from real now
NONCE_TTL = 600
TEMPLATES = {
    "SMS_NOTICE": "【华信银行】您的投诉（编号${ticket}）已受理，我们将在${hours}小时内联系您。",
    "SMS_RESULT": "【华信银行】您的投诉（编号${ticket}）已处理：${result}。",
    "SMS_SURVEY": "【华信银行】您的投诉（编号${ticket}）已处理完毕，满意请回复1，不满意请回复2。回T退订",
    "SMS_INCIDENT": "【华信银行】${notice}给您带来不便，敬请谅解。",
}
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# (content, kind, answer, weight) of the simulated customers' answers to a survey
ANSWERS = (("1", "survey_reply", "satisfied", 40), ("满意", "survey_reply", "satisfied", 15),
           ("2", "survey_reply", "dissatisfied", 25), ("不满意", "survey_reply", "dissatisfied", 10),
           ("T", "unsubscribe", None, 4), ("TD", "unsubscribe", None, 3), ("退订", "unsubscribe", None, 3))


def string_to_sign(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The exact text the gateway signs (see README)."""
    return "\n".join((method.upper(), path_with_query, timestamp, nonce, hashlib.sha256(body).hexdigest()))


def sign_headers(method: str, path_with_query: str, body: bytes = b"", access_key: str = "LTAIdemo0001",
                 secret: str = "demo-sms-secret", *, timestamp: int | None = None,
                 nonce: str | None = None) -> dict[str, str]:
    """Headers that authenticate one request to the gateway."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or uuid.uuid4().hex
    sig = hmac.new(secret.encode(), string_to_sign(method, path_with_query, ts, nonce, body).encode(),
                   hashlib.sha256).digest()
    return {"X-Access-Key": access_key, "X-Timestamp": ts, "X-Nonce": nonce,
            "X-Signature": base64.b64encode(sig).decode()}


def _fail(code: str, message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _cursor(n: int) -> str:
    return base64.urlsafe_b64encode(f"c:{n}".encode()).decode().rstrip("=")


def _uncursor(value: str | None) -> int:
    if not value:
        return 0
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    if not raw.startswith("c:"):
        raise ValueError(value)
    return int(raw[2:])


def create_app(state: Store) -> FastAPI:
    """The SMS gateway."""
    app = base_app(KEY, state, title="SMS gateway (sandbox)")
    creds = CREDENTIALS

    async def verify(request: Request) -> tuple[JSONResponse | None, bytes]:
        body = await request.body()
        h = request.headers
        key, ts, nonce, sig = h.get("x-access-key"), h.get("x-timestamp"), h.get("x-nonce"), h.get("x-signature")
        if not (key and ts and nonce and sig):
            return _fail("isv.MISSING_SIGNATURE", "X-Access-Key, X-Timestamp, X-Nonce and X-Signature are required", 401), body
        if key != creds["access_key"]:
            return _fail("isv.INVALID_ACCESS_KEY", "unknown access key", 401), body
        path = request.scope.get("raw_path", request.url.path.encode()).decode()
        query = request.scope.get("query_string", b"").decode()
        target = path + ("?" + query if query else "")
        want = base64.b64encode(hmac.new(creds["secret"].encode(),
                                         string_to_sign(request.method, target, ts, nonce, body).encode(),
                                         hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(want, sig):
            return _fail("isv.SIGNATURE_DOES_NOT_MATCH", "signature does not match", 401), body
        try:
            stale = abs(time.time() - int(ts)) > WINDOW
        except ValueError:
            stale = True
        if stale:
            return _fail("isv.REQUEST_EXPIRED", "timestamp outside the 300 s window", 401), body
        now = time.time()
        with state.lock:
            for old in [n for n, t in state.nonces.items() if now - t > NONCE_TTL]:
                del state.nonces[old]
            if nonce in state.nonces:
                return _fail("isv.NONCE_REPLAYED", "nonce already used", 401), body
            state.nonces[nonce] = now
        return None, body

    @app.post("/v1/sms/send")
    async def send(request: Request) -> Any:
        """Send one SMS. Not idempotent: every call is a new message (query by out_id first)."""
        err, raw = await verify(request)
        if err:
            return err
        try:
            import json

            body = json.loads(raw or b"{}")
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            return _fail("isv.INVALID_PARAMETERS", "body must be a JSON object")
        mobile, code = str(body.get("mobile", "")), body.get("template_code")
        params, out_id = body.get("params") or {}, body.get("out_id")
        if not _MOBILE.match(mobile):
            return _fail("isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile number")
        if code not in TEMPLATES:
            return _fail("isv.SMS_TEMPLATE_ILLEGAL", f"unknown template {code!r}")
        if not isinstance(params, dict):
            return _fail("isv.INVALID_PARAMETERS", "params must be an object")
        missing = [p for p in _PLACEHOLDER.findall(TEMPLATES[code]) if p not in params]
        if missing:
            return _fail("isv.TEMPLATE_MISSING_PARAMETERS", f"missing params: {', '.join(missing)}")
        content = _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), TEMPLATES[code])
        with state.lock:
            biz_id = f"BIZ{len(state.sends) + 1:014d}"
            entry = {"biz_id": biz_id, "out_id": out_id, "mobile": mobile, "template_code": code, "params": params,
                     "content": content, "status": "SENT", "sent_at": fmt_sec(state.now)}
            state.sends.append(entry)
            state.record_write(KEY, "send", biz_id, {"mobile": mobile, "template_code": code, "params": params,
                                                       "out_id": out_id, "biz_id": biz_id})
            state.schedule(state.now + timedelta(minutes=1), "report", {"send": entry})
            if code == "SMS_SURVEY" and mobile not in state.unsubscribed:
                _maybe_answer(state, mobile, out_id)
        return {"code": "OK", "message": "OK", "biz_id": biz_id}

    @app.get("/v1/sms/sends")
    async def sends(request: Request, out_id: str | None = None, biz_id: str | None = None) -> Any:
        err, _ = await verify(request)
        if err:
            return err
        with state.lock:
            items = [copy.deepcopy(s) for s in state.sends
                     if (out_id is None or s["out_id"] == out_id) and (biz_id is None or s["biz_id"] == biz_id)]
        return {"code": "OK", "items": items}

    async def feed(request: Request, rows: list[dict[str, Any]], cursor: str | None, limit: int) -> Any:
        try:
            start = _uncursor(cursor)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return _fail("isv.INVALID_PARAMETERS", "invalid cursor")
        limit = max(1, min(limit, 500))
        page = rows[start:start + limit]
        end = start + len(page)
        return {"code": "OK", "items": with_duplicates(page, state.faults[KEY].duplicate_rate),
                "next_cursor": _cursor(end), "has_more": end < len(rows)}

    @app.get("/v1/sms/mo")
    async def mo(request: Request, cursor: str | None = None, limit: int = 100) -> Any:
        """Uplink messages in arrival order."""
        err, _ = await verify(request)
        if err:
            return err
        with state.lock:
            rows = [copy.deepcopy(r.payload) for r in state.listing(KEY)]
        return await feed(request, rows, cursor, limit)

    @app.get("/v1/sms/reports")
    async def reports(request: Request, cursor: str | None = None, limit: int = 100) -> Any:
        """Delivery reports in arrival order."""
        err, _ = await verify(request)
        if err:
            return err
        with state.lock:
            rows = [dict(r) for r in state.reports]
        return await feed(request, rows, cursor, limit)

    return app


def classify_answer(content: str) -> tuple[str, str | None]:
    """(kind, answer) the truth records for an SMS reply text."""
    c = content.strip()
    if c in texts.SURVEY_SATISFIED:
        return "survey_reply", "satisfied"
    if c in texts.SURVEY_DISSATISFIED:
        return "survey_reply", "dissatisfied"
    if c.upper() in texts.UNSUBSCRIBE or c in texts.UNSUBSCRIBE:
        return "unsubscribe", None
    return "complaint", None


def _maybe_answer(state: Store, mobile: str, out_id: str | None) -> None:
    """The simulated customer answers a survey SMS some minutes later (or not at all)."""
    rng = state.resp_rng
    if rng.random() >= state.survey_reply_prob:
        return
    if state.survey_answers:
        texts_, weights = zip(*state.survey_answers.items(), strict=True)
        content = rng.choices(texts_, weights)[0]
        kind, answer = classify_answer(content)
    else:
        content, kind, answer, _ = rng.choices(ANSWERS, [a[3] for a in ANSWERS])[0]
    ref = out_id if rng.random() < 0.7 else None
    state.schedule(state.now + timedelta(minutes=rng.uniform(5, 120)), "message",
                   {"source": KEY, "mobile": mobile, "content": content, "kind": kind, "answer": answer,
                    "reply_to_out_id": ref})


# -- the record and its life at the source ------------------------------------------

def render_complaint(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    """A complaint texted to the service number: one short line (emoji and HTML only, never long)."""
    t = m.topic
    text = fill(rng, m, rng.choice(t.sms))
    if m.escalation:
        text += "，" + m.escalation
    text = decorate(rng, text, Style(emoji=style.emoji, html=style.html), t.sms)
    return sms_mo(at, seq, m.customer.mobile, text)


def sms_mo(at: datetime, seq: int, mobile: str, content: str, reply_to_out_id: str | None = None
           ) -> tuple[str, dict[str, Any]]:
    """An uplink message in the gateway's shape."""
    mo_id = f"MO{at:%Y%m%d%H%M}{seq % 100_000:05d}"
    return mo_id, {"mo_id": mo_id, "mobile": mobile, "content": content, "received_at": fmt_sec(at),
                   "dest_code": "10690123", "reply_to_out_id": reply_to_out_id}


def report(store: Store, data: dict[str, Any]) -> None:
    """Event "report": a send's delivery report, one simulated minute later.

    UNDELIV/UNSUBSCRIBED once the number unsubscribed; UNDELIV/IS_CLOSE while its handset is off
    (`Store.powered_off`); DELIVRD otherwise.
    """
    send = data["send"]
    unsubscribed = send["mobile"] in store.unsubscribed
    off = not unsubscribed and send["mobile"] in store.powered_off
    bad = unsubscribed or off
    send["status"] = "FAILED" if bad else "DELIVERED"
    store.reports.append({"biz_id": send["biz_id"], "out_id": send["out_id"], "mobile": send["mobile"],
                          "status": "UNDELIV" if bad else "DELIVRD",
                          "err_code": "UNSUBSCRIBED" if unsubscribed else "IS_CLOSE" if off else "DELIVRD",
                          "report_at": fmt_sec(store.now)})


SYSTEM = SimulatedSystem(
    key=KEY, order=40, html=False, session_ttl=0.0, mix=0.20, credentials=CREDENTIALS,
    keys=RecordKeys(id="mo_id", date="received_at", content="content"),
    render=render_complaint, create_app=create_app, burst_mix=0.15, burst_rank=2, edges=frozenset({"emoji"}),
    message=sms_mo, stray_share=0.25, events={"report": report})

__all__ = ["create_app", "sign_headers", "string_to_sign", "TEMPLATES", "texts"]
