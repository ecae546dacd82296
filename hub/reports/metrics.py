"""The numbers of a report: counts, timeliness, satisfaction, repeats, overdue, keywords, incidents.

Everything is computed from the store for a half-open window [start, end) and
the window before it (for "rising" comparisons). Only complaints count
(`kind == complaint`); survey replies and opt-outs are not tickets of their own.
Text leaves here scrubbed (phone/ID numbers masked): reports are exports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from core.pii import get_vault, scrub_text
from core.schema import OPEN_STATUSES, SHANGHAI, to_local
from hub.judge.matcher import drop_contained, get_matcher
from hub.store.tables import clocks, incidents, surveys, ticket_events, tickets
from hub.store.tickets import stored_matter


@dataclass(frozen=True)
class Window:
    """A half-open report window [start, end)."""

    start: datetime
    end: datetime

    @property
    def previous(self) -> Window:
        """The window of the same length just before this one (for rising comparisons)."""
        span = self.end - self.start
        return Window(self.start - span, self.start)

    def has(self, at: datetime | None) -> bool:
        """Whether `at` falls inside the window."""
        return at is not None and self.start <= at < self.end


def _rate(good: int, total: int) -> dict[str, Any]:
    return {"good": good, "total": total, "rate": round(good / total, 4) if total else None}


def _complaints(conn: Connection, w: Window) -> list[Any]:
    """Complaint rows received in this or the previous window, or touched in this one."""
    prev = w.previous
    q = select(tickets.c.ticket_id, tickets.c.source, tickets.c.category, tickets.c.sub_category, tickets.c.team,
               tickets.c.business_line, tickets.c.needs_review,
               tickets.c.urgency, tickets.c.status, tickets.c.repeat_count, tickets.c.received_at,
               tickets.c.updated_at, tickets.c.resolved_at, tickets.c.incident_id, tickets.c.data,
               tickets.c.pii_enc).where(
        tickets.c.kind == "complaint",
        or_(and_(tickets.c.received_at >= prev.start, tickets.c.received_at < w.end),
            and_(tickets.c.updated_at >= w.start, tickets.c.updated_at < w.end)))
    return list(conn.execute(q).all())


def _clock_rate(conn: Connection, kind: str, w: Window) -> dict[str, Any]:
    """Share of clocks decided in the window that were met on time.

    A clock is decided when it stopped, or (still running) when its due time
    passed: an unanswered ticket past its deadline counts as late, not as pending.
    """
    rows = conn.execute(select(clocks.c.state, clocks.c.due_at, clocks.c.stopped_at).join(
        tickets, tickets.c.ticket_id == clocks.c.ticket_id).where(
        tickets.c.kind == "complaint", clocks.c.kind == kind,
        or_(and_(clocks.c.stopped_at >= w.start, clocks.c.stopped_at < w.end),
            and_(clocks.c.stopped_at.is_(None), clocks.c.due_at >= w.start, clocks.c.due_at < w.end)))).all()
    good = sum(1 for r in rows if r.state == "met" and r.stopped_at is not None and r.stopped_at <= r.due_at)
    return _rate(good, len(rows))


def _satisfaction(conn: Connection, w: Window, rows: list[Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """Survey answers given in the window (rate, and the count per grade).

    The rate is satisfied ÷ (satisfied + dissatisfied): a neutral answer is counted as neutral, not
    as either. Tickets rated another way (the app's own rating) fill in the rest.
    """
    answered: dict[str, bool] = {}
    grades: Counter[str] = Counter()
    for r in conn.execute(select(surveys.c.ticket_id, surveys.c.answer).where(
            surveys.c.state == "answered", surveys.c.answered_at >= w.start, surveys.c.answered_at < w.end)):
        grades[r.answer] += 1
        if r.answer in ("satisfied", "dissatisfied"):
            answered[r.ticket_id] = r.answer == "satisfied"
    for r in rows:
        sat = ((r.data or {}).get("handling") or {}).get("satisfied")
        if sat is not None and w.has(r.updated_at) and r.ticket_id not in answered:
            answered[r.ticket_id] = bool(sat)
    by_grade = {g: grades.get(g, 0) for g in ("satisfied", "neutral", "dissatisfied")}
    return _rate(sum(answered.values()), len(answered)), by_grade


def _line_by_reason(rows: list[Any]) -> dict[str, dict[str, int]]:
    """Business line × reason counts: the table banking and insurance regulators' statistics use."""
    table: dict[str, Counter[str]] = {}
    for r in rows:
        table.setdefault(r.business_line or "unclassified", Counter())[r.category or "unclassified"] += 1
    return {line: dict(c) for line, c in sorted(table.items(), key=lambda kv: -sum(kv[1].values()))}


def _keywords(rows: list[Any]) -> Counter[str]:
    """Taxonomy phrases found in each ticket's title and content (once per ticket)."""
    try:
        matcher = get_matcher()
    except Exception:  # noqa: BLE001 - no taxonomy: fall back to what the judgement recorded
        matcher = None
    counts: Counter[str] = Counter()
    vault = get_vault()
    for r in rows:
        data = r.data or {}
        found: set[str] = set()
        if matcher is not None:
            m = stored_matter(data, r.pii_enc, vault)  # the complaint text is stored encrypted
            text = matcher.norm(f"{m.get('title', '')}\n{m.get('content', '')}")
            found |= {h.phrase for h in drop_contained(matcher.scan(text))
                      if any(e.group in ("reason", "line", "urgent", "grievance", "fault", "esc") for e in h.entries)}
        if not found:
            for e in (data.get("explanations") or {}).values():
                found |= {k for k in e.get("matched", []) if any("\u4e00" <= ch <= "\u9fff" for ch in k)}
            found |= set((data.get("judgement") or {}).get("tags", []))
        counts.update(found)
    return counts


def _trend(rows: list[Any], w: Window, hourly: bool) -> list[dict[str, Any]]:
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    fmt = "%H时" if hourly else "%m-%d"
    buckets: list[dict[str, Any]] = []
    t = w.start
    while t < w.end:
        buckets.append({"bucket": to_local(t).strftime(fmt), "start": t, "count": 0})
        t += step
    for r in rows:
        if w.has(r.received_at):
            i = int((r.received_at - w.start) / step)
            if 0 <= i < len(buckets):
                buckets[i]["count"] += 1
    return buckets


def _overdue(conn: Connection, at: datetime, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(select(tickets.c.ticket_id, tickets.c.source, tickets.c.team, tickets.c.handler,
                               tickets.c.status, tickets.c.urgency, tickets.c.next_due_at, tickets.c.data).where(
        tickets.c.kind == "complaint", tickets.c.status.in_([s.value for s in OPEN_STATUSES]),
        tickets.c.next_due_at < at).order_by(tickets.c.next_due_at).limit(limit)).all()
    return [{"ticket_id": r.ticket_id, "source": r.source, "team": r.team, "handler": r.handler,
             "status": r.status, "urgency": r.urgency, "due_at": r.next_due_at,
             "overdue_hours": round((at - r.next_due_at).total_seconds() / 3600, 1),
             "title": scrub_text(((r.data or {}).get("matter") or {}).get("title", ""))[:60]} for r in rows]


def _incidents(conn: Connection, w: Window) -> list[dict[str, Any]]:
    rows = conn.execute(select(incidents).where(incidents.c.last_at >= w.start, incidents.c.first_at < w.end)
                        .order_by(incidents.c.ticket_count.desc()).limit(20)).all()
    return [{"incident_id": r.incident_id, "title": scrub_text(r.title), "ticket_count": r.ticket_count,
             "team": r.team, "state": r.state, "first_at": r.first_at, "last_at": r.last_at} for r in rows]


def _compensation(conn: Connection, w: Window) -> dict[str, Any]:
    """Compensations granted in the window (`compensated` events): count, total 元, by team, how many approved."""
    q = (select(ticket_events.c.data, tickets.c.team).join(tickets, tickets.c.ticket_id == ticket_events.c.ticket_id)
         .where(ticket_events.c.kind == "compensated", ticket_events.c.at >= w.start, ticket_events.c.at < w.end))
    total, by_team, approved, count = Decimal(0), Counter[str](), 0, 0
    for data, team in conn.execute(q):
        amount = Decimal(str((data or {}).get("amount") or 0))
        total += amount
        count += 1
        by_team[team or "unrouted"] += 1
        approved += 1 if (data or {}).get("request") else 0
    return {"count": count, "total": str(total), "approved_above_limit": approved, "by_team": dict(by_team)}


def compute(conn: Connection, w: Window, *, hourly_trend: bool) -> dict[str, Any]:
    """All report tables for window `w` as plain dicts/lists (JSON-friendly after str() of datetimes)."""
    rows = _complaints(conn, w)
    cur = [r for r in rows if w.has(r.received_at)]
    prev = [r for r in rows if w.previous.has(r.received_at)]
    kw_now, kw_prev = _keywords(cur), _keywords(prev)
    keywords = [{"keyword": k, "count": c, "previous": kw_prev.get(k, 0), "delta": c - kw_prev.get(k, 0)}
                for k, c in kw_now.most_common(15)]
    growing = sorted(((k, c, kw_prev.get(k, 0)) for k, c in kw_now.items() if c >= 2 and c > kw_prev.get(k, 0) * 1.5),
                     key=lambda x: (-(x[1] - x[2]), -x[1], x[0]))[:10]
    rising = [{"keyword": k, "count": c, "previous": p, "delta": c - p,
               "growth": round((c - p) / p, 2) if p else None} for k, c, p in growing]
    repeats = sum(1 for r in cur if (r.repeat_count or 0) > 0)
    satisfaction, survey_grades = _satisfaction(conn, w, rows)
    return {
        "window": {"start": w.start, "end": w.end, "timezone": str(SHANGHAI)},
        "totals": {"received": len(cur), "previous": len(prev),
                   "change": round((len(cur) - len(prev)) / len(prev), 4) if prev else None,
                   "resolved": sum(1 for r in rows if w.has(r.resolved_at)),
                   "open_now": sum(1 for r in cur if r.status in {s.value for s in OPEN_STATUSES})},
        "by_source": dict(Counter(r.source for r in cur).most_common()),
        "by_category": dict(Counter(r.category or "unclassified" for r in cur).most_common()),
        "by_team": dict(Counter(r.team or "unrouted" for r in cur).most_common()),
        "by_urgency": dict(Counter(r.urgency or "general" for r in cur).most_common()),
        "by_line_reason": _line_by_reason(cur),
        "needs_review": sum(1 for r in cur if r.needs_review),
        "survey": survey_grades,
        "kpi": {"first_response_rate": _clock_rate(conn, "first_response", w),
                "resolution_sla_rate": _clock_rate(conn, "resolution", w),
                "satisfaction_rate": satisfaction,
                "repeat_rate": _rate(repeats, len(cur))},
        "trend": _trend(rows, w, hourly_trend),
        "trend_previous": _trend(rows, w.previous, hourly_trend),
        "keywords": keywords, "rising": rising,
        "overdue": _overdue(conn, w.end), "incidents": _incidents(conn, w),
        "compensation": _compensation(conn, w),
    }
