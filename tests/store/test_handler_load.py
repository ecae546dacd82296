"""Open tickets per handler, kept by the ticket writers (hub/store/handler_load.py, migration 0017).

Each step changes tickets the way the hub does (bulk inserts, routing saves, a source
update, a console close) and the kept counts must equal a count over every open
ticket — on SQLite (counters updated in place) and PostgreSQL (a log folded in).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.schema import Customer, Matter, Status, Ticket, make_ticket_id, utcnow
from hub.store import handler_load as hl
from hub.store.tables import handler_load, handler_load_log, tickets
from hub.store.tickets import get_tickets, save_tickets, ticket_to_row, upsert_tickets

MIGRATION = Path(hl.__file__).parent / "migrations" / "versions" / "0017_handler_load.py"


def _new(i: int) -> Ticket:
    ext = f"FB{i:06d}"
    return Ticket(ticket_id=make_ticket_id("app", ext), source="app", external_id=ext, received_at=utcnow(),
                  customer=Customer(phone="13812345678"), matter=Matter(title="转账", content=f"第{i}条投诉"),
                  raw_hash=f"h{i}")


def _route(conn, changes: dict[int, tuple[str | None, str | None, Status]]) -> None:  # noqa: ANN001
    """Save tickets i with (team, handler, status) as routing and handling do (`save_tickets`)."""
    ids = {i: make_ticket_id("app", f"FB{i:06d}") for i in changes}
    got = get_tickets(conn, list(ids.values()))
    batch = []
    for i, (team, handler, status) in changes.items():
        t = got[ids[i]]
        t.handling.team, t.handling.handler, t.handling.status = team, handler, status
        batch.append(t)
    save_tickets(conn, batch)


def _check(store) -> dict[tuple[str, str], int]:  # noqa: ANN001
    with store.begin() as conn:
        kept, scanned = hl.open_load(conn), hl.counted(conn)
    assert kept == scanned
    return kept


def test_the_kept_counts_follow_every_kind_of_ticket_change(store):
    with store.begin() as conn:
        upsert_tickets(conn, [_new(i) for i in range(12)])
    assert _check(store) == {}  # new tickets have no handler yet

    with store.begin() as conn:  # a routing batch
        _route(conn, {i: ("retail", f"h{i % 3}", Status.ASSIGNED) for i in range(10)}
               | {10: ("card", "c1", Status.IN_PROGRESS), 11: ("card", "c1", Status.WAITING_CUSTOMER)})
        assert hl.open_load(conn)[("retail", "h0")] == 4  # the routing transaction sees its own changes
    assert _check(store) == {("retail", "h0"): 4, ("retail", "h1"): 3, ("retail", "h2"): 3, ("card", "c1"): 2}

    with store.begin() as conn:  # handled: closed, resolved, reopened, reassigned, moved, back to the queue
        _route(conn, {0: ("retail", "h0", Status.CLOSED), 3: ("retail", "h0", Status.RESOLVED),
                      1: ("retail", "h2", Status.IN_PROGRESS), 2: ("card", "c1", Status.ASSIGNED),
                      4: ("retail", None, Status.NEW)})
    with store.begin() as conn:
        _route(conn, {3: ("retail", "h0", Status.REOPENED)})
    assert _check(store) == {("retail", "h0"): 3, ("retail", "h1"): 1, ("retail", "h2"): 3, ("card", "c1"): 3}

    with store.begin() as conn:  # the source sends a ticket again: hub handling stays, so does the count
        again = _new(5)
        again.matter.content = "补充：第5条投诉"
        again.raw_hash = "h5b"
        assert upsert_tickets(conn, [again]).updated == [again.ticket_id]
        # a ticket created already routed (an import); the same ticket twice in one save: the last wins
        routed = _new(20)
        routed.handling.team, routed.handling.handler, routed.handling.status = "card", "c2", Status.ASSIGNED
        upsert_tickets(conn, [routed])
        _route(conn, {6: ("retail", "h1", Status.ASSIGNED)})
    with store.begin() as conn:
        t6 = get_tickets(conn, [make_ticket_id("app", "FB000006")])[make_ticket_id("app", "FB000006")]
        first, second = t6.model_copy(deep=True), t6.model_copy(deep=True)
        first.handling.handler = "h2"
        second.handling.status = Status.CLOSED  # the console's close
        save_tickets(conn, [first, second])
    kept = _check(store)
    assert kept[("retail", "h0")] == 2 and kept[("retail", "h1")] == 1 and kept[("card", "c2")] == 1

    with store.begin() as conn:  # PostgreSQL: folded counts plus what is left to fold read the same
        hl.fold_log(conn)
    _check(store)
    with store.begin() as conn:
        _route(conn, {10: ("card", "c1", Status.RESOLVED)})
    assert _check(store)[("card", "c1")] == 2
    with store.begin() as conn:
        hl.fold_log(conn)
        assert conn.execute(select(func.count()).select_from(handler_load_log)).scalar() == 0
    _check(store)


def test_a_rolled_back_routing_leaves_the_counts(store):
    with store.begin() as conn:
        upsert_tickets(conn, [_new(i) for i in range(3)])
    with pytest.raises(RuntimeError), store.begin() as conn:
        _route(conn, {i: ("retail", "h0", Status.ASSIGNED) for i in range(3)})
        raise RuntimeError("the routing batch failed")
    assert _check(store) == {}


def test_the_migration_names_the_statuses_that_are_not_open():
    spec = importlib.util.spec_from_file_location("m0017", MIGRATION)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert set(mod.NOT_OPEN) == set(hl.NOT_OPEN) == {s.value for s in Status if not s.is_open}


def test_the_migration_counts_the_tickets_open_before_it(tmp_path):
    from hub.store.db import Store
    from hub.store.migrate import upgrade

    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(store.engine, "0016_ix_phone_history")  # a store from before the kept counts
    rows = []
    for i in range(6):  # written as the hub of then wrote them: no counters yet
        t = _new(i)
        t.handling.team, t.handling.handler = "retail", f"h{i % 2}"
        t.handling.status = Status.CLOSED if i == 4 else Status.ASSIGNED
        rows.append(ticket_to_row(t))
    with store.begin() as conn:
        conn.execute(tickets.insert(), rows)
    store.upgrade()
    assert _check(store) == {("retail", "h0"): 2, ("retail", "h1"): 3}
    store.dispose()


@pytest.mark.postgres
def test_two_writers_routing_to_the_same_handlers_crosswise_never_wait_for_each_other(pg_store):
    """Counter rows updated in place would lock: T1 holds h0's and wants h1's, T2 the other way round."""
    with pg_store.begin() as conn:
        upsert_tickets(conn, [_new(i) for i in range(4)])
    both_started = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def writer(first: int, second: int, a: str, b: str) -> None:
        try:
            with pg_store.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '3s'")
                _route(conn, {first: ("retail", a, Status.ASSIGNED)})
                both_started.wait()  # each holds its first change before making its second
                _route(conn, {second: ("retail", b, Status.ASSIGNED)})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(0, 1, "h0", "h1")),
               threading.Thread(target=writer, args=(2, 3, "h1", "h0"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert _check(pg_store) == {("retail", "h0"): 2, ("retail", "h1"): 2}
    with pg_store.begin() as conn:
        assert hl.fold_log(conn) == 4
    assert _check(pg_store) == {("retail", "h0"): 2, ("retail", "h1"): 2}


def test_drift_is_found_and_a_recount_repairs_it(store):
    with store.begin() as conn:
        upsert_tickets(conn, [_new(i) for i in range(4)])
        _route(conn, {i: ("retail", "h0", Status.ASSIGNED) for i in range(4)})
    with store.begin() as conn:
        hl.fold_log(conn)
    with store.begin() as conn:  # a hand edit of the counters (or a partial restore)
        conn.execute(update(handler_load).values(open_count=9))
        conn.execute(handler_load.insert().values(team="card", handler="ghost", open_count=2))
        assert hl.drift(conn) == {("retail", "h0"): (9, 4), ("card", "ghost"): (2, 0)}
    with store.begin() as conn:
        assert hl.recount(conn) == 1
    with store.begin() as conn:
        assert hl.drift(conn) == {} and hl.open_load(conn) == {("retail", "h0"): 4}


@pytest.mark.postgres
def test_a_second_fold_skips_instead_of_waiting_and_reads_stay_right(pg_store):
    with pg_store.begin() as conn:
        upsert_tickets(conn, [_new(i) for i in range(3)])
        _route(conn, {i: ("retail", "h0", Status.ASSIGNED) for i in range(3)})
    with pg_store.begin() as a:
        assert hl.fold_log(a) == 1  # one log row (+3, one batch); folded, not committed: a holds the fold
        with pg_store.begin() as b:
            b.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            assert hl.fold_log(b) == 0  # at once, not after a's commit
            assert hl.open_load(b) == {("retail", "h0"): 3}  # the log a deleted is still b's to add up
    with pg_store.begin() as conn:
        assert hl.open_load(conn) == {("retail", "h0"): 3}
        assert conn.execute(select(func.count()).select_from(handler_load_log)).scalar() == 0
