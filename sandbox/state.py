"""The simulation behind the five systems: the generator, the simulated clock and the source side.

`SandboxState` is the `Store` the systems' routes read and write, plus what
makes it move: the backlog at start, arrivals and source-side updates as the
clock advances, scheduled events, and the admin operations (inject, generate,
burst, reset). Where systems differ it asks their `SimulatedSystem`
(sandbox.systems.SYSTEMS); it names none of them.
"""

from __future__ import annotations

import heapq
import itertools
import random
from datetime import datetime, timedelta
from typing import Any

from sandbox import texts
from sandbox.faults import initial_faults
from sandbox.generator import SHANGHAI, Generator, GenRecord
from sandbox.store import Rec, Session, Store
from sandbox.systems import SOURCES, SYSTEMS

BACKLOG_DAYS = 3
UPDATE_SHARE = 0.15  # source-side updates per new complaint
# Which system a source-side update lands on: each key as often as its `update_weight`, in registry order
# (the draw picks by position, so this order is part of every seed's outcome).
UPDATE_TARGETS = tuple(s.key for s in SYSTEMS.values() for _ in range(s.update_weight))
EVENT_HANDLERS = {kind: handler for s in SYSTEMS.values() for kind, handler in s.events.items()}

__all__ = ["SandboxState", "Rec", "Session", "Store", "SHANGHAI"]


class SandboxState(Store):
    """Records, writes, truth, sessions, faults and the clock of one sandbox."""

    def __init__(self, *, seed: int = 1, rate: float = 60, backlog: int = 50, start: datetime | None = None,
                 faults: dict[str, Any] | None = None, burst_size: int = 200, burst_at_minutes: float | None = None,
                 malformed_rate: float = 0.02, survey_reply_prob: float = 0.6,
                 survey_answers: dict[str, float] | None = None) -> None:
        super().__init__()
        self.seed, self.rate, self.backlog_n = seed, rate, backlog
        start = start or datetime.now(SHANGHAI).replace(second=0, microsecond=0)
        if start.tzinfo is None:
            start = start.replace(tzinfo=SHANGHAI)
        self.start = start.astimezone(SHANGHAI)
        self.fault_spec, self.burst_size, self.burst_at_minutes = faults, burst_size, burst_at_minutes
        self.malformed_rate, self.survey_reply_prob = malformed_rate, survey_reply_prob
        #: {reply text: weight} of simulated survey answers (None: the default mix of systems/sms.py)
        self.survey_answers = survey_answers
        self.reset()

    # -- lifecycle -------------------------------------------------------------
    def reset(self) -> None:
        """Regenerate everything from the seed; writes, sessions and faults start over."""
        with self.lock:
            self.now = self.start
            self.gen = Generator(self.seed, malformed_rate=self.malformed_rate)
            self.arrival_rng = random.Random(self.seed * 31 + 7)
            self.resp_rng = random.Random(self.seed * 7919 + 1)
            self.misc_rng = random.Random()
            self.clear(SOURCES, {key: initial_faults(key, self.fault_spec, self.malformed_rate, system.session_ttl)
                                 for key, system in SYSTEMS.items()})
            self._seq = itertools.count(1)
            self._incidents = itertools.count(1)
            self.gen.malformed_rates = {s: f.malformed_rate for s, f in self.faults.items()}
            self._generate_backlog()
            if self.burst_at_minutes is not None:
                self._schedule_burst(self.start + timedelta(minutes=self.burst_at_minutes), self.burst_size, 30)

    def _generate_backlog(self) -> None:
        span = BACKLOG_DAYS * 86400
        times = sorted(self.start - timedelta(seconds=self.arrival_rng.uniform(60, span))
                       for _ in range(self.backlog_n))
        for at in times:
            self.add(self.gen.next_record(at))
        for key, system in SYSTEMS.items():
            # Part of the backlog is already being handled at the source.
            if system.handling_status is not None:
                for r in self.listing(key)[::5]:
                    system.set_status(r, system.handling_status, self.start - timedelta(minutes=5))
            if system.after_backlog is not None:
                system.after_backlog(self.listing(key), self.start)

    # -- records -----------------------------------------------------------------
    def add(self, g: GenRecord) -> Rec:
        """Hold a generated record on its system (and its truth entry)."""
        with self.lock:
            rec = Rec(g.source, g.external_id, g.payload, g.truth, g.created, g.updated, next(self._seq))
            rec.updated = SYSTEMS[g.source].stamp(rec.updated)
            self.records[g.source][g.external_id] = rec
            self.truth_list.append(g.truth)
            return rec

    def touch(self, rec: Rec, at: datetime | None = None) -> None:
        """Mark a record changed (now, unless `at`), the way its system shows a change."""
        SYSTEMS[rec.source].touch(rec, at or self.now)

    # -- clock -----------------------------------------------------------------------
    def advance(self, minutes: float) -> int:
        """Move the simulated clock; returns how many new records arrived."""
        with self.lock:
            target = self.now + timedelta(minutes=minutes)
            count = 0
            per_sec = self.rate * (1 + UPDATE_SHARE) / 3600
            t = self.now
            arrivals: list[datetime] = []
            if per_sec > 0:
                while True:
                    t = t + timedelta(seconds=self.arrival_rng.expovariate(per_sec))
                    if t > target:
                        break
                    arrivals.append(t)
            ai = 0
            while True:
                next_arrival = arrivals[ai] if ai < len(arrivals) else None
                next_event = self.events[0][0] if self.events and self.events[0][0] <= target else None
                if next_arrival is None and next_event is None:
                    break
                if next_event is not None and (next_arrival is None or next_event <= next_arrival):
                    at, _, kind, data = heapq.heappop(self.events)
                    self.now = max(self.now, at)
                    count += self._run_event(kind, data)
                    continue
                ai += 1
                assert next_arrival is not None  # no event came first, so an arrival did
                self.now = next_arrival
                if self.arrival_rng.random() < UPDATE_SHARE / (1 + UPDATE_SHARE):
                    self._source_update()
                else:
                    self.gen.malformed_rates = {s: f.malformed_rate for s, f in self.faults.items()}
                    self.add(self.gen.next_record(self.now))
                    count += 1
            self.now = target
            return count

    def _schedule_burst(self, at: datetime, size: int, minutes: float) -> str:
        incident = f"B{next(self._incidents)}"
        for _ in range(size):
            self.schedule(at + timedelta(seconds=self.resp_rng.uniform(0, minutes * 60)), "burst", {"incident": incident})
        return incident

    def burst(self, size: int, minutes: float = 30) -> str:
        """Schedule a mass-fault burst of `size` complaints over the next `minutes`; returns its incident id."""
        with self.lock:
            return self._schedule_burst(self.now, size, minutes)

    def _run_event(self, kind: str, data: dict[str, Any]) -> int:
        """Run one scheduled event; returns how many records it added."""
        if kind == "burst":
            self.add(self.gen.burst_record(self.now, data["incident"]))
            return 1
        if kind == "message":  # a customer's answer to a survey a system sent (data["source"])
            g = self.gen.message(data["source"], self.now, data["mobile"], data["content"], data["kind"],
                                 answer=data.get("answer"), reply_to_out_id=data.get("reply_to_out_id"))
            if data["kind"] == "unsubscribe":
                self.unsubscribed.add(data["mobile"])
            self.add(g)
            return 1
        handler = EVENT_HANDLERS.get(kind)
        if handler is not None:
            handler(self, data)
        return 0

    def _source_update(self) -> None:
        """A change made at the source: supplement, withdrawal or status move (the system's `source_update`)."""
        rng = self.arrival_rng
        src = rng.choice(UPDATE_TARGETS)
        recs = [r for r in self.records[src].values() if not r.truth["malformed"] and not r.truth.get("closed")]
        if not recs:
            return
        rec = recs[rng.randrange(len(recs))]
        # The roll is drawn before the rule looks at the record, so every rule sees the same stream.
        roll = rng.random()
        rec.truth.setdefault("updates", [])
        rule = SYSTEMS[src].source_update
        tag = rule(rec, roll, rng, self.now) if rule is not None else None
        if tag is not None:
            rec.truth["updates"].append(tag)

    # -- admin operations ---------------------------------------------------------------
    def generate(self, n: int, source: str | None = None) -> list[tuple[str, str]]:
        """`n` new complaints now (on `source`, or mixed)."""
        with self.lock:
            out = []
            for _ in range(n):
                rec = self.add(self.gen.complaint(self.now, source) if source else self.gen.next_record(self.now))
                out.append((rec.source, rec.key))
            return out

    def inject(self, source: str, fields: dict[str, Any] | None = None, kind: str = "complaint",
               malformed: bool = False) -> str:
        """Add one record now; `fields` override payload keys.

        On a system that carries customer messages (`SimulatedSystem.message`), a
        `content` that reads as a survey answer or an unsubscribe, or a `kind`
        other than "complaint", makes that message instead of a complaint.
        """
        fields = dict(fields or {})
        with self.lock:
            carries_messages = SYSTEMS[source].message is not None
            if carries_messages and "content" in fields and kind == "complaint":
                content = str(fields["content"]).strip()
                if content in texts.SURVEY_SATISFIED + texts.SURVEY_DISSATISFIED:
                    kind = "survey_reply"
                elif content.upper() in texts.UNSUBSCRIBE or content in texts.UNSUBSCRIBE:
                    kind = "unsubscribe"
            if carries_messages and kind != "complaint":
                mobile = str(fields.get("mobile") or self.gen.customer(self.now.year).mobile)
                content = str(fields.get("content", "1"))
                answer = None
                if kind == "survey_reply":
                    answer = "satisfied" if content in texts.SURVEY_SATISFIED else "dissatisfied"
                else:
                    self.unsubscribed.add(mobile)
                g = self.gen.message(source, self.now, mobile, content, kind, answer=answer,
                                     reply_to_out_id=fields.get("reply_to_out_id"))
            else:
                g = self.gen.complaint(self.now, source, malformed=malformed)
            g.payload.update(fields)
            rec = self.add(g)
            if fields:
                rec.truth["injected_fields"] = sorted(fields)
            return rec.key

    def expire_sessions(self, source: str | None = None) -> int:
        """Expire all portal sessions and API tokens (or one source's); returns how many."""
        with self.lock:
            gone = [k for k, s in self.sessions.items() if source in (None, s.source)]
            for k in gone:
                del self.sessions[k]
            n = len(gone)
            system = SYSTEMS.get(source) if source is not None else None
            if source is None or (system is not None and system.issues_tokens):
                n += len(self.tokens)
                self.tokens.clear()
            return n
