"""Recovery: a sync SIGKILLed mid-run, rerun once at once, leaves no complaint without a team.

The killed run landed and normalised some pages (each page commits with its cursor)
but died before routing them. The rerun starts from the committed cursor, so those
tickets are not "its" tickets: before issue 20 they waited for a later run 10 minutes
on; now every run routes every unrouted complaint it can claim.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hardening.recovery_support import (
    complaint_tickets,
    kill_when,
    rerun,
    start_worker,
    unrouted,
    worker_env,
)


@pytest.mark.timeout(600)
def test_sigkill_mid_sync_then_one_rerun_leaves_nothing_unrouted(sandbox_factory, tmp_path: Path) -> None:  # noqa: ANN001
    from hub.store.db import Store

    # latency stretches the pull, so the kill lands after some pages were normalised, before routing
    sb = sandbox_factory(seed=20, backlog=1500, rate=40, faults={"*": {"latency_ms": 300}})
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.upgrade()
    env = worker_env(store.url, sb.urls, tmp_path)
    # killed as soon as pages were normalised and not yet routed (the store is polled meanwhile)
    killed = kill_when(start_worker(env), lambda: unrouted(store) >= 100)
    stranded = unrouted(store)
    assert killed, "the sync ended before the kill"
    assert stranded > 0, "no kill left normalised, unrouted tickets behind: the test proved nothing"
    last = rerun(env)
    print(f"\nafter the kill: {stranded} unrouted of {complaint_tickets(store)}; rerun: {last}")
    assert unrouted(store) == 0
    store.dispose()


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_postgres_stopped_mid_sync_then_restarted_leaves_nothing_unrouted(sandbox_factory, throwaway_pg,  # noqa: ANN001
                                                                          tmp_path: Path) -> None:
    from hub.store.db import Store

    sb = sandbox_factory(seed=21, backlog=1500, rate=40, faults={"*": {"latency_ms": 300}})
    store = Store(throwaway_pg.url)
    store.upgrade()
    env = worker_env(store.url, sb.urls, tmp_path)
    proc = start_worker(env)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and unrouted(store) < 100:
        time.sleep(0.05)
    store.dispose()
    throwaway_pg.stop("immediate")  # the database dies under the running sync
    proc.wait(timeout=120)
    assert proc.returncode != 0, "the sync should have failed with its database gone"
    throwaway_pg.start()
    stranded = unrouted(store)
    assert stranded > 0, "the crash left nothing unrouted: the test proved nothing"
    last = rerun(env)
    print(f"\nafter PostgreSQL stopped: {stranded} unrouted of {complaint_tickets(store)}; rerun: {last}")
    assert unrouted(store) == 0
    store.dispose()
