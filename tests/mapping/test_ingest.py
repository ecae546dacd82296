"""LAND + NORMALISE of a page in one transaction (`hub.pipeline.ingest`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from core.schema import make_ticket_id, utcnow
from hub.pipeline.enrich import enrich_and_route, stranded_ids
from hub.pipeline.ingest import ingest_in
from hub.pipeline.normalise import NormaliseStats, normalise_pending
from hub.store import quarantine as q
from hub.store.landing import get_cursor
from hub.store.tables import raw_records, ticket_events, tickets
from tests.mapping.helpers import raw, samples


def _page():  # noqa: ANN202
    good = [raw("app", p) for p in samples("app")]
    broken = raw("app", samples("app")[0] | {"id": "FB-BAD-1", "created_at": "2026-13-45 25:61:00"})
    return [*good, broken]


def _ingest(store, records, cursor):  # noqa: ANN001, ANN202
    stats = NormaliseStats()
    with store.begin() as conn:
        res = ingest_in(conn, "app", records, cursor, stats=stats)
    return res, stats


def test_a_page_lands_with_final_states_tickets_quarantine_and_cursor(store):  # noqa: ANN001
    page = _page()
    res, stats = _ingest(store, page, {"after": "p1"})
    assert res.seen == res.new == len(page) and stats.created == len(page) - 1 and stats.quarantined == 1
    assert sorted(stats.created_ids) == sorted(make_ticket_id("app", r.external_id) for r in page[:-1])
    with store.begin() as conn:
        states = {r.external_id: (r.state, r.ticket_id) for r in conn.execute(select(raw_records))}
        (entry,) = q.list_open(conn)
        raw_id = conn.execute(select(raw_records.c.id).where(raw_records.c.external_id == "FB-BAD-1")).scalar()
        assert get_cursor(conn, "app") == {"after": "p1"}
        created = conn.execute(select(func.count()).select_from(ticket_events)
                               .where(ticket_events.c.kind == "created")).scalar()
    for r in page[:-1]:
        assert states[r.external_id] == ("normalised", make_ticket_id("app", r.external_id))
    assert states["FB-BAD-1"] == ("quarantined", None)
    assert entry.raw_id == raw_id and entry.field.startswith("received_at") and "not a date" in entry.reason
    assert created == len(page) - 1
    assert normalise_pending(store).seen == 0  # nothing was left for NORMALISE


def test_the_same_page_again_does_nothing(store):  # noqa: ANN001
    _ingest(store, _page(), {"after": "p1"})
    with store.begin() as conn:
        events = conn.execute(select(func.count()).select_from(ticket_events)).scalar()
    res, stats = _ingest(store, _page(), {"after": "p1"})
    assert res.new == 0 and stats.seen == 0
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(ticket_events)).scalar() == events
        assert conn.execute(select(func.count()).select_from(raw_records)).scalar() == len(_page())


def test_a_changed_record_is_a_new_raw_version_and_a_ticket_update(store):  # noqa: ANN001
    p = samples("app")[0]
    _ingest(store, [raw("app", p)], None)
    res, stats = _ingest(store, [raw("app", p | {"status": "resolved"}), raw("app", p)], None)
    assert res.new == 1 and stats.updated == 1 and stats.created == 0
    with store.begin() as conn:
        row = conn.execute(select(tickets).where(tickets.c.external_id == p["id"])).one()
    assert row.data["handling"]["source_status"] == "resolved" and row.version == 2


def test_a_failing_normalise_still_lands_the_page_for_later(sqlite_store):  # noqa: ANN001
    # a real store error on every ticket insert (a trigger), not a mock
    with sqlite_store.begin() as conn:
        conn.execute(text("CREATE TRIGGER no_tickets BEFORE INSERT ON tickets "
                          "BEGIN SELECT RAISE(ABORT, 'tickets are read-only today'); END"))
    page = _page()
    res, stats = _ingest(sqlite_store, page, {"after": "p1"})
    assert res.new == len(page) and stats.created == 0
    with sqlite_store.begin() as conn:
        assert {r.state for r in conn.execute(select(raw_records))} == {"landed"}
        assert get_cursor(conn, "app") == {"after": "p1"}  # the pull goes on
        assert conn.execute(select(func.count()).select_from(tickets)).scalar() == 0
        conn.execute(text("DROP TRIGGER no_tickets"))
    later = normalise_pending(sqlite_store)
    assert later.created == len(page) - 1 and later.quarantined == 1


def test_tickets_a_run_never_routed_are_found_after_a_grace(sqlite_store):  # noqa: ANN001
    _, stats = _ingest(sqlite_store, _page(), None)
    assert stranded_ids(sqlite_store) == []  # fresh: maybe a concurrent worker's, not ours to route
    later = utcnow() + timedelta(minutes=11)
    assert sorted(stranded_ids(sqlite_store, now=later)) == sorted(stats.created_ids)
    enrich_and_route(sqlite_store, stranded_ids(sqlite_store, now=later))
    assert stranded_ids(sqlite_store, now=later) == []


def _store_ticket(store, ticket_id: str, external_id: str) -> None:  # noqa: ANN001
    """A ticket stored under `ticket_id` for app:`external_id` (as an older hub version wrote it)."""
    from hub.mapping import get_mappings
    from hub.store.tickets import upsert_tickets

    t = get_mappings().map(raw("app", samples("app")[0] | {"id": external_id})).ticket
    with store.begin() as conn:
        upsert_tickets(conn, [t.model_copy(update={"ticket_id": ticket_id})])


def test_a_ticket_stored_under_an_older_id_keeps_it(store):  # noqa: ANN001
    p = samples("app")[0]
    legacy = make_ticket_id("app", p["id"])[:13]  # the first scheme: 48 bits
    _store_ticket(store, legacy, p["id"])
    _, stats = _ingest(store, [raw("app", p | {"status": "resolved"})], None)
    assert stats.updated_ids == [legacy] and stats.created == 0
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(tickets)).scalar() == 1
        assert conn.execute(select(raw_records.c.ticket_id)).scalar() == legacy
        assert conn.execute(select(tickets.c.data)).scalar()["handling"]["source_status"] == "resolved"


def test_an_id_taken_by_another_complaint_fails_loudly_and_loses_nothing(sqlite_store):  # noqa: ANN001
    import pytest

    from core.errors import HubError

    p = samples("app")[0]
    _store_ticket(sqlite_store, make_ticket_id("app", p["id"]), "SOMEONE-ELSE")
    _, stats = _ingest(sqlite_store, [raw("app", p)], None)
    assert stats.created == 0
    with sqlite_store.begin() as conn:
        assert conn.execute(select(raw_records.c.state)).scalar() == "landed"  # kept for later
    with pytest.raises(HubError, match="is taken by another complaint"):
        normalise_pending(sqlite_store)


def test_the_fallback_log_names_the_error_not_the_rows(sqlite_store, caplog):  # noqa: ANN001
    with sqlite_store.begin() as conn:
        conn.execute(text("CREATE TRIGGER no_tickets BEFORE INSERT ON tickets "
                          "BEGIN SELECT RAISE(ABORT, 'tickets are read-only today'); END"))
    page = [raw("app", samples("app")[0])]
    _ingest(sqlite_store, page, None)
    (line,) = [r.getMessage() for r in caplog.records if "landed them for the next normalise run" in r.getMessage()]
    assert "tickets are read-only today" in line
    assert "13912345678" not in line and "INSERT" not in line  # no row values, no statement


def test_two_workers_ingesting_the_same_pages_at_once_make_each_ticket_once(store):  # noqa: ANN001
    """A backfill racing a sync over the same records: every ticket, raw version and event once."""
    import threading

    generator = __import__("pytest").importorskip("sandbox.generator")
    payloads = [p for s, _e, p in generator.generate_records(3, 2000) if s == "app"]
    pages = [[raw("app", p) for p in payloads[i:i + 20]] for i in range(0, len(payloads), 20)]
    totals: list[NormaliseStats] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        stats = NormaliseStats()
        try:
            start.wait()
            for page in pages:
                with store.begin() as conn:
                    ingest_in(conn, "app", page, None, stats=stats)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        totals.append(stats)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    keys = {p["id"] for p in payloads if p.get("id")}
    with store.begin() as conn:
        n_tickets = conn.execute(select(func.count()).select_from(tickets)).scalar()
        n_created = conn.execute(select(func.count()).select_from(ticket_events)
                                 .where(ticket_events.c.kind == "created")).scalar()
        n_raw = conn.execute(select(func.count()).select_from(raw_records)).scalar()
        landed = conn.execute(select(func.count()).select_from(raw_records)
                              .where(raw_records.c.state == "landed")).scalar()
    assert n_raw == len({(r.external_id, r.payload_hash) for page in pages for r in page})
    assert 0 < n_tickets <= len(keys) and n_created == n_tickets
    assert sum(s.created for s in totals) == n_tickets  # each ticket counted by the worker that made it
    assert landed == 0  # nothing left behind for NORMALISE


def test_unknown_payload_fields_are_kept_and_reported(sqlite_store, caplog):  # noqa: ANN001
    p = samples("app")[0] | {"colour": "red"}
    _, stats = _ingest(sqlite_store, [raw("app", p)], None)
    assert stats.as_dict()["unknown_fields"] == {"app": {"colour": 1}} and stats.created == 1
    with sqlite_store.begin() as conn:
        stored = conn.execute(select(raw_records.c.payload_enc)).scalar()
    from hub.store.landing import decode_payload

    assert decode_payload(stored)["colour"] == "red"  # kept in the raw record
    stats.report_unknown()
    assert any("colour" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
