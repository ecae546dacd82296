"""The console's sign-in throttle, kept in the store: per (user, client), with a growing delay.

Keys are `user:<name>|client:<address>`: five wrong passwords from one office address
slow down that one account from that one address, never everyone behind the address
(the old in-memory counter per IP locked out a whole office). The first
`login_free_failures` failures cost nothing; each further one doubles the wait from
`login_base_delay` up to `login_max_delay` (`core.security_settings`). Counters live in
`login_throttle`, so they survive a restart and every API process shares them; a
failure streak older than a day is forgotten. The moment a key starts waiting is an
audit event (`login_locked`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from core.schema import utcnow
from core.security_settings import get_security_settings
from hub.backoffice.audit import audit
from hub.store.sql import insert_ignore
from hub.store.tables import login_throttle

#: a failure streak older than this starts again from zero
FORGET_AFTER = timedelta(days=1)


def throttle_key(username: str, client: str) -> str:
    """The counter's key for one account from one client address."""
    return f"user:{username[:80]}|client:{client[:64]}"


def wait_seconds(conn: Connection, key: str, now: datetime | None = None) -> float:
    """How long this key must still wait before it may try again (0: it may try now)."""
    now = now or utcnow()
    until = conn.execute(select(login_throttle.c.locked_until).where(login_throttle.c.key == key)).scalar()
    return max(0.0, (until - now).total_seconds()) if until is not None else 0.0


def record_failure(conn: Connection, key: str, now: datetime | None = None) -> float:
    """Count one failed sign-in; returns the wait it causes (seconds, 0 while still free)."""
    now = now or utcnow()
    cfg = get_security_settings()
    conn.execute(insert_ignore(conn, login_throttle, ["key"]), [{"key": key, "failures": 0}])
    if conn.dialect.name == "postgresql":  # two processes counting the same key queue up
        conn.execute(select(login_throttle.c.key).where(login_throttle.c.key == key).with_for_update())
    row = conn.execute(select(login_throttle).where(login_throttle.c.key == key)).one()
    failures = row.failures if row.last_failure_at and now - row.last_failure_at < FORGET_AFTER else 0
    failures += 1
    over = failures - cfg.login_free_failures
    delay = min(cfg.login_base_delay * 2 ** (over - 1), cfg.login_max_delay) if over > 0 else 0.0
    conn.execute(update(login_throttle).where(login_throttle.c.key == key).values(
        failures=failures, last_failure_at=now, locked_until=now + timedelta(seconds=delay) if delay else None))
    if over == 1:
        audit(conn, actor="hub:throttle", kind="login_locked", subject=key, failures=failures, wait_s=delay)
    return delay


def clear(conn: Connection, key: str) -> None:
    """Forget a key's failures (after a successful sign-in)."""
    conn.execute(delete(login_throttle).where(login_throttle.c.key == key))
