"""The back-office JSON API (`/api/v1`): a team's queue, ticket detail, actions.

Every endpoint needs a team token (`Authorization: Bearer hub_...`): no or a bad
token is 401. A ticket of another team is 404, never 403, so a caller cannot
learn that it exists. Inside its own team a caller's role may still be refused
(403): e.g. only a lead approves an extension.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from core.errors import ActionError, NotFound
from core.schema import Source, Status, Urgency, utcnow
from hub.backoffice.auth import Principal, principal_for_token
from hub.backoffice.commands import (
    AcceptBody,
    ActionName,
    ApproveBody,
    ApproveCompensationBody,
    CompensateBody,
    ExtensionBody,
    NoteBody,
    ReclassifyBody,
    ReplyBody,
    ResolveBody,
    TransferBody,
    run_action,
)
from hub.backoffice.queries import (
    QueueFilters,
    audit_reveal,
    deadline_state,
    event_view,
    pending_extension,
    team_queue,
    team_ticket,
    ticket_view,
    timeline,
)
from hub.labels import explain_reason
from hub.store.db import Store
from web.api.models import (
    ActionOut,
    ErrorOut,
    EventOut,
    ExplanationOut,
    MeOut,
    QueueItemOut,
    QueueOut,
    TicketDetailOut,
)

bearer = HTTPBearer(auto_error=False, description="Team API token from `hub api token create`.")

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or invalid token"},
    404: {"model": ErrorOut, "description": "No such ticket for this team"},
    413: {"model": ErrorOut, "description": "Request body over HUB_MAX_BODY_BYTES"},
}
ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": ErrorOut, "description": "The body is not valid JSON"},
    403: {"model": ErrorOut, "description": "The caller's role may not do this"},
    409: {"model": ErrorOut, "description": "Not possible in the ticket's current state"},
}


def get_store_of(request: Request) -> Store:
    """The store the app was created with (or the process default)."""
    return request.app.state.get_store()


def current_principal(request: Request,
                      creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """Resolve the bearer token to a principal; 401 otherwise."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    with get_store_of(request).begin() as conn:
        p = principal_for_token(conn, creds.credentials)
    if p is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return p


Caller = Annotated[Principal, Depends(current_principal)]
router = APIRouter(prefix="/api/v1", tags=["back-office"])


@router.get("/me", response_model=MeOut, responses=ERRORS)
def me(p: Caller) -> MeOut:
    """Who the token belongs to and what it may do."""
    return MeOut(name=p.name, team=p.team, role=p.role, may_reveal=p.may_reveal, may_approve=p.may_approve)


@router.get("/queue", response_model=QueueOut, responses=ERRORS)
def queue(request: Request, p: Caller,
          status: Status | None = None,
          urgency: Urgency | None = None,
          source: Source | None = None,
          due_soon: Annotated[bool, Query(description="Nearest deadline within 4 hours")] = False,
          overdue: Annotated[bool, Query(description="Nearest deadline already passed")] = False,
          include_closed: bool = False,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> QueueOut:
    """The caller's team queue, nearest deadline first; PII masked."""
    f = QueueFilters(status=status.value if status else None, urgency=urgency.value if urgency else None,
                     source=source, due_soon=due_soon, overdue=overdue,
                     include_closed=include_closed, limit=limit)
    with get_store_of(request).begin() as conn:
        items = team_queue(conn, p.team, f)
    return QueueOut(team=p.team, count=len(items), items=[QueueItemOut.of(i) for i in items])


@router.get("/tickets/{ticket_id}", response_model=TicketDetailOut,
            responses={**ERRORS, 403: {"model": ErrorOut, "description": "Role may not reveal personal data"}})
def ticket_detail(request: Request, ticket_id: str, p: Caller,
                  reveal: Annotated[bool, Query(description="Show personal data in clear (lead/compliance;"
                                                            " audited on the ticket)")] = False,
                  ) -> TicketDetailOut:
    """One ticket of the team with its timeline and the explanations of its judgement."""
    with get_store_of(request).begin() as conn:
        try:
            t = team_ticket(conn, p, ticket_id)
        except NotFound:
            raise HTTPException(404, "ticket not found") from None
        if reveal:
            if not p.may_reveal:
                raise HTTPException(403, f"role {p.role!r} may not reveal personal data")
            audit_reveal(conn, p, t.ticket_id, channel="api")
        events = timeline(conn, t.ticket_id)
    return TicketDetailOut(
        ticket_id=t.ticket_id, team=t.handling.team, status=t.handling.status.value,
        deadline_state=deadline_state(t.handling.status.value, t.clocks, utcnow()), revealed=reveal,
        ticket=ticket_view(t, reveal=reveal),
        explanations={k: ExplanationOut(**v.model_dump(), reason_zh=explain_reason(v.reason))
                      for k, v in t.explanations.items()},
        timeline=[EventOut(**event_view(e, reveal=reveal)) for e in events],
        pending_extension=_jsonable(pending_extension(events)))


def _jsonable(d: dict[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}


def _act(request: Request, p: Principal, ticket_id: str, action: ActionName, body: BaseModel) -> ActionOut:
    store = get_store_of(request)
    try:
        t = run_action(store, p, ticket_id, action, body)
    except ActionError as exc:
        if exc.status == 422:  # same shape as FastAPI's own validation errors (the spec says so)
            raise HTTPException(422, [{"loc": ["body", exc.field or "body"], "msg": exc.message,
                                       "type": "value_error"}]) from None
        raise HTTPException(exc.status, exc.message) from None
    if t is None:
        return ActionOut(ticket_id=ticket_id, action=action)
    visible = t.handling.team == p.team
    return ActionOut(ticket_id=ticket_id, action=action, status=t.handling.status.value,
                     team=t.handling.team, handler=t.handling.handler if visible else None, visible=visible)


@router.post("/tickets/{ticket_id}/accept", response_model=ActionOut, responses=ACTION_ERRORS)
def accept(request: Request, ticket_id: str, p: Caller, body: AcceptBody | None = None) -> ActionOut:
    """Take the ticket (首接): it becomes in progress with a handler."""
    return _act(request, p, ticket_id, "accept", body or AcceptBody())


@router.post("/tickets/{ticket_id}/notes", response_model=ActionOut, responses=ACTION_ERRORS)
def note(request: Request, ticket_id: str, body: NoteBody, p: Caller) -> ActionOut:
    """Add an internal note to the timeline (not shown to the customer)."""
    return _act(request, p, ticket_id, "note", body)


@router.post("/tickets/{ticket_id}/reply", response_model=ActionOut, responses=ACTION_ERRORS)
def reply(request: Request, ticket_id: str, body: ReplyBody, p: Caller) -> ActionOut:
    """Reply to the customer: pushed back to the source system through the outbox."""
    return _act(request, p, ticket_id, "reply", body)


@router.post("/tickets/{ticket_id}/resolve", response_model=ActionOut, responses=ACTION_ERRORS)
def resolve(request: Request, ticket_id: str, body: ResolveBody, p: Caller) -> ActionOut:
    """Mark resolved (with a note, an optional final reply and the 12315 outcome)."""
    return _act(request, p, ticket_id, "resolve", body)


@router.post("/tickets/{ticket_id}/transfer", response_model=ActionOut, responses=ACTION_ERRORS)
def transfer(request: Request, ticket_id: str, body: TransferBody, p: Caller) -> ActionOut:
    """Hand the ticket to another team, with a reason; it leaves this team's queue."""
    return _act(request, p, ticket_id, "transfer", body)


@router.post("/tickets/{ticket_id}/extension", response_model=ActionOut, responses=ACTION_ERRORS)
def request_extension(request: Request, ticket_id: str, body: ExtensionBody, p: Caller) -> ActionOut:
    """Ask for a regulatory extension of the resolution deadline (a lead must approve)."""
    return _act(request, p, ticket_id, "request_extension", body)


@router.post("/tickets/{ticket_id}/extension/approve", response_model=ActionOut, responses=ACTION_ERRORS)
def approve_extension(request: Request, ticket_id: str, body: ApproveBody, p: Caller) -> ActionOut:
    """Approve (or refuse, `approve=false`) the pending extension request. Leads only."""
    return _act(request, p, ticket_id, "approve_extension", body)


@router.post("/tickets/{ticket_id}/compensate", response_model=ActionOut, responses=ACTION_ERRORS)
def compensate(request: Request, ticket_id: str, body: CompensateBody, p: Caller) -> ActionOut:
    """Grant a compensation within the configured limit, or request one above it (a lead approves)."""
    return _act(request, p, ticket_id, "compensate", body)


@router.post("/tickets/{ticket_id}/compensation/approve", response_model=ActionOut, responses=ACTION_ERRORS)
def approve_compensation(request: Request, ticket_id: str, body: ApproveCompensationBody, p: Caller) -> ActionOut:
    """Grant (or deny, `approve=false`) the pending compensation request. Leads only, never one's own."""
    return _act(request, p, ticket_id, "approve_compensation", body)


@router.post("/tickets/{ticket_id}/reclassify", response_model=ActionOut, responses=ACTION_ERRORS)
def reclassify(request: Request, ticket_id: str, body: ReclassifyBody, p: Caller) -> ActionOut:
    """Correct the judgement (business line, reason, urgency) with a note; re-routes when the team changes."""
    return _act(request, p, ticket_id, "reclassify", body)
