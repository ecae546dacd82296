"""NORMALISE on SQLite and PostgreSQL: tickets, quarantine, replay after a fix, SMS sorting, cases."""

from __future__ import annotations

import shutil
from datetime import timedelta

from sqlalchemy import select

from core.schema import RawRecord, make_ticket_id
from core.settings import PROJECT_ROOT
from hub.mapping import load_mappings
from hub.pipeline.enrich import EnrichStats, enrich_and_route
from hub.pipeline.normalise import normalise_pending, replay_quarantine
from hub.store import landing
from hub.store import quarantine as q
from hub.store.tables import raw_records
from hub.store.tickets import get_events, get_ticket
from tests.mapping.helpers import EXT_KEY, raw, samples


def _land(store, records: list[RawRecord]) -> None:  # noqa: ANN001
    by: dict[str, list[RawRecord]] = {}
    for r in records:
        by.setdefault(r.source, []).append(r)
    for src, rs in by.items():
        landing.land(store, src, rs, None)


def _ingest(store) -> EnrichStats:  # noqa: ANN001
    """NORMALISE then ENRICH (where duplicates and repeats are linked), as the sync flow does."""
    return enrich_and_route(store, normalise_pending(store).changed_ids)


def _states(store) -> dict[str, str]:  # noqa: ANN001
    with store.begin() as conn:
        return {r.external_id: r.state for r in conn.execute(select(raw_records))}


def test_round_trip_quarantine_and_sms_sorting(store):  # noqa: ANN001
    good = [raw(s, p) for s in EXT_KEY for p in samples(s)]
    broken = samples("app")[0] | {"id": "FB-BAD-1", "created_at": "2026-13-45 25:61:00"}
    _land(store, [*good, raw("app", broken)])
    stats = normalise_pending(store, batch=4)  # several batches, one bad record among them
    assert stats.seen == 12 and stats.created == 9 and stats.quarantined == 1 and stats.ignored == 2
    assert stats.per_source["sms"]["ignored"] == 2 and stats.per_source["app"]["quarantined"] == 1
    assert len(stats.changed_ids) == 9
    doc = stats.as_dict()  # what the flows read
    assert doc["created_ids"] == stats.created_ids and doc["per_source"]["app"]["created"] == 2
    states = _states(store)
    assert states["MO20261120103100002"] == "survey_reply" and states["MO20261120103100003"] == "unsubscribe"
    assert states["FB-BAD-1"] == "quarantined" and states["FB202611200001"] == "normalised"
    with store.begin() as conn:
        t = get_ticket(conn, make_ticket_id("app", "FB202611200001"))
        rows = q.list_open(conn)
    assert t is not None and t.customer.phone.reveal() == "13912345678" and t.customer.elderly
    assert t.mapping_version == load_mappings().version("app")
    assert len(rows) == 1 and rows[0].field.startswith("received_at") and "not a date" in rows[0].reason
    assert rows[0].mapping_version == t.mapping_version
    # nothing left to do: a rerun sees nothing
    assert normalise_pending(store).seen == 0


def test_same_record_again_updates_with_event(store):  # noqa: ANN001
    p = samples("callcenter")[0]
    _land(store, [raw("callcenter", p)])
    normalise_pending(store)
    _land(store, [raw("callcenter", p | {"status": "40", "updated": "2026-11-21 09:00:00"})])
    stats = normalise_pending(store)
    tid = make_ticket_id("callcenter", p["order_no"])
    assert stats.updated == 1 and stats.updated_ids == [tid] and stats.created == 0
    with store.begin() as conn:
        t = get_ticket(conn, tid)
        kinds = [e.kind for e in get_events(conn, tid)]
    assert t.handling.source_status == "已办结" and kinds.count("updated") == 1


def test_replay_after_mapping_fix(store, tmp_path, monkeypatch):  # noqa: ANN001
    mdir = tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "mappings", mdir)
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(mdir))
    from core.configfile import reload_config

    reload_config()
    try:
        p = samples("callcenter")[0] | {"order_no": "WO-NEWCODE", "status": "50"}  # a status the mapping lacks
        _land(store, [raw("callcenter", p)])
        stats = normalise_pending(store)
        assert stats.quarantined == 1
        with store.begin() as conn:
            (entry,) = q.list_open(conn)
        assert entry.field.startswith("handling.source_status") and "unknown code" in entry.reason
        # replay before the fix: still quarantined, one more attempt
        again = replay_quarantine(store)
        assert again.quarantined == 1 and again.created == 0
        with store.begin() as conn:
            assert q.get(conn, entry.id).attempts == 2
        # the fix: add the code, bump the version
        y = mdir / "callcenter.yaml"
        y.write_text(y.read_text(encoding="utf-8").replace('"90": 撤销}', '"90": 撤销, "50": 已回访}')
                     .replace("version: 1", "version: 2"), encoding="utf-8")
        fixed = replay_quarantine(store, ids=[entry.id])
        assert fixed.created == 1 and fixed.quarantined == 0
        with store.begin() as conn:
            t = get_ticket(conn, make_ticket_id("callcenter", "WO-NEWCODE"))
            assert q.get(conn, entry.id).state == "replayed" and q.count_open(conn) == 0
        assert t.handling.source_status == "已回访" and t.mapping_version.startswith("callcenter@2+")
        assert _states(store)["WO-NEWCODE"] == "normalised"
    finally:
        reload_config()


def test_cross_channel_duplicates_share_a_case(store):  # noqa: ANN001
    sms = samples("sms")[0]  # 10:31 盗刷 5000, mobile 13812345678
    cc = samples("callcenter")[0] | {"created": "2026-11-20 11:02:00"}  # same phone, same matter, later
    app = samples("app")[0] | {"id": "FB-OTHER", "created_at": "2026-11-20T12:00:00+08:00",
                               "user": samples("app")[0]["user"] | {"mobile": "13812345678"}}  # same phone, login issue
    far = samples("sms")[0] | {"mo_id": "MO-LATER", "received_at": "2026-12-05 10:00:00"}  # outside the 7-day window
    _land(store, [raw("sms", sms), raw("app", app), raw("sms", far)])
    _ingest(store)
    _land(store, [raw("callcenter", cc)])  # arrives in a later batch: candidates come from the store
    assert _ingest(store).linked == 2
    ids = {k: make_ticket_id(s, e) for k, s, e in (("sms", "sms", sms["mo_id"]), ("cc", "callcenter", cc["order_no"]),
                                                    ("app", "app", "FB-OTHER"), ("far", "sms", "MO-LATER"))}
    with store.begin() as conn:
        t = {k: get_ticket(conn, v) for k, v in ids.items()}
        linked_events = [e for e in get_events(conn, ids["cc"]) if e.kind == "linked"]
    assert t["sms"].case_id == t["cc"].case_id == "C" + ids["sms"][1:]
    assert t["cc"].case_link.primary_ticket_id == ids["sms"] and t["cc"].case_link.linked_to == ids["sms"]
    assert t["cc"].case_link.score >= 0.5 and "cross-channel" in t["cc"].case_link.reason
    assert t["cc"].judgement.repeat_count == 1 and t["sms"].judgement.repeat_count == 0
    assert t["app"].case_id is None and t["far"].case_id is None
    assert linked_events and linked_events[0].data["case_id"] == t["sms"].case_id
    # idempotent: the same matter again (a source status change) links nothing new
    _land(store, [raw("callcenter", cc | {"status": "20"})])
    assert _ingest(store).linked == 0


def test_earlier_ticket_becomes_primary(sqlite_store):  # noqa: ANN001
    cc = samples("callcenter")[0] | {"created": "2026-11-20 11:02:00"}
    _land(sqlite_store, [raw("callcenter", cc)])
    _ingest(sqlite_store)
    sms = samples("sms")[0]  # received earlier (10:31) but landed later (backfill)
    _land(sqlite_store, [raw("sms", sms)])
    _ingest(sqlite_store)
    with sqlite_store.begin() as conn:
        a = get_ticket(conn, make_ticket_id("sms", sms["mo_id"]))
        b = get_ticket(conn, make_ticket_id("callcenter", cc["order_no"]))
    assert a.case_id == b.case_id is not None
    assert a.case_link.primary_ticket_id == b.case_link.primary_ticket_id == a.ticket_id
    assert (a.judgement.repeat_count, b.judgement.repeat_count) == (0, 1)
    assert b.received_at - a.received_at == timedelta(minutes=31)
