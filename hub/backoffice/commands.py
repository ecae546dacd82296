"""Actions on a ticket, shared by the API and the console, all through `hub.handling.actions`.

Each action runs in one transaction: the team check, the role check and the
handling call (which writes the status change, its timeline event and its
outbox message together). Errors come back as `ActionError` with an HTTP-ish
code so both front ends answer the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from core.errors import ActionError, HubError, InvalidCorrection, NotFound, ReplyRequired, TransientError
from core.pii import scrub_text
from core.schema import Category, Status, Ticket, Urgency
from hub.backoffice.auth import Principal
from hub.backoffice.queries import pending_extension, team_ticket
from hub.backoffice.roles import authorize
from hub.handling import actions as h
from hub.handling import compensation
from hub.handling.actions import lock_ticket
from hub.handling.reclassify import Correction, reclassify
from hub.store.db import Store
from hub.store.tickets import get_events
from hub.teams import get_teams

ActionName = Literal["accept", "note", "reply", "resolve", "transfer", "request_extension", "approve_extension",
                     "reclassify", "compensate", "approve_compensation"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AcceptBody(_Body):
    """Body of `accept`: the handler to assign (default: the caller, when a handler)."""

    handler: str | None = Field(default=None, max_length=60,
                                description="Handler id to assign; default: the caller when a handler.")


class NoteBody(_Body):
    """Body of `note`: an internal note for the timeline."""

    note: str = Field(min_length=1, max_length=4000)


class ReplyBody(_Body):
    """Body of `reply`: text sent back to the customer through the source."""

    text: str = Field(min_length=1, max_length=4000, description="Shown to the customer at the source.")


class ResolveBody(_Body):
    """Body of `resolve`: handling note, final reply and the 12315 result fields."""

    note: str = Field(default="", max_length=4000, description="Handling note / 协商过程.")
    reply: str | None = Field(default=None, max_length=4000, description="Final reply to the customer.")
    settled: StrictBool | None = Field(default=None, description="12315: 和解成功 (true) / 和解不成 (false).")
    method: str | None = Field(default=None, max_length=40, description="12315 协商方式, e.g. 电话协商.")


class TransferBody(_Body):
    """Body of `transfer`: the receiving team and the reason."""

    to_team: str = Field(min_length=1, max_length=60)
    reason: str = Field(min_length=1, max_length=2000)


class ExtensionBody(_Body):
    """Body of `request_extension`: extra days on the resolution clock, and why."""

    days: StrictInt = Field(ge=1, le=60, description="Extra days asked for (regulatory extension, e.g. 30).")
    reason: str = Field(min_length=1, max_length=2000)


class ApproveBody(_Body):
    """Body of `approve_extension`: true approves the pending request, false denies it."""

    approve: StrictBool = True


class ReclassifyBody(_Body):
    """Body of `reclassify`: the corrected business line, reason (with sub-category) and urgency, and why."""

    business_line: str | None = Field(default=None, max_length=40,
                                      description="A line of the industry profile in force (e.g. cards).")
    category: Category | None = Field(default=None, description="The reason: product / service / info_security.")
    sub_category: str | None = Field(default=None, max_length=40,
                                     description="A sub-category of the reason (needed when the reason changes).")
    urgency: Urgency | None = None
    note: str = Field(min_length=1, max_length=2000, description="Why: kept on the timeline (internal).")


class CompensateBody(_Body):
    """Body of `compensate`: the amount in 元 and why (within the limit granted at once, above it requested)."""

    amount: Decimal = Field(gt=0, le=Decimal(100000), max_digits=9, decimal_places=2,
                            description="元, e.g. 300 or 300.50.")
    reason: str = Field(min_length=1, max_length=2000)


class ApproveCompensationBody(_Body):
    """Body of `approve_compensation`: true grants the pending request, false denies it."""

    approve: StrictBool = True


def _matrix_action(principal: Principal, action: ActionName, body: BaseModel) -> str:
    """The row of the role matrix: `accept` that names another handler is `assign`."""
    if action == "accept" and isinstance(body, AcceptBody) and body.handler not in (None, principal.name):
        return "assign"
    return action


def run_action(store: Store, principal: Principal, ticket_id: str, action: ActionName,
               body: BaseModel) -> Ticket | None:
    """Check team and role, then call the matching `hub.handling.actions` function in one transaction.

    Returns the ticket as it is after the action; raises ActionError.
    """
    try:
        with store.begin() as conn:
            lock_ticket(conn, ticket_id)  # PostgreSQL: the role check and the action see the same row
            t = team_ticket(conn, principal, ticket_id)  # 404 for another team's ticket, before any role check
            actor = principal.actor
            authorize(_matrix_action(principal, action, body), role=principal.role, name=principal.name,
                      ticket_handler=t.handling.handler)  # the role matrix (hub.backoffice.roles)
            if action == "note":
                assert isinstance(body, NoteBody)
                h.add_note(conn, ticket_id, actor=actor, note=body.note)
                return team_ticket(conn, principal, ticket_id)
            if action == "approve_extension":
                assert isinstance(body, ApproveBody)
                pending = pending_extension(get_events(conn, ticket_id))
                if pending is not None and pending["actor"] == actor:
                    # four eyes: whoever asked for more time does not grant it
                    raise ActionError(409, "an extension cannot be decided by the one who requested it")
                return h.approve_extension(conn, ticket_id, approver=actor, approve=body.approve)
            if action == "compensate":
                assert isinstance(body, CompensateBody)
                compensation.compensate(conn, ticket_id, actor=actor, amount=body.amount, reason=body.reason)
                return team_ticket(conn, principal, ticket_id)
            if action == "approve_compensation":
                assert isinstance(body, ApproveCompensationBody)
                return compensation.decide_compensation(conn, ticket_id, approver=actor, approve=body.approve)
            if action == "accept":
                assert isinstance(body, AcceptBody)
                handler = body.handler or (principal.name if principal.role == "handler" else None)
                if handler is not None and get_teams().team(principal.team).handler(handler) is None:
                    raise ActionError(422, f"not a handler of team {principal.team}", "handler")  # the value is not echoed
                return h.accept(conn, ticket_id, actor=actor, handler=handler)
            if action == "reply":
                assert isinstance(body, ReplyBody)
                return h.reply_to_customer(conn, ticket_id, actor=actor, text=body.text)
            if action == "resolve":
                assert isinstance(body, ResolveBody)
                return h.change_status(conn, ticket_id, Status.RESOLVED, actor=actor, note=body.note,
                                       reply=body.reply, settled=body.settled, method=body.method)
            if action == "transfer":
                assert isinstance(body, TransferBody)
                if body.to_team not in get_teams().teams:
                    raise ActionError(422, "unknown team", "to_team")  # the value is not echoed
                if body.to_team == principal.team:
                    raise ActionError(409, "the ticket is already with this team")
                return h.transfer(conn, ticket_id, actor=actor, to_team=body.to_team, reason=body.reason)
            if action == "request_extension":
                assert isinstance(body, ExtensionBody)
                h.request_extension(conn, ticket_id, actor=actor, days=body.days, reason=body.reason)
                return team_ticket(conn, principal, ticket_id)
            if action == "reclassify":
                assert isinstance(body, ReclassifyBody)
                return reclassify(conn, ticket_id, actor=actor, correction=Correction(
                    note=body.note, business_line=body.business_line, category=body.category,
                    sub_category=body.sub_category, urgency=body.urgency))
            raise ActionError(422, f"unknown action {action!r}")
    except NotFound as exc:
        raise ActionError(404, "ticket not found") from exc
    except ActionError:
        raise
    except InvalidCorrection as exc:
        raise ActionError(422, exc.message, exc.field) from exc
    except TransientError as exc:
        raise ActionError(503, scrub_text(str(exc))) from exc
    except ReplyRequired as exc:  # the source shows the change to the customer: the note is not a reply
        raise ActionError(422, scrub_text(exc.message), "reply") from exc
    except (HubError, ValueError) as exc:
        # handling refuses an impossible transition (resolve a closed ticket, approve nothing, ...)
        raise ActionError(409, scrub_text(str(exc))) from exc
