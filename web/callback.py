"""HTTP callback for teams that work in their own system: report a status change.

POST `/callbacks/{team}/status` with `Authorization: Bearer <team token>` (the
team's `callback_token` reference in teams.yaml) and, optionally,
`X-Hub-Timestamp` + `X-Hub-Signature: sha256=HMAC(token, ts + "." + body)`
(checked when present; stale timestamps refused). Body:
`{"ticket_id", "status", "note", "reply", "settled", "method"}`. The change goes
through `hub.handling.actions.change_status` (ticket, event and push-back in one
transaction). The API engineer mounts `router`; `create_callback_app()` serves it alone.
"""

from __future__ import annotations

import hmac
import json
import time

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from core.errors import ConfigError, HubError, InsecureSecret
from core.logs import get_logger
from core.pii import scrub_text
from core.schema import Status
from core.secrets import resolve_secret
from hub.handling.actions import HandlingError, change_status
from hub.outbox.dispatch import sign
from hub.store import get_store
from hub.store.tickets import get_ticket
from hub.teams import get_teams

log = get_logger(__name__)
router = APIRouter(tags=["callbacks"])
MAX_SKEW = 300  # seconds a signed request may be old


class StatusCallback(BaseModel):
    """What a team's system reports."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ticket_id: str = Field(min_length=1, max_length=40)
    status: Status
    note: str = Field(default="", max_length=4000)
    reply: str | None = Field(default=None, max_length=4000)
    settled: StrictBool | None = None
    method: str | None = Field(default=None, max_length=40)


def _authenticate(team_id: str, request: Request, body: bytes) -> None:
    try:
        team = get_teams().team(team_id)
    except ConfigError:
        raise HTTPException(404, "unknown team") from None
    try:
        token = resolve_secret(team.callback_token)
    except InsecureSecret:  # a published demo token outside the sandbox: callbacks of this team are off
        token = None
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if token is None or not given or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(401, "bad or missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    signature = request.headers.get("x-hub-signature")
    if signature is not None:
        ts = request.headers.get("x-hub-timestamp", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > MAX_SKEW:
            raise HTTPException(401, "stale or missing X-Hub-Timestamp")
        if not hmac.compare_digest(signature, sign(token.get_secret_value(), ts, body)):
            raise HTTPException(401, "signature does not match")


@router.post("/callbacks/{team}/status")
async def status_callback(team: str, request: Request) -> dict[str, object]:
    """Apply a team's status report to one of its tickets."""
    body = await request.body()
    _authenticate(team, request, body)
    try:
        cb = StatusCallback.model_validate(json.loads(body or b"{}"))
    except ValidationError as exc:  # name the fields, never echo what was sent
        raise HTTPException(422, [{"loc": [str(p)[:60] for p in e["loc"]], "msg": e["msg"][:200], "type": e["type"]}
                                  for e in exc.errors(include_input=False, include_context=False)]) from None
    except ValueError:
        raise HTTPException(422, [{"loc": ["body"], "msg": "not valid JSON", "type": "json_invalid"}]) from None
    # The API app may carry its own store (create_app(store)); else the process default.
    getter = getattr(request.app.state, "get_store", None)
    store = getter() if getter else get_store()
    try:
        with store.begin() as conn:
            t = get_ticket(conn, cb.ticket_id)
            if t is None or t.handling.team != team:
                raise HTTPException(404, "ticket not found for this team")
            t = change_status(conn, cb.ticket_id, cb.status, actor=f"team:{team}", note=cb.note,
                              reply=cb.reply, settled=cb.settled, method=cb.method)
    except HandlingError as exc:
        raise HTTPException(409, scrub_text(str(exc))) from None
    except HubError as exc:
        raise HTTPException(503 if exc.retryable else 422, scrub_text(str(exc))) from None
    log.info("callback: team %s set %s to %s", team, cb.ticket_id, cb.status.value)
    return {"ticket_id": t.ticket_id, "status": t.handling.status.value, "team": t.handling.team}


def create_callback_app() -> FastAPI:
    """A FastAPI app serving only the callback route (tests, standalone receivers)."""
    app = FastAPI(title="hub callbacks")
    app.include_router(router)
    return app
