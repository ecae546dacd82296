"""Deterministic complaint generator shared by the servers and the offline benchmark path.

`Generator` holds one seeded random stream, the customer pool and the recent
matters (for cross-channel duplicates and repeats). The servers call it as
their clock advances; `generate_records` drives it without any server.
Each channel's share, edge cases, record shape and malformed keys come from
its `SimulatedSystem` (sandbox.systems.SYSTEMS).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate, islice
from typing import Any

from sandbox import texts
from sandbox.channels import SHANGHAI, Matter, Style, corrupt, fmt_sec
from sandbox.people import Customer, make_customer
from sandbox.systems import SOURCES, SYSTEMS

DEFAULT_OFFLINE_START = datetime(2026, 11, 1, 8, 0, tzinfo=SHANGHAI)

CROSS_CHANNEL_SHARE = 0.15
REPEAT_SHARE = 0.03
FREQUENT_SHARE = 0.10


@dataclass
class GenRecord:
    """One generated record: payload as the source shows it, plus ground truth."""

    source: str
    external_id: str
    payload: dict[str, Any]
    truth: dict[str, Any]
    created: datetime
    updated: datetime
    meta: dict[str, Any] = field(default_factory=dict)


class Generator:
    """Seeded generator of customers, matters and channel records."""

    def __init__(self, seed: int, *, malformed_rate: float = 0.02, sources: tuple[str, ...] | None = None,
                 edge_rate: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.malformed_rate = malformed_rate
        #: per-source override (the servers' `malformed_rate` fault)
        self.malformed_rates: dict[str, float] = {}
        self.sources = tuple(sources or SOURCES)
        self.customers: list[Customer] = []
        self.by_mobile: dict[str, Customer] = {}
        self.matters: deque[Matter] = deque(maxlen=400)
        self.seq: dict[str, int] = {s: 0 for s in SOURCES}
        self.matter_seq = 0
        self.edge_rate = edge_rate
        self._topics = list(texts.TOPICS)
        self._topic_cum = list(accumulate(t.weight for t in texts.TOPICS))
        self._mix_cum = list(accumulate(SYSTEMS[s].mix for s in self.sources))
        # The burst draw runs over the channels in `burst_rank` order, as it was first tuned.
        burst = sorted((s for s in SYSTEMS.values() if s.burst_mix and s.key in self.sources),
                       key=lambda s: s.burst_rank)
        self._burst_sources = [s.key for s in burst] or [self.sources[0]]
        self._burst_weights = [s.burst_mix for s in burst] or [1.0]

    # -- people and matters -------------------------------------------------
    def customer(self, year: int) -> Customer:
        """A new customer, or a frequent one (repeat complainers) now and then."""
        n = len(self.customers)
        if n > 20 and self.rng.random() < FREQUENT_SHARE:
            return self.customers[self.rng.randrange(max(1, n // 30))]
        c = make_customer(self.rng, n + 1, year)
        self.customers.append(c)
        self.by_mobile.setdefault(c.mobile, c)
        return c

    def customer_by_mobile(self, mobile: str) -> Customer | None:
        """The first customer known with this mobile (None for a stranger)."""
        return self.by_mobile.get(mobile)

    def new_matter(self, at: datetime, topic: texts.Topic | None = None, incident: str | None = None,
                   customer: Customer | None = None) -> Matter:
        """A new matter (topic drawn by weight unless given) for a new or given customer."""
        rng = self.rng
        topic = topic or rng.choices(self._topics, cum_weights=self._topic_cum)[0]
        amount = None
        if topic.amount != (0, 0):
            lo, hi = topic.amount
            amount = Decimal(rng.randint(lo, hi)) if rng.random() < 0.7 else Decimal(rng.randint(lo * 100, hi * 100)) / 100
        self.matter_seq += 1
        m = Matter(key=f"M{self.matter_seq:06d}", customer=customer or self.customer(at.year), topic=topic,
                   amount=amount, escalation=rng.choice(texts.ESCALATIONS) if rng.random() < 0.12 and not incident else None,
                   created=at, product=rng.choice(topic.product), branch=rng.choice(texts.BRANCHES),
                   city=rng.choice(texts.CITIES), incident=incident)
        self.matters.append(m)
        return m

    def pick_matter(self, at: datetime, source: str) -> tuple[Matter, bool]:
        """A matter for a new complaint on `source`: an old one told again, or a new one."""
        rng = self.rng
        r = rng.random()
        if self.matters and r < CROSS_CHANNEL_SHARE:
            for m in islice(reversed(self.matters), 40):
                if source not in m.channels and at - m.created <= timedelta(hours=8) and not m.incident:
                    return m, True
        elif self.matters and r < CROSS_CHANNEL_SHARE + REPEAT_SHARE:
            m = self.matters[rng.randrange(len(self.matters))]
            if at - m.created >= timedelta(hours=12) and not m.incident:
                return m, True
        return self.new_matter(at), False

    # -- records ---------------------------------------------------------------
    def pick_source(self) -> str:
        """A channel for the next arrival, by the systems' `mix`."""
        return self.rng.choices(self.sources, cum_weights=self._mix_cum)[0] if len(self.sources) > 1 else self.sources[0]

    def style(self, source: str) -> Style:
        """The edge cases of the next record on `source` (only those the channel can carry)."""
        rng, e, edges = self.rng, self.edge_rate, SYSTEMS[source].edges
        # A channel that cannot carry an edge case takes no draw for it: keep the short-circuits.
        return Style(emoji="emoji" in edges and rng.random() < 0.08 * e,
                     long="long" in edges and rng.random() < 0.004 * e,
                     html=rng.random() < 0.006 * e,
                     fullwidth="fullwidth" in edges and rng.random() < 0.05 * e)

    def complaint(self, at: datetime, source: str | None = None, matter: Matter | None = None,
                  malformed: bool | None = None) -> GenRecord:
        """Render one complaint on `source` (chosen by the mix when None)."""
        source = source or self.pick_source()
        reused = False
        if matter is None:
            matter, reused = self.pick_matter(at, source)
        matter.channels.add(source)
        self.seq[source] += 1
        style = self.style(source)
        ext_id, payload = SYSTEMS[source].render(self.rng, matter, at, self.seq[source], style)
        rec = self._record(source, ext_id, payload, at, matter, "complaint", style)
        rec.truth["repeat"] = reused
        self._maybe_corrupt(rec, malformed)
        return rec

    def message(self, source: str, at: datetime, mobile: str, content: str, kind: str, *,
                answer: str | None = None, reply_to_out_id: str | None = None,
                matter_key: str | None = None) -> GenRecord:
        """A customer's text message on `source` that is not a complaint: survey reply or unsubscribe."""
        render = SYSTEMS[source].message
        if render is None:
            raise ValueError(f"{source} carries no customer messages")
        self.seq[source] += 1
        ext_id, payload = render(at, self.seq[source], mobile, content, reply_to_out_id)
        c = self.customer_by_mobile(mobile)
        truth = self._truth(source, ext_id, at, c, matter_key, kind)
        truth.update(answer=answer, reply_to_out_id=reply_to_out_id)
        return GenRecord(source, ext_id, payload, truth, at, at)

    def stray_message(self, at: datetime, source: str) -> GenRecord:
        """An unsolicited survey answer or an unsubscribe from a known customer."""
        c = self.customers[self.rng.randrange(len(self.customers))] if self.customers else self.customer(at.year)
        if self.rng.random() < 0.5:
            sat = self.rng.random() < 0.6
            text = self.rng.choice(texts.SURVEY_SATISFIED if sat else texts.SURVEY_DISSATISFIED)
            return self.message(source, at, c.mobile, text, "survey_reply", answer="satisfied" if sat else "dissatisfied")
        return self.message(source, at, c.mobile, self.rng.choice(texts.UNSUBSCRIBE), "unsubscribe")

    def next_record(self, at: datetime) -> GenRecord:
        """The next ordinary arrival: a complaint, or on a message channel sometimes a stray reply."""
        source = self.pick_source()
        share = SYSTEMS[source].stray_share
        if share and self.rng.random() < share:
            return self.stray_message(at, source)
        return self.complaint(at, source)

    def burst_record(self, at: datetime, incident: str) -> GenRecord:
        """One complaint of a mass fault (APP无法登录), each from its own customer."""
        source = self.rng.choices(self._burst_sources, self._burst_weights)[0]
        matter = self.new_matter(at, topic=texts.APP_LOGIN, incident=incident)
        return self.complaint(at, source, matter=matter)

    # -- helpers -----------------------------------------------------------------
    def _truth(self, source: str, ext_id: str, at: datetime, c: Customer | None, matter_key: str | None,
               kind: str) -> dict[str, Any]:
        return {"source": source, "external_id": ext_id, "customer_key": c.key if c else None,
                "matter_key": matter_key, "kind": kind, "malformed": False, "malformed_field": None,
                "category": None, "subcategory": None, "urgency": None, "escalation": False,
                "elderly": bool(c and c.elderly(at.year)), "incident": None, "edge": [], "answer": None,
                "reply_to_out_id": None, "repeat": False, "created": at.isoformat()}

    def _record(self, source: str, ext_id: str, payload: dict[str, Any], at: datetime, m: Matter, kind: str,
                style: Style) -> GenRecord:
        t = self._truth(source, ext_id, at, m.customer, m.key, kind)
        t.update(category=m.topic.category, subcategory=m.topic.code,
                 urgency="urgent" if m.escalation else m.topic.urgency, escalation=bool(m.escalation),
                 incident=m.incident, edge=style.tags())
        return GenRecord(source, ext_id, payload, t, at, at)

    def _maybe_corrupt(self, rec: GenRecord, malformed: bool | None) -> None:
        if malformed is None:
            malformed = self.rng.random() < self.malformed_rates.get(rec.source, self.malformed_rate)
        if malformed:
            system = SYSTEMS[rec.source]
            rec.truth["malformed"] = True
            rec.truth["malformed_field"] = corrupt(self.rng, system.keys, rec.payload, blank=system.html)


def generate_records_with_truth(seed: int, n: int, sources: list[str] | tuple[str, ...] | None = None, *,
                                malformed_rate: float = 0.02, burst_size: int = 200,
                                start: datetime | None = None) -> tuple[list[tuple[str, str, dict[str, Any]]],
                                                                        list[dict[str, Any]]]:
    """Like `generate_records`, also returning the truth entry of every record (same order)."""
    gen = Generator(seed, malformed_rate=malformed_rate, sources=tuple(sources) if sources else None)
    rng = gen.rng
    at = start or DEFAULT_OFFLINE_START
    burst = min(burst_size, n // 10) if burst_size else 0
    burst = burst if burst >= 5 else 0
    normal = n - burst
    burst_start_index = normal // 2
    records: list[tuple[str, str, dict[str, Any]]] = []
    truth: list[dict[str, Any]] = []
    pending_burst: list[datetime] = []
    emitted_normal = 0

    def emit(rec: GenRecord) -> None:
        records.append((rec.source, rec.external_id, rec.payload))
        truth.append(rec.truth)

    while emitted_normal < normal or pending_burst:
        if burst and emitted_normal == burst_start_index and not pending_burst and len(records) == emitted_normal:
            pending_burst = sorted(at + timedelta(seconds=rng.uniform(0, 1800)) for _ in range(burst))
        nxt = at + timedelta(seconds=rng.expovariate(1 / 60))
        if pending_burst and (pending_burst[0] <= nxt or emitted_normal >= normal):
            bt = pending_burst.pop(0)
            emit(gen.burst_record(bt, "B1"))
            continue
        at = nxt
        emit(gen.next_record(at))
        emitted_normal += 1
    return records, truth


def generate_records(seed: int, n: int, sources: list[str] | tuple[str, ...] | None = None, *,
                     malformed_rate: float = 0.02, burst_size: int = 200,
                     start: datetime | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """`n` records `(source, external_id, payload)` of all five sources (or `sources`), by seed.

    Same content, edge cases, duplicates and malformed rate as the servers; one
    mass-fault burst (`min(burst_size, n // 10)` records, "B1") in the middle.
    """
    return generate_records_with_truth(seed, n, sources, malformed_rate=malformed_rate, burst_size=burst_size,
                                       start=start)[0]


__all__ = ["Generator", "GenRecord", "generate_records", "generate_records_with_truth", "SOURCES", "SHANGHAI",
           "fmt_sec"]
