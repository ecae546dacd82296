"""A worker that dies with claimed rows: the next drain on the host releases them at once (no 5-minute wait)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from core.schema import utcnow
from hub.outbox.worker import drain_outbox
from hub.store.outbox import enqueue_many
from hub.store.tables import outbox

ROOT = Path(__file__).resolve().parents[2]
# claims every due row as this process (host:pid), as a drain does, then dies before delivering any
CHILD = r"""
import os, signal, sys
from hub.outbox.leases import local_worker_id
from hub.store.db import Store
from hub.store.outbox import claim
rows = claim(Store(sys.argv[1]), local_worker_id(), limit=1000)
print(len(rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _count(store, state: str) -> int:  # noqa: ANN001
    with store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox).where(outbox.c.state == state)).scalar() or 0)


async def test_claims_of_a_killed_worker_are_released_on_the_next_start(sqlite_store) -> None:  # noqa: ANN001
    with sqlite_store.begin() as conn:
        enqueue_many(conn, [{"key": f"dispatch:t{i}:payments:0", "kind": "dispatch", "target": "team:payments",
                             "payload": {"ticket_id": f"t{i}", "team": "payments", "title": "转账失败"}}
                            for i in range(120)])
    proc = subprocess.run([sys.executable, "-c", CHILD, sqlite_store.url], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9 and proc.stdout.strip() == "120"
    assert _count(sqlite_store, "sending") == 120  # stranded by the kill
    stats = await drain_outbox(sqlite_store, "next-worker", limit=500, now=utcnow())  # well inside the lease
    assert stats.sent == 120
    assert stats.released == 120
    assert _count(sqlite_store, "sending") == 0 and _count(sqlite_store, "sent") == 120


async def test_a_live_workers_claims_are_left_alone(sqlite_store) -> None:  # noqa: ANN001
    from hub.outbox.leases import local_worker_id
    from hub.store.outbox import claim

    with sqlite_store.begin() as conn:
        enqueue_many(conn, [{"key": f"k{i}", "kind": "dispatch", "target": "team:payments", "payload": {}}
                            for i in range(3)])
    assert len(claim(sqlite_store, local_worker_id(), limit=10)) == 3  # this very process: alive
    stats = await drain_outbox(sqlite_store, "other", limit=10, now=utcnow())
    assert stats.released == 0 and stats.claimed == 0
    assert _count(sqlite_store, "sending") == 3
