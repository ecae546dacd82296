"""What the console shows of a ticket, in Chinese: clocks a handler can act on, explanations, history.

Everything here is for people: labels come from `hub.labels` (one table), PII stays masked, and
a ticket of another team is listed only by number, channel, date and status (no link, no text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from core.schema import Category, Clock, ClockState, Explanation, Ticket, to_local, utcnow
from hub import labels
from hub.judge.config import get_taxonomy
from hub.sla.calendar import get_calendar
from hub.sla.config import get_sla
from hub.store.tables import tickets
from hub.teams import get_teams, handler_name, team_name


def span_zh(seconds: float) -> str:
    """A duration in words: `3小时12分`, `2天5小时`, `8分`."""
    secs = int(abs(seconds))
    d, h, m = secs // 86400, secs % 86400 // 3600, secs % 3600 // 60
    if d:
        return f"{d}天{h}小时"
    return f"{h}小时{m}分" if h else f"{m}分"


def remaining_text(due: datetime | None, now: datetime | None = None) -> str:
    """`剩余 3小时20分` before the due time, `已超时 3小时12分` after it; `-` without one."""
    if due is None:
        return "-"
    secs = (due - (now or utcnow())).total_seconds()
    return f"剩余 {span_zh(secs)}" if secs >= 0 else f"已超时 {span_zh(secs)}"


@dataclass(frozen=True)
class ClockRow:
    """One clock for the detail page: kind, due, remaining or overdue, policy and its rule."""

    kind: str
    due: str
    remaining: str
    overdue: bool
    state: str
    policy: str
    rule: str
    #: the source's own regulatory deadline beside the policy that set the clock ("" when none applies)
    regulatory: str


def _rule(policy: str, clock: Clock) -> tuple[str, str]:
    """The policy's duration and time mode in words (from config/sla.yaml)."""
    cfg = get_sla()
    p = cfg.policies.get(policy)
    spec = p.spec(clock.kind) if p else cfg.extensions.get(policy)
    if spec is None:
        return "", "calendar"
    return labels.duration_zh(spec.describe()), spec.mode


def _regulatory(t: Ticket, clock: Clock) -> str:
    """The source's regulatory deadline for this clock, e.g. `12315平台时限：10个工作日，至 12-15 24:00`."""
    cfg = get_sla()
    for pid, p in cfg.policies.items():
        spec = p.spec(clock.kind)
        if p.source == t.source and spec is not None:
            due = spec.due(clock.started_at, get_calendar())
            return f"{labels.policy_label(pid)}：{labels.duration_zh(spec.describe())}，至 {to_local(due):%m-%d %H:%M}"
    return ""


def clock_rows(t: Ticket, now: datetime | None = None) -> list[ClockRow]:
    """The ticket's clocks as a handler reads them: overdue time for a breached clock, never just `-`."""
    now = now or utcnow()
    out = []
    for c in t.clocks:
        rule, mode = _rule(c.policy, c)
        live = c.state in (ClockState.RUNNING, ClockState.BREACHED)
        if live:
            rem = remaining_text(c.due_at, now)
        elif c.state == ClockState.PAUSED:
            rem = "已暂停（等待客户）"
        else:
            late = c.stopped_at is not None and c.stopped_at > c.due_at
            rem = f"已办结（超时 {span_zh((c.stopped_at - c.due_at).total_seconds())}）" if late and c.stopped_at \
                else "已达标"
        out.append(ClockRow(
            kind=labels.label(labels.CLOCK_KIND, c.kind), due=f"{to_local(c.due_at):%Y-%m-%d %H:%M}",
            remaining=rem, overdue=live and c.due_at <= now, state=labels.label(labels.CLOCK_STATE, c.state),
            policy=labels.policy_label(c.policy),
            rule=f"{rule}（{labels.label(labels.TIME_MODE, mode)}）" if rule else "",
            regulatory=_regulatory(t, c)))
    return out


def sub_label(category: object, sub: str | None) -> str:
    """A sub-category's Chinese name from the taxonomy (the key itself when the taxonomy has none)."""
    if not sub:
        return "-"
    cat = str(getattr(category, "value", category) or "")
    sdef = get_taxonomy().sub(Category(cat), sub) if cat in {c.value for c in Category} else None
    return sdef.label if sdef is not None and sdef.label else sub


def explanation_value(key: str, e: Explanation) -> str:
    """An explanation's conclusion in Chinese (enum values, teams, handlers, times)."""
    v = e.value
    tax = get_taxonomy()
    if key == "category" and "/" in v:
        cat, sub = v.split("/", 1)
        return f"{labels.label(labels.CATEGORY, cat)} / {sub_label(cat, sub)}"
    table = {"urgency": labels.URGENCY, "risk": labels.RISK, "category": labels.CATEGORY}.get(key)
    if table is not None:
        return labels.label(table, v)
    if key == "escalation":
        return "、".join(labels.label(labels.ESCALATION, x) for x in v.split(",")) if v and v != "none" else "无"
    if key in ("team", "route"):
        return team_name(v)
    if key == "business_line":
        line = tax.line(v)
        return line.label if line is not None and line.label else v
    if key.startswith("clock."):
        try:
            return f"{datetime.fromisoformat(v):%Y-%m-%d %H:%M}"
        except ValueError:
            return v
    return labels.FLAG.get(v, v)


def _matched(item: str) -> str:
    """One matched item for people: a policy by name, `rule:x` as 规则 x, `sticky:case` as 首接责任."""
    if item in labels.POLICY:
        return labels.policy_label(item)
    head, _, rest = item.partition(":")
    return {"rule": f"规则 {rest}", "sticky": f"首接责任（{labels.EXPLANATION.get(rest, rest)}）",
            "skill": f"技能 {rest}"}.get(head, item) if rest else labels.FLAG.get(item, item)


def explanation_rows(t: Ticket) -> list[tuple[str, str, str, str]]:
    """(item, conclusion, reason, matched) rows of the 研判说明 table, all in Chinese."""
    rows = []
    for k, e in t.explanations.items():
        value = handler_name(t.handling.team, e.value) if k == "handler" and e.value != "-" else explanation_value(k, e)
        matched = "、".join(_matched(m) for m in e.matched)
        rows.append((labels.label(labels.EXPLANATION, k), value, labels.explain_reason(e.reason), matched))
    return rows


@dataclass(frozen=True)
class HistoryRow:
    """Another ticket of the same customer or case, masked: number, channel, date, status, owner."""

    ticket_id: str
    source: str
    received: str
    status: str
    team: str
    first_handler: str
    same_case: bool
    satisfied: str
    escalated: bool
    #: a link only to a ticket of the viewer's own team
    linkable: bool


def customer_history(conn: Connection, t: Ticket, team: str | None, limit: int = 20) -> tuple[list[HistoryRow], int]:
    """The customer's other tickets (same keyed phone/id hash) and the case's other tickets, newest first.

    Returns the rows shown and how many of other teams were left out: teams.yaml
    `history_other_teams` decides whether another team's tickets are listed (`show`),
    only counted (`count`) or not mentioned at all (`hide`; then the count is 0 too).
    """
    mode = get_teams().history_other_teams
    c = t.customer
    conds: list[Any] = []
    if t.case_id:
        conds.append(tickets.c.case_id == t.case_id)
    if c.phone_hash:
        conds.append(tickets.c.phone_hash == c.phone_hash)
    if c.id_hash:
        conds.append(tickets.c.id_hash == c.id_hash)
    if not conds:
        return [], 0
    q = (select(tickets.c.ticket_id, tickets.c.source, tickets.c.received_at, tickets.c.status, tickets.c.team,
                tickets.c.first_handler, tickets.c.case_id, tickets.c.data)
         .where(or_(*conds), tickets.c.ticket_id != t.ticket_id)
         .order_by(tickets.c.received_at.desc()).limit(limit))
    out, hidden = [], 0
    for r in conn.execute(q):
        if mode != "show" and r.team != team:
            hidden += mode == "count"
            continue
        data = r.data or {}
        h, j = data.get("handling") or {}, data.get("judgement") or {}
        sat = h.get("satisfied")
        out.append(HistoryRow(
            ticket_id=r.ticket_id, source=labels.source_label(r.source), received=f"{to_local(r.received_at):%Y-%m-%d}",
            status=labels.label(labels.STATUS, r.status), team=team_name(r.team),
            first_handler=handler_name(r.team, r.first_handler) if r.first_handler else "-",
            same_case=bool(t.case_id and r.case_id == t.case_id),
            satisfied="满意" if sat is True else "不满意" if sat is False else "-",
            escalated=bool(j.get("escalation_intent")), linkable=r.team == team))
    return out, hidden
