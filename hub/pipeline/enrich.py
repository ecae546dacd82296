"""ENRICH + ROUTE: judge, group mass faults, route, start clocks, dispatch — a batch at a time.

`enrich_and_route(store, ticket_ids)` is the one entry point (flows call it per
batch of landed tickets). Each chunk of tickets is one transaction: the saved
judgement/handling/clocks, the events and the dispatch outbox rows commit
together, so a crash never leaves a routed ticket without its dispatch.
Reruns are safe: a ticket that already has a team is re-judged, not re-routed
(unless it was reopened), and dispatch keys are idempotent.
"""

from __future__ import annotations

import gc
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, func, select

from core.logs import get_logger
from core.pii import scrub_text
from core.schema import (
    ClockKind,
    Explanation,
    MessageKind,
    Status,
    Ticket,
    TicketEvent,
    Urgency,
    to_utc,
    utcnow,
)
from hub.judge import JudgeInput, JudgeResult, judge_batch
from hub.judge.config import get_taxonomy
from hub.judge.core import rescore, ticket_text
from hub.judge.words import sub_zh
from hub.pipeline.dedupe import link_cases
from hub.pipeline.dedupe import load_config as load_dedupe
from hub.pipeline.incidents import IncidentPlan, plan_incidents, save_incidents
from hub.routing import Assigner, RoutingConfig, Rule, get_routing, on_duty, segments_of
from hub.sla import get_sla, restart_clocks, start_clocks
from hub.store.claims import lock_tickets
from hub.store.db import Store
from hub.store.outbox import enqueue, enqueue_many
from hub.store.tables import ticket_events
from hub.store.tables import tickets as tickets_t
from hub.store.tickets import get_tickets, save_tickets
from hub.teams import TeamsConfig, get_teams

log = get_logger(__name__)
CHUNK = 2000
ACTOR = "system:enrich"
#: tags the judge owns (recomputed each time); any other tag on a ticket is kept
_JUDGE_TAGS = ("escalation:", "fault:", "vulnerable", "large_amount", "repeat")


@dataclass
class EnrichStats:
    """What one `enrich_and_route` call did."""

    loaded: int = 0
    missing: int = 0
    judged: int = 0
    routed: int = 0
    rejudged: int = 0  # already routed: judgement refreshed, routing kept
    reopened: int = 0  # routed back to their original handler
    not_complaints: int = 0
    urgent: int = 0
    escalations: int = 0
    vulnerable: int = 0
    incidents_created: int = 0
    incident_tickets: int = 0
    dispatched: int = 0
    linked: int = 0  # tickets whose case (or place in it) changed
    per_team: dict[str, int] = field(default_factory=dict)
    per_category: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain dict."""
        return asdict(self)

    def add(self, other: EnrichStats) -> None:
        """Add another call's counts to these (the per-team and per-category maps are summed by the caller)."""
        for f in fields(self):
            if f.type in ("int", int):
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def enrich_and_route(store: Store, ticket_ids: list[str], now: datetime | None = None) -> EnrichStats:
    """Judge, route, clock and dispatch these tickets (see module doc). Returns the counts."""
    now = to_utc(now or utcnow())
    teams, routing = get_teams(), get_routing()
    routing.check(set(teams.teams), set(get_sla().policies))
    stats = EnrichStats()
    per_team: Counter[str] = Counter()
    per_cat: Counter[str] = Counter()
    ids = list(dict.fromkeys(ticket_ids))
    for i in range(0, len(ids), CHUNK):
        part = ids[i:i + CHUNK]
        # counts go in only once the chunk committed: a chunk the database aborted runs again
        with _collector_paused():
            chunk_stats, team_n, cat_n = store.run_transaction(partial(_counted_chunk, ids=part, now=now,
                                                                       teams=teams, routing=routing))
        stats.add(chunk_stats)
        per_team.update(team_n)
        per_cat.update(cat_n)
    stats.per_team, stats.per_category = dict(per_team), dict(per_cat)
    log.info("enriched %d tickets: %d routed, %d urgent, %d incidents", stats.judged, stats.routed, stats.urgent,
             stats.incidents_created)
    return stats


class _Collector:
    """Who holds the cyclic garbage collector off (`_collector_paused`), and whether it was on before."""

    lock = threading.Lock()
    holders = 0
    was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a chunk runs, back on (as it was) afterwards.

    A chunk's few hundred thousand objects (tickets, explanations, rows) all live until it
    commits and are freed by reference counting; the collector's full passes would scan them
    again and again for nothing (measured: a fifth of the chunk's time at 2,000 tickets).
    Counted, so overlapping chunks of several threads turn it back on only when the last ends.
    """
    with _Collector.lock:
        if _Collector.holders == 0:
            _Collector.was_enabled = gc.isenabled()
            gc.disable()
        _Collector.holders += 1
    try:
        yield
    finally:
        with _Collector.lock:
            _Collector.holders -= 1
            if _Collector.holders == 0 and _Collector.was_enabled:
                gc.enable()


def _fault_words(t: Ticket) -> str:
    """The ticket's reason and the fault it names, as a handler reads them (e.g. 功能/软件故障·闪退)."""
    faults = [x.split(":", 1)[1] for x in t.judgement.tags if x.startswith("fault:")]
    j = t.judgement
    sub = sub_zh(get_taxonomy(), j.category, j.sub_category) if j.category and j.sub_category else "-"
    return "·".join([sub, *faults[:1]])


def _counted_chunk(conn: Connection, ids: list[str], now: datetime, teams: TeamsConfig,
                   routing: RoutingConfig) -> tuple[EnrichStats, Counter[str], Counter[str]]:
    stats, per_team, per_cat = EnrichStats(), Counter[str](), Counter[str]()
    lock_tickets(conn, ids)  # the claim: a concurrent router waits, a dead one holds nothing
    _chunk(conn, ids, now, teams, routing, stats, per_team, per_cat)
    return stats, per_team, per_cat


def stranded_ids(store: Store, source: str | None = None, *, grace: timedelta = timedelta(minutes=10),
                 limit: int = 2000, now: datetime | None = None) -> list[str]:
    """Complaints still new and without a team `grace` after they were ingested, oldest first.

    A run that stopped between normalising and routing (a crash, a failed pull
    whose earlier pages were normalised) leaves such tickets; the sync flows route
    them on their next run. The grace keeps a concurrent worker's fresh tickets out.
    """
    c = tickets_t.c
    q = select(c.ticket_id).where(c.team.is_(None), c.status == Status.NEW.value,
                                  c.kind == MessageKind.COMPLAINT.value,
                                  c.ingested_at < to_utc(now or utcnow()) - grace)
    if source is not None:
        q = q.where(c.source == source)
    with store.begin() as conn:
        return list(conn.execute(q.order_by(c.ingested_at).limit(limit)).scalars())


def _inputs(t: Ticket) -> JudgeInput:
    m, c = t.matter, t.customer
    return JudgeInput(t.source, ticket_text(t), amount=m.amount, id_number=c.id_number.reveal() if c.id_number else None,
                      repeat_count=t.judgement.repeat_count, vulnerable=c.elderly)


def _apply(t: Ticket, res: JudgeResult, repeat_count: int) -> None:
    j = t.judgement
    j.kind = res.kind
    if j.corrected_by is None:  # a handler's reclassification stands: the judge does not overrule a person
        j.business_line, j.category, j.sub_category, j.urgency = (res.business_line, res.category, res.sub_category,
                                                                  res.urgency)
        j.confidence, j.needs_review, j.model_version = res.confidence, res.needs_review, res.model_version
        t.explanations.update(res.explanations)
    else:
        t.explanations.update({k: v for k, v in res.explanations.items()
                               if k not in ("category", "business_line", "urgency", "review")})
    j.escalation_intent, j.vulnerable = res.escalation_intent, res.vulnerable
    j.risk_score, j.risk_level, j.repeat_count = res.risk_score, res.risk_level, repeat_count
    j.tags = sorted({x for x in j.tags if not x.startswith(_JUDGE_TAGS)} | set(res.tags))


def _snapshot(t: Ticket) -> tuple[Any, ...]:
    j = t.judgement
    return (j.kind, j.business_line, j.category, j.sub_category, j.urgency, j.risk_level, tuple(j.escalation_intent),
            j.incident_id, j.needs_review)


def _chunk(conn: Connection, ids: Sequence[str], now: datetime, teams: TeamsConfig, routing: RoutingConfig,
           stats: EnrichStats, per_team: Counter[str], per_cat: Counter[str]) -> None:
    stored: dict[str, Any] = {}  # the rows as loaded: saved back without a round trip of the source's parts
    loaded = get_tickets(conn, ids, keep=stored)
    stats.loaded += len(loaded)
    stats.missing += len(ids) - len(loaded)
    batch = sorted(loaded.values(), key=lambda t: (t.received_at, t.ticket_id))
    before = {t.ticket_id: _snapshot(t) for t in batch}
    # 0. duplicates and repeats first: the case and repeat count feed risk and sticky routing
    events: list[TicketEvent] = _link(conn, batch, now, stats)
    assigner = Assigner(teams, routing.assignment, now)
    assigner.load_state(conn)
    assigner.load_history(conn, batch)
    results: dict[str, JudgeResult] = {}
    # 1. judge; then count repeats (needs every sub-category of the batch), re-judge the repeats
    for t, res in zip(batch, judge_batch([_inputs(t) for t in batch]), strict=True):
        results[t.ticket_id] = res
        _apply(t, res, t.judgement.repeat_count)
        assigner.register(t)
    for t in batch:
        rep = max(t.judgement.repeat_count, assigner.repeats(t))
        if rep != t.judgement.repeat_count:
            res = results[t.ticket_id] = rescore(results[t.ticket_id], repeat_count=rep)
            _apply(t, res, rep)
    complaints = [t for t in batch if t.judgement.kind == MessageKind.COMPLAINT]
    stats.not_complaints += len(batch) - len(complaints)
    # a ticket the source already closed (a backfill of old matters) is judged, never routed
    to_route = [t for t in complaints if t.handling.status == Status.REOPENED
                or (t.handling.team is None and t.handling.status.is_open)]
    # 2. mass faults
    plan = plan_incidents(conn, to_route, routing.incidents, now)
    for t in to_route:
        inc = plan.by_ticket.get(t.ticket_id)
        if inc is not None:
            t.judgement.incident_id = inc.incident_id
            size = inc.prior_count + len(inc.members)
            res = results[t.ticket_id] = rescore(results[t.ticket_id], repeat_count=t.judgement.repeat_count,
                                                 incident_size=size)
            _apply(t, res, t.judgement.repeat_count)
            t.explanations["incident"] = Explanation(
                value=inc.incident_id, reason=f"群体事件：{routing.incidents.window_minutes}分钟内{size}件"
                                              f"同类故障投诉（{_fault_words(t)}）", matched=[inc.signature])
    # 3. route, clock, dispatch
    route_ids = {t.ticket_id for t in to_route}
    routed_n = _dispatch_counts(conn, [t.ticket_id for t in to_route if t.handling.status == Status.REOPENED])
    dispatches: list[dict[str, Any]] = []  # queued in one statement after the loop
    for t in to_route:
        _route_one(conn, t, now, teams, routing, assigner, plan, results[t.ticket_id], routed_n, events, stats,
                   dispatches)
        per_team[t.handling.team or "-"] += 1
    stats.dispatched += len(enqueue_many(conn, dispatches))
    # 4. events for judgements, stats
    for t in batch:
        j = t.judgement
        stats.judged += 1
        if j.kind != MessageKind.COMPLAINT:
            continue
        per_cat[f"{j.category.value if j.category else '-'}/{j.sub_category}"] += 1
        stats.urgent += j.urgency == Urgency.URGENT
        stats.escalations += bool(j.escalation_intent)
        stats.vulnerable += j.vulnerable
        if t.handling.team and t.ticket_id not in route_ids:
            stats.rejudged += 1
        if _snapshot(t) != before[t.ticket_id] or t.ticket_id in route_ids:
            t.updated_at = now
            events.append(TicketEvent(ticket_id=t.ticket_id, at=now, actor=ACTOR, kind="classified", data={
                "category": j.category.value if j.category else None, "sub_category": j.sub_category,
                "urgency": j.urgency.value, "risk_level": j.risk_level.value, "risk_score": j.risk_score,
                "escalation": [e.value for e in j.escalation_intent], "incident_id": j.incident_id,
                "business_line": j.business_line, "confidence": j.confidence, "needs_review": j.needs_review,
                "model_version": j.model_version}))
    # 5. earlier routed tickets that turned out to be part of an incident
    linked = _link_prior(conn, plan, now, events, stored)
    stats.incidents_created += len(plan.created)
    stats.incident_tickets += len(plan.by_ticket) + len(linked)
    save_incidents(conn, plan, now)
    assigner.save_state(conn)
    save_tickets(conn, batch + linked, events, stored)


def _link(conn: Connection, batch: list[Ticket], now: datetime, stats: EnrichStats) -> list[TicketEvent]:
    """Link the batch into cases (in memory: `save_tickets` writes them); their `linked` events."""
    try:
        link = link_cases(conn, batch, load_dedupe(), now, caller_saves=True)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        # linking is one signal among many: a bug there must not keep complaints from their team
        log.error("case linking skipped for a batch of %d: %s: %s", len(batch), type(exc).__name__, exc)
        return []
    stats.linked += link.linked
    return list(link.pending_events)


def _dispatch_counts(conn: Connection, ids: list[str]) -> dict[str, int]:
    """How many times each ticket was routed before (a reopen is dispatched again, with a new key)."""
    if not ids:
        return {}
    q = (select(ticket_events.c.ticket_id, func.count()).where(ticket_events.c.ticket_id.in_(ids),
                                                              ticket_events.c.kind == "routed")
         .group_by(ticket_events.c.ticket_id))
    return {tid: n for tid, n in conn.execute(q)}


def _route_one(conn: Connection, t: Ticket, now: datetime, teams: TeamsConfig, routing: RoutingConfig,
               assigner: Assigner, plan: IncidentPlan, res: JudgeResult, routed_n: dict[str, int],
               events: list[TicketEvent], stats: EnrichStats,
               dispatches: list[dict[str, Any]] | None = None) -> None:
    h, j = t.handling, t.judgement
    rule: Rule = routing.match(t, segments_of(t))
    inc = plan.by_ticket.get(t.ticket_id)
    reopened = h.status == Status.REOPENED
    joined = False  # joins an incident's handler: no dispatch of its own (the incident is routed once)
    handler: str | None
    if reopened:
        team_id = h.team or rule.team
        team = teams.team(team_id)
        owner = team.handler(h.first_handler or "")
        if owner is not None:
            handler, why, matched = owner.id, "reopened: back to the original handler (首接责任)", ["reopen"]
            if not on_duty(team, owner, now):
                why += ", who is off duty now (queued)"
        else:
            c = assigner.pick(t, team_id, res.skill)
            handler, why, matched = c.handler, f"reopened, original handler left the team: {c.reason}", c.matched
        team_why = f"reopened: stays with team {team_id}"
        stats.reopened += 1
    elif inc is not None and inc.team:
        joined = True
        team_id, handler = inc.team, inc.handler
        why, matched = f"incident {inc.incident_id}: joins its handler (routed once)", [inc.incident_id]
        team_why = f"incident {inc.incident_id}: routed with its first ticket"
    else:
        team_id = rule.team
        c = assigner.pick(t, team_id, res.skill)
        handler, why, matched = c.handler, c.reason, c.matched
        team_why = f"rule {rule.id}"
        if inc is not None:
            inc.team, inc.handler = team_id, handler
    h.team, h.handler = team_id, handler
    h.first_handler = h.first_handler or handler
    h.priority = rule.priority if rule.priority is not None else (1 if j.urgency == Urgency.URGENT else 0)
    h.status = Status.ASSIGNED
    t.updated_at = now
    t.explanations["team"] = Explanation(value=team_id, reason=team_why, matched=[rule.id])
    t.explanations["handler"] = Explanation(value=handler or "-", reason=why, matched=matched)
    t.explanations["priority"] = Explanation(value=str(h.priority), reason=(
        f"rule {rule.id}" if rule.priority is not None else "urgent" if h.priority else "default"), matched=[rule.id])
    if reopened:
        restart_clocks(t, now, policy=rule.sla)
    else:
        start_clocks(t, now, policy=rule.sla)
    assigner.record(t)
    stats.routed += 1
    n = routed_n.get(t.ticket_id, 0)
    events.append(TicketEvent(ticket_id=t.ticket_id, at=now, actor=ACTOR,
                              kind="incident_joined" if joined else "routed", data={
                                  "team": team_id, "handler": handler, "rule": rule.id, "reason": why,
                                  "reopened": reopened, "incident_id": j.incident_id}))
    if joined:
        return
    fr, rs = t.clock(ClockKind.FIRST_RESPONSE), t.clock(ClockKind.RESOLUTION)
    cust = t.customer
    payload = {
        "ticket_id": t.ticket_id, "source": t.source, "external_id": t.external_id, "team": team_id,
        "handler": handler, "title": scrub_text(t.matter.title), "category": j.category.value if j.category else None,
        "sub_category": j.sub_category, "urgency": j.urgency.value, "risk_level": j.risk_level.value,
        "first_response_due": fr.due_at.isoformat() if fr else None,
        "resolution_due": rs.due_at.isoformat() if rs else None,
        "customer": {"name": str(cust.name) if cust.name else None, "phone": str(cust.phone) if cust.phone else None},
        "incident_id": j.incident_id, "case_id": t.case_id,
        "reasons": [f"rule {rule.id}", t.explanations["category"].value, t.explanations["urgency"].reason, why][:4],
    }
    msg: dict[str, Any] = {"key": f"dispatch:{t.ticket_id}:{team_id}:{n}", "kind": "dispatch", "target": f"team:{team_id}",
           "ticket_id": t.ticket_id, "payload": payload}
    if dispatches is not None:
        dispatches.append(msg)  # the caller inserts the batch's dispatches at once
    elif enqueue(conn, **msg):
        stats.dispatched += 1


def _link_prior(conn: Connection, plan: IncidentPlan, now: datetime, events: list[TicketEvent],
                stored: dict[str, Any]) -> list[Ticket]:
    """Earlier routed tickets that belong to a new incident: linked (their handler is kept)."""
    if not plan.linked_prior:
        return []
    found = get_tickets(conn, list(plan.linked_prior), keep=stored)
    out = []
    for tid, t in found.items():
        inc = plan.linked_prior[tid]
        t.judgement.incident_id = inc.incident_id
        t.updated_at = now
        t.explanations["incident"] = Explanation(value=inc.incident_id, reason=f"mass fault '{inc.signature}'",
                                                 matched=[inc.signature])
        events.append(TicketEvent(ticket_id=tid, at=now, actor=ACTOR, kind="incident_linked",
                                  data={"incident_id": inc.incident_id}))
        out.append(t)
    return out
