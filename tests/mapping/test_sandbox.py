"""Against the sandbox generator's records and ground truth (`generate_records_with_truth`)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import select

from core.schema import RawRecord
from core.settings import PROJECT_ROOT
from hub.judge.intents import survey_satisfied
from hub.mapping import load_mappings
from hub.pipeline.enrich import enrich_and_route
from hub.pipeline.normalise import normalise_pending
from hub.store import landing
from hub.store.tables import raw_records, tickets

generator = pytest.importorskip("sandbox.generator")


@pytest.fixture(scope="module")
def generated():  # noqa: ANN201
    return generator.generate_records_with_truth(11, 2000)


def test_all_five_mappings_map_or_quarantine_exactly_the_malformed(generated):  # noqa: ANN001
    records, truth = generated
    ms = load_mappings(PROJECT_ROOT / "mappings", require_all=True)
    by_key = {(t["source"], t["external_id"]): t for t in truth}
    seen_sources, malformed = set(), 0
    for source, ext, payload in records:
        t = by_key[(source, ext)]
        out = ms.map(RawRecord(source=source, external_id=ext, payload=payload))
        seen_sources.add(source)
        if t["malformed"]:
            malformed += 1
            assert out.failure is not None, (source, ext, t["malformed_field"])
            # the reason names the field the sandbox broke (or the id key it removed)
            assert t["malformed_field"] in out.failure.field, (out.failure, t["malformed_field"])
        else:
            assert out.failure is None, (source, ext, out.failure)
            assert out.kind.value == t["kind"], (source, ext)
            assert out.unknown_fields == ()
            if out.ticket and t["edge"]:
                assert "<script" not in out.ticket.matter.content
            if out.ticket and out.ticket.customer.elderly:
                assert t["elderly"], (source, ext)  # derived from the ID/age, never guessed
            if t["kind"] == "survey_reply" and t["answer"]:
                assert survey_satisfied(payload["content"]) is (t["answer"] == "satisfied"), payload["content"]
    assert seen_sources == {"gov12315", "blackcat", "app", "sms", "callcenter"} and malformed > 10


def test_cross_channel_duplicates_end_up_in_one_case(sqlite_store, generated):  # noqa: ANN001
    records, truth = generated
    by_src: dict[str, list[RawRecord]] = defaultdict(list)
    for s, e, p in records:
        by_src[s].append(RawRecord(source=s, external_id=e, payload=p))
    for s, rs in by_src.items():
        landing.land(sqlite_store, s, rs, None)
    stats = normalise_pending(sqlite_store, batch=500)
    enrich_and_route(sqlite_store, stats.changed_ids)  # ENRICH links duplicates and repeats into cases
    by_key = {(t["source"], t["external_id"]): t for t in truth}
    assert stats.quarantined == sum(t["malformed"] for t in truth)
    assert stats.ignored == sum(t["kind"] != "complaint" and not t["malformed"] for t in truth)
    with sqlite_store.begin() as conn:
        rows = conn.execute(select(tickets.c.source, tickets.c.external_id, tickets.c.case_id,
                                   tickets.c.phone_hash, tickets.c.repeat_count)).all()
        states = {r.state for r in conn.execute(select(raw_records.c.state))}
    assert states <= {"normalised", "quarantined", "survey_reply", "unsubscribe"}
    matters: dict[tuple[str, str], list] = defaultdict(list)
    for r in rows:
        t = by_key[(r.source, r.external_id)]
        matters[(t["customer_key"], t["matter_key"])].append(r)
    linked = missed = 0
    for rs in matters.values():
        first = rs[0]
        for r in rs[1:]:
            if first.phone_hash is None or r.phone_hash is None:
                continue  # nothing to match on (a 黑猫 user who shared no phone)
            if first.case_id and first.case_id == r.case_id:
                linked += 1
            else:
                missed += 1
    cases: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.case_id:
            cases[r.case_id].add(by_key[(r.source, r.external_id)]["matter_key"])
    over_merged = sum(len(m) - 1 for m in cases.values())
    assert linked > 50 and linked / (linked + missed) >= 0.9, (linked, missed)
    assert over_merged / max(1, linked) <= 0.25, (over_merged, linked)
    assert any(r.repeat_count > 0 for r in rows)
