"""LAND: raw records and the source cursor, committed together or not at all."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from core import jsonutil
from core.pii import PiiVault, get_vault
from core.schema import RawRecord, Source, utcnow
from hub.store import bulk
from hub.store.db import Store
from hub.store.sql import insert_ignore, upsert
from hub.store.tables import raw_records, sync_state

CHUNK = 500


@dataclass
class LandResult:
    """What landing a page did: records seen, new raw versions, and the cursor stored."""

    source: str
    seen: int
    new: int  # raw versions not landed before (new records or changed payloads)
    cursor: Any


def raw_rows(records: Sequence[RawRecord], now: Any, vault: PiiVault,
             states: Sequence[tuple[str, str | None]] | None = None) -> list[dict[str, Any]]:
    """`raw_records` rows for these records, payloads encrypted (one batch call).

    `states`: (state, ticket id) per record when it is normalised in the same
    transaction (`hub.pipeline.ingest`); else every row is `landed`, waiting for NORMALISE.
    """
    blobs = [r.canonical_payload() for r in records]
    rows = []
    for i, (r, token) in enumerate(zip(records, vault.encrypt_many(blobs), strict=True)):
        state, ticket_id = states[i] if states is not None else ("landed", None)
        rows.append({"source": r.source, "external_id": r.external_id, "payload_hash": r.payload_hash,
                     "payload_enc": token, "fetched_at": r.fetched_at, "landed_at": now, "state": state,
                     "ticket_id": ticket_id})
    return rows


def insert_raw(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert raw rows, skipping versions already stored; how many were new."""
    if not rows:
        return 0
    stmt = insert_ignore(conn, raw_records, ["source", "external_id", "payload_hash"])
    if bulk.counts_rows(conn):  # SQLite and psycopg: the summed count of a plain executemany
        return bulk.executemany(conn, stmt, rows)
    return len(conn.execute(stmt.returning(raw_records.c.id), rows).all())


def land_in(conn: Connection, source: Source | str, records: Iterable[RawRecord], cursor: Any,
            *, vault: PiiVault | None = None) -> LandResult:
    """Land records and set the cursor inside the caller's transaction."""
    source = Source(source)
    vault = vault or get_vault()
    now = utcnow()
    seen = new = 0
    it: Iterator[RawRecord] = iter(records)
    while batch := list(itertools.islice(it, CHUNK)):
        check_source(source, batch)
        seen += len(batch)
        new += insert_raw(conn, raw_rows(batch, now, vault))
    set_cursor(conn, source, cursor)
    return LandResult(source=source, seen=seen, new=new, cursor=cursor)


def check_source(source: Source, records: Iterable[RawRecord]) -> None:
    """A connector bug guard: every record of a page belongs to the source it is landed as."""
    for r in records:
        if r.source != source:
            raise ValueError(f"record of {r.source} landed as {source}")


def land(store: Store, source: Source | str, records: Iterable[RawRecord], cursor: Any) -> LandResult:
    """Land a page: raw records and the new cursor commit together or not at all."""
    with store.begin() as conn:
        return land_in(conn, source, records, cursor)


def set_cursor(conn: Connection, source: Source | str, cursor: Any, error: str | None = None) -> None:
    """Store a source's cursor with the run time (and error, if any) in `sync_state`."""
    now = utcnow()
    conn.execute(upsert(conn, sync_state, ["source"], ["cursor", "updated_at", "last_run_at", "last_error"]),
                 {"source": Source(source), "cursor": cursor, "updated_at": now,
                  "last_run_at": now, "last_error": error})


def get_cursor(conn: Connection, source: Source | str) -> Any:
    """The committed cursor of a source (None before the first sync)."""
    return conn.execute(select(sync_state.c.cursor).where(sync_state.c.source == Source(source))).scalar()


def decode_payload(row_payload_enc: bytes, vault: PiiVault | None = None) -> dict[str, Any]:
    """Decrypt and parse a stored raw payload."""
    return jsonutil.loads((vault or get_vault()).decrypt_bytes(row_payload_enc))


def load_raw(conn: Connection, raw_id: int) -> RawRecord:
    """Read one landed raw record back (decrypted)."""
    row = conn.execute(select(raw_records).where(raw_records.c.id == raw_id)).one()
    return RawRecord(source=row.source, external_id=row.external_id, payload=decode_payload(row.payload_enc),
                     fetched_at=row.fetched_at, payload_hash=row.payload_hash)


def pending_raw(conn: Connection, source: Source | str | None = None, limit: int = 1000,
                after_id: int = 0) -> list[tuple[int, RawRecord]]:
    """Landed raw records not yet normalised, oldest first.

    On PostgreSQL the rows are locked for the caller's transaction (SKIP LOCKED), so
    two workers normalising at once take different records instead of the same ones.
    """
    c = raw_records.c  # only what a RawRecord needs: fewer result conversions per row
    q = select(c.id, c.source, c.external_id, c.payload_enc, c.fetched_at, c.payload_hash).where(
        c.state == "landed", c.id > after_id)
    if source is not None:
        q = q.where(raw_records.c.source == Source(source))
    q = q.order_by(raw_records.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = conn.execute(q).all()
    vault = get_vault()
    # model_construct: these rows were validated when they were landed; re-validating the
    # payload (a copy of every dict) per record is pure cost on the normalise path
    return [(r.id, RawRecord.model_construct(source=r.source, external_id=r.external_id,
                                             payload=decode_payload(r.payload_enc, vault),
                                             fetched_at=r.fetched_at, payload_hash=r.payload_hash)) for r in rows]


def mark_raw(conn: Connection, states: Iterable[tuple[int, str, str | None]]) -> None:
    """Set (raw_id, state, ticket_id) after normalisation."""
    rows = [{"rid": rid, "st": st, "tid": tid} for rid, st, tid in states]
    if rows:
        bulk.executemany(conn, update(raw_records).where(raw_records.c.id == bindparam("rid"))
                         .values(state=bindparam("st"), ticket_id=bindparam("tid")), rows)
