"""Two workers updating the same rows in opposite orders: PostgreSQL aborts one (deadlock) and
`Store.run_transaction` runs it again, so both finish and nothing is lost."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text, update

from hub.store.tables import team_state

pytestmark = pytest.mark.postgres


def test_a_deadlocked_transaction_runs_again(pg_store) -> None:  # noqa: ANN001
    with pg_store.begin() as conn:
        conn.execute(team_state.insert(), [{"team": "a", "rr_index": 0, "data": {}}, {"team": "b", "rr_index": 0, "data": {}}])
    both_hold_one = threading.Barrier(2, timeout=20)
    attempts: list[str] = []
    errors: list[BaseException] = []

    def worker(first: str, second: str) -> None:
        def work(conn) -> None:  # noqa: ANN001
            attempts.append(first)
            conn.execute(update(team_state).where(team_state.c.team == first)
                         .values(rr_index=team_state.c.rr_index + 1))
            if attempts.count(first) == 1:  # only the first attempt waits for the other: the retry runs alone
                both_hold_one.wait()
            conn.execute(text("SELECT pg_sleep(0.2)"))
            conn.execute(update(team_state).where(team_state.c.team == second)
                         .values(rr_index=team_state.c.rr_index + 1))

        try:
            pg_store.run_transaction(work)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=("a", "b")), threading.Thread(target=worker, args=("b", "a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(attempts) == 3  # one of the two was aborted once and ran again
    with pg_store.begin() as conn:
        got = dict(conn.execute(select(team_state.c.team, team_state.c.rr_index)).all())
    assert got == {"a": 2, "b": 2}  # each worker's two updates landed exactly once
