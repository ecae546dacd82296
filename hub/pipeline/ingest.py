"""LAND + NORMALISE of one pulled page in one transaction: the sync path.

Landing a page and then reading it back to normalise it decrypts and parses
every payload a second time and updates every raw row once more. The records
are in memory already, so `ingest_in` does both at once:

1. it looks up which (external id, payload hash) versions of the page are stored
   already (a rerun of the same page does nothing at all);
2. maps the new ones (`hub.pipeline.normalise.map_batch`);
3. upserts the tickets, inserts the raw rows *with* their final state
   (normalised / quarantined / survey_reply / unsubscribe) and ticket id, the
   quarantine rows and the cursor — all in the caller's transaction, so a
   ticket never exists without its raw record, and neither without the cursor.

Step 2-3 run in a savepoint: if they fail (a store error, a bug), the page is
landed plainly instead (state `landed`) and the cursor still moves; NORMALISE
(`normalise_pending`) picks those records up on the next run. The pull never
loses a page to a normalisation problem.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select, tuple_

from core.logs import get_logger
from core.pii import get_vault, scrub_text
from core.schema import RawRecord, Source, utcnow
from hub.mapping import MappingSet, get_mappings
from hub.pipeline.normalise import NormaliseStats, map_batch, write_quarantine, write_tickets
from hub.store.landing import CHUNK, LandResult, check_source, insert_raw, raw_rows, set_cursor
from hub.store.sql import chunks, one_of
from hub.store.tables import raw_records

log = get_logger(__name__)


def ingest_in(conn: Connection, source: Source | str, records: Iterable[RawRecord], cursor: Any, *,
              mappings: MappingSet | None = None, stats: NormaliseStats | None = None) -> LandResult:
    """Land and normalise a page, and set the cursor, inside the caller's transaction.

    `stats` (when given) gets the normalise counts and the created/updated ticket
    ids, which enrichment takes next. Returns what landing alone would.
    """
    source = Source(source)
    mappings = mappings or get_mappings()
    stats = stats if stats is not None else NormaliseStats()
    page = list(records)
    check_source(source, page)
    fresh = _new_versions(conn, source, page)
    new = 0
    for i in range(0, len(fresh), CHUNK):
        part = fresh[i:i + CHUNK]
        try:
            with conn.begin_nested(), gc_paused():
                new += _land_normalised(conn, part, mappings, stats)
        except Exception as exc:  # noqa: BLE001 - the page must land whatever normalising does
            # a driver error's own message, not SQLAlchemy's (that one lists the row values)
            reason = scrub_text(str(getattr(exc, "orig", None) or exc))[:300]
            log.error("normalising %d %s record(s) failed (%s: %s); landed them for the next normalise run",
                      len(part), source, type(exc).__name__, reason)
            new += insert_raw(conn, raw_rows(part, utcnow(), get_vault()))
    set_cursor(conn, source, cursor)
    return LandResult(source=source, seen=len(page), new=new, cursor=cursor)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off for one batch.

    A batch keeps thousands of fresh dicts alive until it is written, so the
    collector would walk them again and again (10-15 % of ingest time) to find
    nothing: none of it is cyclic garbage. Reference counting still frees
    everything as usual; the collector runs again right after the batch.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _new_versions(conn: Connection, source: Source, page: list[RawRecord]) -> list[RawRecord]:
    """The page's records whose (external id, payload hash) is not stored yet, each once."""
    c = raw_records.c
    stored: set[tuple[str, str]] = set()
    for part in chunks(sorted({r.external_id for r in page}), 500):
        stored.update(conn.execute(select(c.external_id, c.payload_hash).where(
            c.source == source, one_of(conn, c.external_id, part))).tuples())
    out = []
    for r in page:
        key = (r.external_id, r.payload_hash)
        if key not in stored:
            stored.add(key)
            out.append(r)
    return out


def _land_normalised(conn: Connection, records: list[RawRecord], mappings: MappingSet,
                     stats: NormaliseStats) -> int:
    """Map, then write the tickets, the raw rows (final state) and quarantine rows; how many raw rows were new."""
    now = utcnow()
    trial = NormaliseStats()  # counted into `stats` only once the savepoint holds
    mapped = map_batch(records, mappings, trial, now)
    write_tickets(conn, mapped, trial)
    new = insert_raw(conn, raw_rows(records, now, get_vault(), mapped.states()))
    raw_ids: list[int] = [0] * len(records)
    if mapped.quarantine:  # rare: look up the ids the quarantine rows point at
        wanted = {(records[i].external_id, records[i].payload_hash): i for i, _ in mapped.quarantine}
        c = raw_records.c
        q = select(c.id, c.external_id, c.payload_hash).where(
            c.source == records[0].source, tuple_(c.external_id, c.payload_hash).in_(list(wanted)))
        for rid, ext, h in conn.execute(q):
            raw_ids[wanted[(ext, h)]] = rid
    write_quarantine(conn, mapped, raw_ids)
    stats.merge(trial)
    return new
