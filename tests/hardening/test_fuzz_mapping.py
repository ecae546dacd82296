"""Fuzzing NORMALISE: 10k generated records, a share of them corrupted at random → no crash.

Every record ends in exactly one state (normalised, quarantined, or sorted as a
survey reply / unsubscribe); every record the generator made malformed, and every
record whose corruption the mapping could not absorb, is quarantined with a field
and a reason. Corruptions are drawn by hypothesis (values of every JSON shape put
into real payload keys, keys dropped), so the mapping engine meets shapes its
authors did not write for, through the same `normalise_pending` the flows call.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.schema import RawRecord
from hub.pipeline.normalise import normalise_pending
from hub.store.landing import land
from hub.store.tables import quarantine, raw_records, tickets
from sandbox.generator import generate_records_with_truth

N = 10_000
DONE_STATES = {"normalised", "quarantined", "survey_reply", "unsubscribe"}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=30), st.sampled_from(["", " ", "２０２６-１１-２０", "2026-02-30 10:00:00",
                                                          "-1", "1e309", "NaN", "¥-0.00", "\x00", "𝟙𝟛𝟠",
                                                          "13812345678", "null", "[]", "{}"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


def _corrupt(payload: dict[str, Any], rnd: random.Random, pool: list[Any]) -> dict[str, Any]:
    p = dict(payload)
    for key in rnd.sample(sorted(p), k=min(len(p), rnd.randint(1, 3))):
        if rnd.random() < 0.3:
            del p[key]
        else:
            p[key] = rnd.choice(pool)
    if rnd.random() < 0.2:
        p[rnd.choice(["extra", "__proto__", "用户", ""])] = rnd.choice(pool)
    return p


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(pool=st.lists(values, min_size=200, max_size=200))
def test_10k_generated_records_never_crash_and_bad_ones_are_quarantined(pool, tmp_path_factory) -> None:  # noqa: ANN001
    from hub.store.db import Store

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz-map') / 'hub.db'}")
    store.upgrade()
    records, truth = generate_records_with_truth(11, N, malformed_rate=0.05)
    rnd = random.Random(5)
    corrupted: set[tuple[str, str]] = set()
    by_source: dict[str, list[RawRecord]] = {}
    for (src, ext, payload) in records:
        if rnd.random() < 0.2:  # one record in five gets random junk in real keys
            payload = _corrupt(payload, rnd, pool)
            corrupted.add((src, ext))
        by_source.setdefault(src, []).append(RawRecord(source=src, external_id=ext, payload=payload))
    for src, recs in by_source.items():
        for i in range(0, len(recs), 1000):
            land(store, src, recs[i:i + 1000], {"page": i})

    stats = normalise_pending(store)  # must not raise

    with store.begin() as conn:
        raws = conn.execute(select(raw_records.c.id, raw_records.c.source, raw_records.c.external_id,
                                   raw_records.c.state, raw_records.c.ticket_id)).all()
        q = {r.raw_id: r for r in conn.execute(select(quarantine))}
        n_tickets = conn.execute(select(tickets.c.ticket_id)).all()
    states = Counter(r.state for r in raws)
    print(f"\nfuzz: {len(raws)} raw versions, states {dict(states)}, corrupted {len(corrupted)}, "
          f"quarantined {stats.quarantined}, tickets {len(n_tickets)}")
    assert len(raws) >= N * 0.95  # a few generated versions may repeat a key; none vanish
    assert set(states) <= DONE_STATES, f"records left unprocessed: {states}"
    # every quarantined raw has exactly one quarantine row with a field and a non-empty reason
    for r in raws:
        if r.state == "quarantined":
            row = q.get(r.id)
            assert row is not None and row.reason.strip() and row.field, (r.source, r.external_id)
        if r.state == "normalised":
            assert r.ticket_id
    assert set(q) <= {r.id for r in raws if r.state == "quarantined"}
    # the generator's malformed records that were not re-corrupted must all be quarantined
    bad = {(t["source"], t["external_id"]) for t in truth if t.get("malformed")} - corrupted
    state_of = {(r.source, r.external_id): r.state for r in raws}
    missed = sorted(k for k in bad if state_of.get(k) not in ("quarantined", None))
    assert bad and not missed, f"malformed records not quarantined: {missed[:10]}"
    assert stats.quarantined >= len(bad)
    # the corrupted ones: mapped or quarantined, never silently dropped
    assert all(state_of.get(k) in DONE_STATES for k in corrupted)
    store.dispose()
