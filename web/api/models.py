"""Response shapes of the back-office API (published in /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub.backoffice.queries import QueueItem


class ClockOut(BaseModel):
    """One SLA clock of a queue row: kind, policy, due time, state and warning times."""

    kind: str
    policy: str
    due_at: datetime
    state: str
    warn_at: list[datetime] = Field(default_factory=list)


class QueueItemOut(BaseModel):
    """One queue row; PII masked, `deadline_state` drives the warning/breach colour."""

    ticket_id: str
    source: str
    external_id: str
    status: str
    team: str | None
    handler: str | None
    category: str | None
    business_line: str | None = None
    needs_review: bool = False
    urgency: str | None
    risk_level: str | None
    received_at: datetime
    next_due_at: datetime | None
    deadline_state: Literal["none", "ok", "warning", "breach", "done"]
    title: str
    customer_name: str | None
    clocks: list[ClockOut]

    @classmethod
    def of(cls, q: QueueItem) -> QueueItemOut:
        """The response shape of a queue item."""
        return cls(ticket_id=q.ticket_id, source=q.source, external_id=q.external_id, status=q.status,
                   team=q.team, handler=q.handler, category=q.category, business_line=q.business_line,
                   needs_review=q.needs_review, urgency=q.urgency,
                   risk_level=q.risk_level, received_at=q.received_at, next_due_at=q.next_due_at,
                   deadline_state=q.deadline_state, title=q.title, customer_name=q.customer_name,
                   clocks=[ClockOut(kind=c.kind.value, policy=c.policy, due_at=c.due_at, state=c.state.value,
                                    warn_at=c.warn_at) for c in q.clocks])


class QueueOut(BaseModel):
    """A team's queue: the team, the number of items, and the items."""

    team: str
    count: int
    items: list[QueueItemOut]


class EventOut(BaseModel):
    """One timeline event (notes and data scrubbed unless revealed)."""

    at: datetime
    actor: str
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class ExplanationOut(BaseModel):
    """Why a judgement or decision came out as it did: value, reason, matches, score."""

    value: str
    reason: str
    #: the reason for people, in Chinese (what the console shows; texts earlier versions stored
    #: in English are translated, `hub.labels.explain_reason`)
    reason_zh: str = ""
    matched: list[str] = Field(default_factory=list)
    score: float | None = None


class TicketDetailOut(BaseModel):
    """A ticket with its timeline and the explanations of its judgement."""

    ticket_id: str
    team: str | None
    status: str
    deadline_state: Literal["none", "ok", "warning", "breach", "done"]
    revealed: bool = Field(description="True when personal data is shown in clear (audited).")
    ticket: dict[str, Any] = Field(description="The unified ticket; PII masked unless revealed.")
    explanations: dict[str, ExplanationOut]
    timeline: list[EventOut]
    pending_extension: dict[str, Any] | None = None


class ActionOut(BaseModel):
    """An action's result: the ticket's status, team and handler afterwards."""

    ticket_id: str
    action: str
    status: str | None = None
    team: str | None = None
    handler: str | None = None
    visible: bool = Field(True, description="False when the ticket left the caller's team (transfer).")


class MeOut(BaseModel):
    """The caller: name, team, role and what the role may do."""

    name: str
    team: str
    role: str
    may_reveal: bool
    may_approve: bool


class ErrorOut(BaseModel):
    """An error answer: what went wrong."""

    detail: str
