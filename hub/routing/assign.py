"""Choosing a handler inside a team, for a whole batch at once.

The store is read once per batch: round-robin positions (`team_state`), open
tickets per handler (least_loaded; kept as tickets are written) and the
customers' earlier tickets (sticky 首接责任 and repeat counts). Choices made in
the batch update those in memory, so the batch behaves as if routed one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from core.schema import RiskLevel, Ticket
from hub.routing.rules import Assignment
from hub.store.handler_load import fold_log, open_load
from hub.store.recent import recent_rows
from hub.store.sql import chunks, upsert
from hub.store.tables import team_state, tickets
from hub.teams import Handler, Team, TeamsConfig


@dataclass
class Choice:
    """The handler picked for a ticket (None: left in the team queue), why, and the signals used."""

    handler: str | None
    reason: str
    matched: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Prior:
    """An earlier ticket of the same customer or case."""

    ticket_id: str
    received_at: datetime
    team: str | None
    handler: str | None
    first_handler: str | None
    sub_category: str | None


def on_duty(team: Team, h: Handler, at: datetime) -> bool:
    """Is the handler on duty at `at` (own window, else the team's)?"""
    return (h.on_duty or team.on_duty).covers(at)


class Assigner:
    """Handler choice for one batch: load state, pick per ticket, save state."""

    def __init__(self, teams: TeamsConfig, rules: Assignment, now: datetime):
        self.teams, self.rules, self.now = teams, rules, now
        self.rr: dict[str, int] = {}
        self.load: dict[tuple[str, str], int] = {}
        self.by_phone: dict[str, list[Prior]] = {}
        self.by_case: dict[str, list[Prior]] = {}
        self.known: dict[str, Prior] = {}

    # --- reading the store (once per batch) -------------------------------------------
    def load_state(self, conn: Connection) -> None:
        """Round-robin positions and open-ticket counts of every team (two small reads: the
        counts are kept by the store, `hub.store.handler_load`, not counted per batch)."""
        for r in conn.execute(select(team_state.c.team, team_state.c.rr_index)):
            self.rr[r.team] = r.rr_index
        fold_log(conn)  # PostgreSQL: keeps the unfolded log (what readers add up) short
        self.load.update(open_load(conn))

    def load_history(self, conn: Connection, batch: Sequence[Ticket]) -> None:
        """Earlier tickets of the batch's customers (phone hash; the most recent `history_limit`
        of each) and cases."""
        phones = {t.customer.phone_hash for t in batch if t.customer.phone_hash}
        cases = sorted({t.case_id for t in batch if t.case_id})
        since = self.now - timedelta(days=self.rules.sticky_days)
        cols = (tickets.c.ticket_id, tickets.c.received_at, tickets.c.team, tickets.c.handler,
                tickets.c.first_handler, tickets.c.sub_category, tickets.c.phone_hash, tickets.c.case_id)
        complaint = tickets.c.kind == "complaint"
        rows = recent_rows(conn, tickets.c.phone_hash, phones, cols, since, None, self.rules.history_limit,
                           [complaint])
        for cs in chunks(cases, 400):
            rows += conn.execute(select(*cols).where(tickets.c.case_id.in_(cs), tickets.c.received_at >= since,
                                                     complaint)).all()
        remember = self._remember
        for tid, at, team, handler, first, sub, phone, case in rows:  # unpacked: named access on a Row costs
            remember(tid, at, team, handler, first, sub, phone, case)  # ~4 µs a row; 15k rows at 1M stored

    def _remember(self, tid: str, at: datetime, team: str | None, handler: str | None, first: str | None,
                  sub: str | None, phone: str | None, case: str | None) -> Prior:
        p = self.known.get(tid)
        if p is None:
            p = self.known[tid] = Prior(tid, at, team, handler, first, sub)
            if phone:
                self.by_phone.setdefault(phone, []).append(p)
            if case:
                self.by_case.setdefault(case, []).append(p)
        return p

    # --- repeats and sticky ---------------------------------------------------------------
    def repeats(self, t: Ticket) -> int:
        """Earlier complaints of the same case, or of the same customer about the same sub-category."""
        ids = {p.ticket_id for p in self.by_case.get(t.case_id or "", []) if p.received_at < t.received_at}
        ids |= {p.ticket_id for p in self.by_phone.get(t.customer.phone_hash or "", [])
                if p.received_at < t.received_at and p.sub_category == t.judgement.sub_category}
        ids.discard(t.ticket_id)
        return len(ids)

    def register(self, t: Ticket) -> None:
        """Count a batch ticket in the history (for repeats and sticky) before it is routed."""
        p = self._remember(t.ticket_id, t.received_at, t.handling.team, t.handling.handler,
                           t.handling.first_handler, t.judgement.sub_category, t.customer.phone_hash, t.case_id)
        p.sub_category = t.judgement.sub_category

    def record(self, t: Ticket) -> None:
        """A ticket of this batch was routed: later tickets of its customer stick to it; load grows."""
        h = t.handling
        p = self._remember(t.ticket_id, t.received_at, h.team, h.handler, h.first_handler,
                           t.judgement.sub_category, t.customer.phone_hash, t.case_id)
        p.team, p.handler, p.first_handler = h.team, h.handler, h.first_handler
        if h.team and h.handler:
            self.load[(h.team, h.handler)] = self.load.get((h.team, h.handler), 0) + 1

    def _sticky(self, t: Ticket, team: Team) -> Choice | None:
        if not self.rules.sticky:
            return None
        for what, key, lst in (("case", t.case_id, self.by_case), ("customer", t.customer.phone_hash, self.by_phone)):
            if not key:
                continue
            earlier = sorted((p for p in lst.get(key, []) if p.ticket_id != t.ticket_id and p.team == team.id
                              and (p.first_handler or p.handler) and p.received_at <= t.received_at),
                             key=lambda p: p.received_at)
            for p in earlier:
                hid = p.first_handler or p.handler
                h = team.handler(hid or "")
                if h is None:
                    continue
                if not on_duty(team, h, self.now):
                    return None  # the owner is off duty: a colleague on duty takes it
                return Choice(h.id, f"sticky (首接责任): same {what} as {p.ticket_id}, its first handler",
                              [f"sticky:{what}", p.ticket_id])
        return None

    # --- the choice ----------------------------------------------------------------------
    def pick(self, t: Ticket, team_id: str, skill: str | None) -> Choice:
        """The handler for a ticket routed to `team_id`, with the reason."""
        team = self.teams.team(team_id)
        if not team.handlers:
            return Choice(None, f"team {team_id} has no handlers: left in the team queue")
        sticky = self._sticky(t, team)
        if sticky:
            return sticky
        notes: list[str] = []
        cands = [h for h in team.handlers if on_duty(team, h, self.now)]
        if not cands:
            cands = list(team.handlers)
            notes.append("nobody on duty: queued for the next shift")
        else:
            notes.append(f"{len(cands)} on duty")
        j = t.judgement
        if j.repeat_count >= self.rules.senior_repeats or j.risk_level == RiskLevel.CRITICAL:
            seniors = [h for h in cands if h.senior]
            if seniors:
                cands = seniors
                why = (f"repeats {j.repeat_count} ≥ {self.rules.senior_repeats}"
                       if j.repeat_count >= self.rules.senior_repeats else "critical risk")
                notes.append(f"senior handlers ({why})")
        if skill:
            skilled = [h for h in cands if skill in h.skills]
            if skilled:
                cands = skilled
                notes.append(f"skill {skill}")
        if team.strategy == "round_robin":
            i = self.rr.get(team_id, 0)
            h = cands[i % len(cands)]
            self.rr[team_id] = i + 1
            notes.append(f"round_robin #{i}")
        else:
            h = min(cands, key=lambda c: (self.load.get((team_id, c.id), 0) / max(1, c.capacity),
                                          self.load.get((team_id, c.id), 0)))
            notes.append(f"least_loaded {self.load.get((team_id, h.id), 0)}/{h.capacity} open")
        return Choice(h.id, "; ".join(notes), [team.strategy] + ([f"skill:{skill}"] if skill else []))

    def save_state(self, conn: Connection) -> None:
        """Persist the round-robin positions (one upsert)."""
        rows = [{"team": k, "rr_index": v, "data": {}} for k, v in self.rr.items()]
        if rows:
            conn.execute(upsert(conn, team_state, ["team"], ["rr_index"]), rows)

