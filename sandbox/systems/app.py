"""The enterprise's mobile-app backend: OAuth2 client credentials, cursor feed, idempotent replies."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox.credentials import CREDENTIALS
from sandbox.generator import SHANGHAI
from sandbox.state import Rec, SandboxState
from sandbox.systems.common import base_app, with_duplicates

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
    return base64.urlsafe_b64encode(json.dumps([t, key]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    t, key = json.loads(raw)
    return float(t), str(key)


def create_app(state: SandboxState) -> FastAPI:
    """The app backend (OpenAPI at /openapi.json)."""
    app = base_app("app", state, api_docs=True, title="华信银行 APP 投诉反馈接口 (sandbox)")
    creds = CREDENTIALS["app"]

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
        ttl = state.faults["app"].session_ttl
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
            recs = sorted(state.listing("app"), key=lambda r: (r.updated.timestamp(), r.key))
            after = [r for r in recs if (r.updated.timestamp(), r.key) > pos]
            page = after[:limit]
            items = [copy.deepcopy(r.payload) for r in page]
        if page:
            next_cursor = encode_cursor(page[-1].updated.timestamp(), page[-1].key)
        else:
            next_cursor = cursor or encode_cursor(*pos)
        return {"items": with_duplicates(items, state.faults["app"].duplicate_rate),
                "next_cursor": next_cursor, "has_more": len(after) > limit}

    @app.get("/complaints/{cid}")
    def get_complaint(cid: str, request: Request) -> Any:
        if (e := auth(request)) is not None:
            return e
        with state.lock:
            rec = state.get("app", cid)
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
            rec = state.get("app", cid)
            if rec is None:
                return _err(404, "not_found")
            if rec.payload.get("status") == "withdrawn":
                return _err(409, "complaint_withdrawn")
            if body.status not in WRITABLE:
                return _err(422, "invalid_status")
            result = _apply_reply(state, rec, body)
            state.record_write("app", "reply", cid, body.model_dump(), key)
            if key:
                state.idempotency[f"app:{key}"] = (digest, result)
            return result

    return app


def _apply_reply(state: SandboxState, rec: Rec, body: ReplyIn) -> dict[str, Any]:
    rec.payload["status"] = body.status
    if body.reply is not None:
        rec.payload["reply"] = body.reply
    state.touch(rec)
    if body.status in ("replied", "resolved") and state.resp_rng.random() < 0.5:
        # The user may rate the answer later; a low rating is the hub's reopen signal.
        rating = state.resp_rng.choice((4, 5, 5, 5, 4, 1, 2, 3))
        state.schedule(state.now + timedelta(minutes=state.resp_rng.randint(30, 600)), "rating",
                       {"id": rec.key, "rating": rating})
    p = rec.payload
    return {"id": rec.key, "status": p["status"], "reply": p.get("reply"), "updated_at": p["updated_at"]}
