"""Pacing of one drain pass: a deadline, a bound per push, and a breaker per source that is down.

Connector pushes (status updates, SMS) go one by one, and each may spend the retry
layer's whole budget (attempts and up to a minute) on a source that is down. With all
sources down a pass of a few hundred rows took many minutes — `hub cycle` looked hung.
Now the first push to a source that fails with a transient error opens that source's
breaker for the rest of the pass; no push may take longer than `deadlines.push_one`;
the pass stops pushing at `deadlines.push` (config/recovery.yaml). Rows not tried are
put back as they were (`release_untried`) and counted as deferred, never silently dropped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update

from core.logs import get_logger
from hub.recovery.config import get_recovery_config
from hub.store.db import Store
from hub.store.outbox import OutboxMessage
from hub.store.tables import outbox

log = get_logger(__name__)
#: how soon rows of a source that was down are looked at again
DOWN_RETRY = timedelta(seconds=60)


class Pace:
    """The pass's clock and breakers (monotonic time; one per drain pass)."""

    def __init__(self) -> None:
        cfg = get_recovery_config().deadlines
        self.push_one = cfg.push_one.total_seconds()
        self.until = time.monotonic() + cfg.push.total_seconds()
        self.down: dict[str, str] = {}

    def expired(self) -> bool:
        """Whether the pass is past its deadline."""
        return time.monotonic() >= self.until

    def trip(self, source: str, why: str) -> None:
        """Open the breaker of `source` for the rest of the pass."""
        if source not in self.down:
            log.warning("outbox: %s looks down (%s); its other rows wait for the next pass", source, why[:200])
        self.down[source] = why

    def why_not(self, source: str) -> str | None:
        """Why a row for `source` is not tried now (None: try it)."""
        if source in self.down:
            return f"{source} down in this pass"
        if self.expired():
            return "the pass reached its deadline"
        return None

    def budget(self) -> float:
        """Seconds the next push may take: `push_one`, but never past the pass's deadline (at least 1 s)."""
        return max(1.0, min(self.push_one, self.until - time.monotonic()))


def release_untried(store: Store, msgs: Sequence[OutboxMessage], now: datetime, down: set[str]) -> int:
    """Put claimed rows that were not tried back to `pending` (their claim's attempt undone); how many."""
    if not msgs:
        return 0
    rows = [{"b_id": m.id, "b_attempts": max(0, m.attempts - 1),
             "b_next": now + (DOWN_RETRY if (m.payload.get("source") or m.target) in down else timedelta(0))}
            for m in msgs]
    with store.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == bindparam("b_id")).values(
            state="pending", claimed_by=None, attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next")), rows)
    return len(rows)
