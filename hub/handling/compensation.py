"""Compensation within authority: grant up to the configured limit, above it a lead approves.

`config/compensation.yaml` sets the limit per business line and sub-category. A grant within
the limit is a `compensated` event at once; above it a `compensation_requested` event waits
for `decide_compensation` by someone other than the requester (four eyes). Nothing here
leaves the hub: the amount is for the handler's reply and for the reports.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from core.configfile import cached_config, load_model
from core.errors import HandlingError
from core.schema import Ticket, TicketEvent, utcnow
from core.settings import get_settings
from hub.store.tickets import get_events, get_ticket, save_ticket


class CompensationConfig(BaseModel):
    """The whole of `config/compensation.yaml` (amounts in 元)."""

    model_config = ConfigDict(extra="forbid")
    default: Decimal = Field(default=Decimal(200), ge=0)
    lines: dict[str, Decimal] = Field(default_factory=dict)
    sub_categories: dict[str, Decimal] = Field(default_factory=lambda: {"fees": Decimal(500)})
    max_amount: Decimal = Field(default=Decimal(100000), gt=0)

    def limit(self, t: Ticket) -> Decimal:
        """What may be granted on this ticket without a lead's approval."""
        line = self.lines.get(t.judgement.business_line or "")
        sub = self.sub_categories.get(t.judgement.sub_category or "")
        if line is not None and sub is not None:
            return min(line, sub)
        return sub if sub is not None else line if line is not None else self.default


def load_compensation(path: Path | None = None) -> CompensationConfig:
    """Parse and validate compensation.yaml (a missing file: the defaults)."""
    return load_model(path or get_settings().config_dir / "compensation.yaml", CompensationConfig, missing_ok=True)


@cached_config
def get_compensation() -> CompensationConfig:
    """This process's compensation limits (cached; `reload_config()` re-reads them)."""
    return load_compensation()


def _load(conn: Connection, ticket_id: str) -> Ticket:
    t = get_ticket(conn, ticket_id)
    if t is None:
        raise HandlingError(f"no ticket {ticket_id}")
    return t


def pending_compensation(events: list[TicketEvent]) -> dict[str, Any] | None:
    """The latest compensation request not yet decided, if any."""
    pending: dict[str, Any] | None = None
    for e in events:
        if e.kind == "compensation_requested":
            pending = {"at": e.at, "actor": e.actor, "amount": e.data.get("amount"), "note": e.note}
        elif e.kind in ("compensated", "compensation_denied") and e.data.get("request"):
            pending = None
    return pending


def compensate(conn: Connection, ticket_id: str, *, actor: str, amount: Decimal, reason: str) -> tuple[Ticket, bool]:
    """Grant `amount` when within the limit (True), else record a request for a lead (False)."""
    cfg = get_compensation()
    if amount <= 0 or amount > cfg.max_amount:
        raise HandlingError(f"an amount is more than 0 and at most {cfg.max_amount}")
    t = _load(conn, ticket_id)
    if not t.handling.status.is_open:
        raise HandlingError(f"ticket {ticket_id} is {t.handling.status.value}: cannot compensate")
    if pending_compensation(get_events(conn, ticket_id)) is not None:
        raise HandlingError(f"ticket {ticket_id} has a compensation request awaiting approval")
    now, limit = utcnow(), cfg.limit(t)
    granted = amount <= limit
    t.updated_at = now
    save_ticket(conn, t, [TicketEvent(ticket_id=t.ticket_id, at=now, actor=actor,
                                      kind="compensated" if granted else "compensation_requested", note=reason,
                                      data={"amount": str(amount), "limit": str(limit), "within_limit": granted})])
    return t, granted


def decide_compensation(conn: Connection, ticket_id: str, *, approver: str, approve: bool) -> Ticket:
    """A lead approves (a `compensated` event) or denies the pending request; never the requester."""
    t = _load(conn, ticket_id)
    pending = pending_compensation(get_events(conn, ticket_id))
    if pending is None:
        raise HandlingError(f"ticket {ticket_id} has no pending compensation request")
    if pending["actor"] == approver:
        raise HandlingError("a compensation cannot be approved by the one who requested it")
    now = utcnow()
    t.updated_at = now
    save_ticket(conn, t, [TicketEvent(
        ticket_id=t.ticket_id, at=now, actor=approver, kind="compensated" if approve else "compensation_denied",
        note=pending["note"], data={"amount": pending["amount"], "request": pending["actor"], "approved": approve})])
    return t
