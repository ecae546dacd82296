"""A handler corrects the judgement: business line, reason (with sub-category) and urgency.

The correction is the handler's call and it stands: the ticket's `judgement.corrected_by` names
them, later enrich runs keep what they set, and `hub judge export-corrections` turns the
`reclassified` events into training records. When the corrected judgement routes to another team
(triage hands a ticket on, or a wrong guess is fixed) the ticket moves there in the same
transaction, to a handler picked by the team's usual assignment, and that team is told through
the outbox. The SLA clocks keep running from receipt: a deadline owed to the customer or the
regulator does not restart because someone reclassified the complaint.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from core.errors import HandlingError, InvalidCorrection
from core.schema import Category, Explanation, Status, Ticket, TicketEvent, Urgency, utcnow
from hub.judge.config import Taxonomy, get_taxonomy
from hub.outbox import announce
from hub.routing.assign import Assigner
from hub.routing.rules import get_routing, segments_of
from hub.store.tickets import get_ticket, save_ticket
from hub.teams import get_teams

ACTOR_FIELDS = ("business_line", "category", "sub_category", "urgency")


@dataclass(frozen=True)
class Correction:
    """What the handler sets (None: keep the current value) and why."""

    note: str
    business_line: str | None = None
    category: Category | None = None
    sub_category: str | None = None
    urgency: Urgency | None = None


def _check(tax: Taxonomy, c: Correction, current_category: Category | None) -> None:
    """Every value named must exist in the taxonomy and the profile in force."""
    if c.business_line is not None and tax.line(c.business_line) is None:
        known = ", ".join(sorted(tax.lines.lines)) if tax.lines else "-"
        raise InvalidCorrection("business_line", f"not a business line of profile {tax.profile} (one of: {known})")
    reason = c.category or current_category
    if c.category is not None and c.sub_category is None:
        raise InvalidCorrection("sub_category", "a new reason needs its sub-category")
    if c.sub_category is not None:
        if reason is None or tax.sub(reason, c.sub_category) is None:
            known = ", ".join(sorted(tax.reasons.get(reason, {}))) if reason else "-"
            raise InvalidCorrection("sub_category", "not a sub-category of "
                                                    f"{reason.value if reason else 'the reason'} (one of: {known})")


def reclassify(conn: Connection, ticket_id: str, *, actor: str, correction: Correction) -> Ticket:
    """Apply a handler's correction to the ticket, log it and re-route it when the team changes.

    Raises `InvalidCorrection` (naming the field) for values the taxonomy does not know and
    `HandlingError` for an unknown ticket or a correction that changes nothing.
    """
    tax = get_taxonomy()
    t = get_ticket(conn, ticket_id, for_update=True)
    if t is None:
        raise HandlingError(f"no ticket {ticket_id}")
    j = t.judgement
    _check(tax, correction, j.category)
    before = {"business_line": j.business_line, "category": j.category.value if j.category else None,
              "sub_category": j.sub_category, "urgency": j.urgency.value}
    after = dict(before)
    if correction.business_line is not None:
        after["business_line"] = correction.business_line
    if correction.category is not None:
        after["category"] = correction.category.value
    if correction.sub_category is not None:
        after["sub_category"] = correction.sub_category
    if correction.urgency is not None:
        after["urgency"] = correction.urgency.value
    if after == before and not j.needs_review:
        raise HandlingError(f"ticket {t.ticket_id}: the correction changes nothing")
    now = utcnow()
    j.business_line = after["business_line"]
    j.category = Category(after["category"]) if after["category"] else None
    j.sub_category, j.urgency = after["sub_category"], Urgency(after["urgency"] or Urgency.GENERAL.value)
    j.needs_review, j.corrected_by, j.confidence = False, actor, 1.0
    j.tags = [x for x in j.tags if x != "needs_review"]
    t.explanations.pop("review", None)
    why = f"人工改判（{actor}）：{correction.note}"
    for key, value in (("business_line", after["business_line"]),
                       ("category", f"{after['category']}/{after['sub_category']}"), ("urgency", after["urgency"])):
        t.explanations[key] = Explanation(value=str(value), reason=why, matched=[actor])
    t.updated_at = now
    changed = {k: {"from": before[k], "to": after[k]} for k in ACTOR_FIELDS if before[k] != after[k]}
    events = [TicketEvent(ticket_id=t.ticket_id, at=now, actor=actor, kind="reclassified", note=correction.note,
                          data={"changed": changed, "judgement": after,
                                "model_version": j.model_version, "channel": t.source})]
    events += _reroute(conn, t, actor, why, tax)
    save_ticket(conn, t, events)
    return t


def _reroute(conn: Connection, t: Ticket, actor: str, why: str, tax: Taxonomy) -> list[TicketEvent]:
    """Move the ticket to the team its corrected judgement routes to (nothing when it stays)."""
    if not t.handling.status.is_open or t.handling.team is None:
        return []  # a closed ticket keeps its history; a ticket not yet routed is routed by enrich
    routing, teams = get_routing(), get_teams()
    rule = routing.match(t, segments_of(t))
    h = t.handling
    h.priority = rule.priority if rule.priority is not None else (1 if t.judgement.urgency == Urgency.URGENT else 0)
    if rule.team == h.team:
        return []
    now = utcnow()
    old_team = h.team
    assigner = Assigner(teams, routing.assignment, now)
    assigner.load_state(conn)
    assigner.load_history(conn, [t])
    skill = tax.skill(t.judgement.category, t.judgement.sub_category, t.judgement.business_line)
    choice = assigner.pick(t, rule.team, skill)
    h.team, h.handler = rule.team, choice.handler
    if h.status != Status.ASSIGNED:
        h.status = Status.ASSIGNED
    assigner.record(t)
    assigner.save_state(conn)
    t.explanations["team"] = Explanation(value=rule.team, reason=f"改判后按规则 {rule.id} 转至 {rule.team}",
                                         matched=[rule.id])
    t.explanations["handler"] = Explanation(value=choice.handler or "-", reason=choice.reason,
                                            matched=choice.matched)
    announce.announce_dispatch(conn, t, rule.team, reason=why)
    return [TicketEvent(ticket_id=t.ticket_id, at=now, actor=actor, kind="transferred", note=why,
                        data={"from": old_team, "to": rule.team, "handler": choice.handler, "rule": rule.id,
                              "reclassified": True})]
