"""The enterprise's mobile-app backend: OAuth2 client credentials, cursor feed, idempotent replies."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import random
import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox import texts
from sandbox.channels import SHANGHAI, Matter, RecordKeys, Style, attachments, decorate, fill, iso_min
from sandbox.store import Rec, Store
from sandbox.system import SimulatedSystem
from sandbox.systems.common import base_app, with_duplicates

KEY = "app"
CREDENTIALS = {"client_id": "hub-demo", "client_secret": "demo-app-secret"}

WRITABLE = ("processing", "replied", "resolved", "closed")
MAX_LIMIT = 200
BEGINNING = -1e12  # a position before every record


class ReplyIn(BaseModel):
    """Body of POST /complaints/{id}/reply."""

    status: str
    reply: str | None = None


def _err(status: int, error: str, description: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    doc = {"error": error}
    if description:
        doc["error_description"] = description
    return JSONResponse(doc, status_code=status, headers=headers)


def encode_cursor(t: float, key: str) -> str:
    """The opaque feed position after the item `(updated_at timestamp, id)`."""
    return base64.urlsafe_b64encode(json.dumps([t, key]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The position an opaque cursor stands for (raises on a cursor this API did not issue)."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    t, key = json.loads(raw)
    return float(t), str(key)


def create_app(state: Store) -> FastAPI:
    """The app backend (OpenAPI at /openapi.json)."""
    app = base_app(KEY, state, api_docs=True, title="华信银行 APP 投诉反馈接口 (sandbox)")
    creds = CREDENTIALS

    def auth(request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        bearer = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if not header.lower().startswith("bearer "):
            return _err(401, "invalid_token", "missing bearer token", bearer)
        token = header[7:].strip()
        with state.lock:
            expires = state.tokens.get(token)
        if expires is None:
            return _err(401, "invalid_token", "unknown token", bearer)
        if time.time() > expires:
            return _err(401, "invalid_token", "token expired", bearer)
        return None

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        cid, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return _err(401, "invalid_client", "bad basic credentials")
        if form.get("grant_type") != "client_credentials":
            return _err(400, "unsupported_grant_type")
        if cid != creds["client_id"] or secret != creds["client_secret"]:
            return _err(401, "invalid_client", "client authentication failed")
        ttl = state.faults[KEY].session_ttl
        with state.lock:
            tok = f"{state.misc_rng.getrandbits(160):040x}"
            state.tokens[tok] = time.time() + ttl
        return JSONResponse({"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl), "scope": "complaints"})

    @app.get("/complaints")
    def list_complaints(request: Request, updated_since: str | None = None, cursor: str | None = None,
                        limit: int = 50) -> Any:
        """Complaints ordered by (updated_at, id), resumable with the opaque `next_cursor`."""
        if (e := auth(request)) is not None:
            return e
        limit = max(1, min(limit, MAX_LIMIT))
        if cursor:
            try:
                pos = decode_cursor(cursor)
            except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
                return _err(400, "invalid_cursor")
        elif updated_since:
            value = updated_since.strip().replace("Z", "+00:00")
            if "T" in value and " " in value:  # an unencoded "+" in the query arrives as a space
                value = value.replace(" ", "+")
            try:
                since = datetime.fromisoformat(value)
            except ValueError:
                return _err(400, "invalid_updated_since")
            if since.tzinfo is None:
                since = since.replace(tzinfo=SHANGHAI)
            # Inclusive: resume strictly after (since - 1 µs, highest id).
            pos = ((since - timedelta(microseconds=1)).timestamp(), "\uffff")
        else:
            pos = (BEGINNING, "")
        with state.lock:
            recs = sorted(state.listing(KEY), key=lambda r: (r.updated.timestamp(), r.key))
            after = [r for r in recs if (r.updated.timestamp(), r.key) > pos]
            page = after[:limit]
            items = [copy.deepcopy(r.payload) for r in page]
        if page:
            next_cursor = encode_cursor(page[-1].updated.timestamp(), page[-1].key)
        else:
            next_cursor = cursor or encode_cursor(*pos)
        return {"items": with_duplicates(items, state.faults[KEY].duplicate_rate),
                "next_cursor": next_cursor, "has_more": len(after) > limit}

    @app.get("/complaints/{cid}")
    def get_complaint(cid: str, request: Request) -> Any:
        if (e := auth(request)) is not None:
            return e
        with state.lock:
            rec = state.get(KEY, cid)
            if rec is None:
                return _err(404, "not_found")
            return copy.deepcopy(rec.payload)

    @app.post("/complaints/{cid}/reply")
    def reply(cid: str, body: ReplyIn, request: Request) -> Any:
        """Set status and reply text; `Idempotency-Key` makes a retry return the first answer."""
        if (e := auth(request)) is not None:
            return e
        key = request.headers.get("idempotency-key")
        digest = hashlib.sha256(json.dumps([cid, body.model_dump()], sort_keys=True).encode()).hexdigest()
        with state.lock:
            if key:
                seen = state.idempotency.get(f"app:{key}")
                if seen is not None:
                    if seen[0] != digest:
                        return _err(422, "idempotency_key_reused")
                    return JSONResponse(seen[1], headers={"Idempotent-Replayed": "true"})
            rec = state.get(KEY, cid)
            if rec is None:
                return _err(404, "not_found")
            if rec.payload.get("status") == "withdrawn":
                return _err(409, "complaint_withdrawn")
            if body.status not in WRITABLE:
                return _err(422, "invalid_status")
            result = _apply_reply(state, rec, body)
            state.record_write(KEY, "reply", cid, body.model_dump(), key)
            if key:
                state.idempotency[f"app:{key}"] = (digest, result)
            return result

    return app


def _apply_reply(state: Store, rec: Rec, body: ReplyIn) -> dict[str, Any]:
    rec.payload["status"] = body.status
    if body.reply is not None:
        rec.payload["reply"] = body.reply
    touch(rec, state.now)
    if body.status in ("replied", "resolved") and state.resp_rng.random() < 0.5:
        # The user may rate the answer later; a low rating is the hub's reopen signal.
        rating = state.resp_rng.choice((4, 5, 5, 5, 4, 1, 2, 3))
        state.schedule(state.now + timedelta(minutes=state.resp_rng.randint(30, 600)), "rating",
                       {"id": rec.key, "rating": rating})
    p = rec.payload
    return {"id": rec.key, "status": p["status"], "reply": p.get("reply"), "updated_at": p["updated_at"]}


# -- the record and its life at the source ------------------------------------------

def render_complaint(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    """An in-app feedback item: the user object, a category, minute-precision times."""
    c, t = m.customer, m.topic
    fid = f"FB{at:%Y%m%d}{seq:04d}"
    content = "，".join(fill(rng, m, s) for s in rng.sample(t.casual, rng.randint(1, len(t.casual))))
    if m.escalation:
        content += "，" + m.escalation
    tail = rng.choice(texts.APP_TAILS)
    content = decorate(rng, content + ("，" + tail if tail else ""), style, t.casual)
    stamp = iso_min(at)
    payload: dict[str, Any] = {
        "id": fid,
        "user": {"user_id": c.user_id, "name": c.name, "mobile": c.mobile,
                 "id_no": c.id_number if rng.random() < 0.5 else None,
                 "vip_level": c.vip_level, "age": c.age(at.year)},
        "category": t.app_category,
        "title": rng.choice(t.title),
        "content": content,
        "order_no": f"88{rng.randrange(10**10, 10**11)}" if rng.random() < 0.3 else None,
        "rating": rng.randint(1, 3) if rng.random() < 0.2 else None,
        "attachments": attachments(rng, f"https://app.huaxin-bank.example/files/{fid}", 0.3),
        "status": "open",
        "reply": None,
        "created_at": stamp,
        "updated_at": stamp,
    }
    return fid, payload


def minutes(at: datetime) -> datetime:
    """The app keeps `updated_at` to the minute: many records share one value."""
    return at.replace(second=0, microsecond=0)


def touch(rec: Rec, at: datetime) -> None:
    """A change bumps `updated_at` (minute precision), so the record comes back in the feed."""
    rec.updated = minutes(at)
    rec.payload["updated_at"] = iso_min(at)


def migration(recs: list[Rec], start: datetime) -> None:
    """A data migration stamped many records with one time: pagination must cope."""
    apps = [r for r in recs if not r.truth["malformed"]]
    if len(apps) >= 3:
        same = start - timedelta(days=1)
        for r in apps[: max(3, len(apps) // 5)]:
            r.created = r.updated = same
            r.payload["created_at"] = r.payload["updated_at"] = iso_min(same)


def source_update(rec: Rec, roll: float, rng: random.Random, now: datetime) -> str | None:
    """The user withdraws an open complaint or adds to it."""
    p = rec.payload
    if p["status"] not in ("open", "processing"):
        return None
    if roll < 0.3:
        p["status"], tag = "withdrawn", "withdrawn"
    else:
        p["content"] += rng.choice(texts.SUPPLEMENT)
        tag = "supplement"
    touch(rec, now)
    return tag


def rate(store: Store, data: dict[str, Any]) -> None:
    """Event "rating": the user rates an answer (scheduled by `_apply_reply`)."""
    rec = store.get(KEY, data["id"])
    if rec and rec.payload.get("status") != "withdrawn":
        rec.payload["rating"] = data["rating"]
        touch(rec, store.now)


SYSTEM = SimulatedSystem(
    key=KEY, order=30, html=False, session_ttl=3600.0, mix=0.30, credentials=CREDENTIALS,
    keys=RecordKeys(id="id", date="created_at", content="content"),
    render=render_complaint, create_app=create_app, burst_mix=0.55, burst_rank=1,
    edges=frozenset({"emoji", "long"}), stamp=minutes, touch=touch, handling_status="processing",
    after_backlog=migration, update_weight=2, source_update=source_update, events={"rating": rate},
    issues_tokens=True)
