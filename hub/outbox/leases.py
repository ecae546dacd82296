"""Claims of dead workers: released on the next start instead of waiting out the lease.

A worker claims outbox rows as `host:pid` (`flows.ops.worker_id`, `local_worker_id`).
If it dies (SIGKILL, OOM, a crash) its rows stay `sending` until the lease
(`hub.store.outbox.LEASE`) runs out; the call centre got none of its updates until
then. Any drain on the same host first looks at the `sending` rows claimed on that
host: a claimant whose process is gone holds nothing any more, its rows go back to
`pending` at once. Claims from other hosts (or other id shapes) still wait for the
lease. A row released this way may have reached its receiver already; every
receiver dedupes on the idempotency key (at-least-once delivery, effects once).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import select, update

from core.logs import get_logger
from core.schema import utcnow
from hub.store.db import Store
from hub.store.processes import dead_local
from hub.store.tables import outbox

log = get_logger(__name__)


def local_worker_id() -> str:
    """This process as an outbox claimant: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_local(claimant: str, host: str) -> bool:
    name, _, pid = claimant.rpartition(":")
    return name == host and dead_local(name, pid)


def release_dead_claims(store: Store, now: datetime | None = None) -> int:
    """Put the `sending` rows of this host's dead workers back to `pending` (due now); returns how many."""
    now = now or utcnow()
    host = socket.gethostname()
    with store.begin() as conn:
        claimants = set(conn.execute(select(outbox.c.claimed_by).where(
            outbox.c.state == "sending", outbox.c.claimed_by.like(f"{host}:%")).distinct()).scalars())
        dead = sorted(c for c in claimants if c and _dead_local(c, host))
        if not dead:
            return 0
        n = conn.execute(update(outbox).where(outbox.c.state == "sending", outbox.c.claimed_by.in_(dead)).values(
            state="pending", claimed_by=None, next_attempt_at=now,
            last_error="released: the worker that claimed it died")).rowcount
    log.warning("released %d outbox row(s) claimed by %d dead worker(s) on this host", n, len(dead))
    return int(n or 0)
