"""Outbox rows: enqueue in the caller's transaction; claim, mark sent or failed.

Claiming is safe under concurrency: PostgreSQL uses `FOR UPDATE SKIP LOCKED`;
SQLite serialises writers (BEGIN IMMEDIATE), so its single UPDATE … RETURNING
is atomic. A row stuck in `sending` (worker died) is re-claimable after a lease.

Free text in a payload — the customer reply (`reply`), an SMS text (`text`, and the
`result` it puts in the template's `params`), a reason — may quote phone and ID
numbers, so it is stored sealed with the PII vault (`hub.store.textcrypt`) and opened
only when a worker claims the row (`open_payload`); rows written before stay readable.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from core import jsonutil
from core.pii import get_vault
from core.schema import utcnow
from hub.store.db import Store
from hub.store.sql import insert_ignore
from hub.store.tables import outbox
from hub.store.textcrypt import seal_data, unseal_data

LEASE = timedelta(minutes=5)
#: payload keys whose values hold a dict of template parameters (their free text is sealed too)
_NESTED = ("params",)


def seal_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload as stored: its free-text values sealed (`hub.store.textcrypt.TEXT_KEYS`, and `result`)."""
    vault = get_vault()
    out = seal_data(payload, vault)
    for k in _NESTED:
        if isinstance(out.get(k), dict):
            out = {**out, k: seal_data(out[k], vault, extra=("result",))}
    return out


def open_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored payload with its sealed values opened (plain values of older rows pass as they are)."""
    vault = get_vault()
    out = unseal_data(payload or {}, vault)
    for k in _NESTED:
        if isinstance(out.get(k), dict):
            out = {**out, k: unseal_data(out[k], vault, extra=("result",))}
    return out


@dataclass
class OutboxMessage:
    """A claimed outbox row: what to deliver to whom, its decrypted secret and attempt count."""

    id: int
    idempotency_key: str
    kind: str
    target: str
    ticket_id: str | None
    payload: dict[str, Any]
    secret: dict[str, Any] | None
    attempts: int


def enqueue(conn: Connection, *, key: str, kind: str, target: str, payload: dict[str, Any],
            ticket_id: str | None = None, secret: dict[str, Any] | None = None,
            not_before: datetime | None = None) -> bool:
    """Add a message in the caller's transaction. Returns False if the key exists (idempotent)."""
    return bool(enqueue_many(conn, [{"key": key, "kind": kind, "target": target, "payload": payload,
                                     "ticket_id": ticket_id, "secret": secret, "not_before": not_before}]))


def enqueue_many(conn: Connection, messages: list[dict[str, Any]]) -> set[str]:
    """`enqueue` for a batch, in one INSERT … ON CONFLICT DO NOTHING; returns the keys actually added.

    Each message is a dict of `enqueue`'s keyword arguments (`key`, `kind`, `target`,
    `payload`, optional `ticket_id`, `secret`, `not_before`). Routing a batch of
    tickets queues one dispatch each: one statement instead of one per ticket
    (per-row inserts were ~20 % of enrich + route time).
    """
    if not messages:
        return set()
    now = utcnow()
    vault = get_vault()
    rows = [{"idempotency_key": m["key"], "kind": m["kind"], "target": m["target"], "ticket_id": m.get("ticket_id"),
             "payload": seal_payload(jsonutil.plain(m["payload"])),
             "secret_enc": vault.encrypt_bytes(json.dumps(m["secret"], ensure_ascii=False).encode())
             if m.get("secret") else None,
             "state": "pending", "attempts": 0, "next_attempt_at": m.get("not_before") or now, "created_at": now}
            for m in messages]
    stmt = insert_ignore(conn, outbox, ["idempotency_key"]).returning(outbox.c.idempotency_key)
    return set(conn.execute(stmt, rows).scalars())


def claim(store: Store, worker: str, limit: int = 50, now: datetime | None = None,
          kinds: list[str] | None = None) -> list[OutboxMessage]:
    """Take up to `limit` due messages for this worker; no two workers get the same row."""
    now = now or utcnow()
    due = or_(and_(outbox.c.state.in_(["pending", "failed"]), outbox.c.next_attempt_at <= now),
              and_(outbox.c.state == "sending", outbox.c.claimed_at < now - LEASE))
    pick = select(outbox.c.id).where(due)
    if kinds:
        pick = pick.where(outbox.c.kind.in_(kinds))
    pick = pick.order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
    if store.is_postgres:
        pick = pick.with_for_update(skip_locked=True)
    stmt = (update(outbox).where(outbox.c.id.in_(pick.scalar_subquery()))
            .values(state="sending", claimed_by=worker, claimed_at=now, attempts=outbox.c.attempts + 1)
            .returning(outbox))
    vault = get_vault()
    with store.begin() as conn:
        rows = conn.execute(stmt).all()
    return [OutboxMessage(id=r.id, idempotency_key=r.idempotency_key, kind=r.kind, target=r.target,
                          ticket_id=r.ticket_id, payload=open_payload(r.payload),
                          secret=json.loads(vault.decrypt_bytes(r.secret_enc)) if r.secret_enc else None,
                          attempts=r.attempts) for r in sorted(rows, key=lambda r: r.id)]


def mark_sent(conn: Connection, msg_id: int, receipt: dict[str, Any] | None = None) -> None:
    """Mark a message sent: keep the receipt, clear the last error."""
    conn.execute(update(outbox).where(outbox.c.id == msg_id).values(
        state="sent", sent_at=utcnow(), last_error=None,
        receipt=jsonutil.plain(receipt or {})))


def backoff(attempts: int, base: float = 30.0, cap: float = 3600.0) -> timedelta:
    """Jittered exponential backoff for the next attempt: uniform between half the cap and the cap."""
    return timedelta(seconds=random.uniform(base / 2, min(cap, base * 2 ** max(0, attempts - 1))))


def mark_failed(conn: Connection, msg_id: int, attempts: int, error: str, *, max_attempts: int = 8,
                now: datetime | None = None) -> str:
    """Record a failure: retry later with backoff, or `dead` after max_attempts. Returns the state."""
    now = now or utcnow()
    state = "dead" if attempts >= max_attempts else "failed"
    conn.execute(update(outbox).where(outbox.c.id == msg_id).values(
        state=state, last_error=error[:2000], next_attempt_at=now + backoff(attempts), claimed_by=None))
    return state


def count_undeliverable(conn: Connection, kind: str = "ops") -> int:
    """How many rows of `kind` wait in `undeliverable` (no destination took them)."""
    return int(conn.execute(select(func.count()).select_from(outbox).where(
        outbox.c.state == "undeliverable", outbox.c.kind == kind)).scalar_one())
