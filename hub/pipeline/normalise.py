"""NORMALISE: landed raw records → tickets (or quarantine).

One transaction per batch: map every record (compiled mappings), upsert the
tickets, quarantine the failures with field path, reason and mapping version,
mark the raw rows. A bad record is one quarantine row, never a failed batch.
Non-complaint SMS (survey replies, unsubscribes) get raw state `survey_reply` /
`unsubscribe` for the survey processor. New tickets are written as rows straight
from the mapping (`CompiledMapping.map_row`), without a pydantic round trip.
Duplicate/repeat links into cases are ENRICH's job (`hub.pipeline.enrich`), as in DESIGN.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select

from core.logs import get_logger
from core.pii import get_vault, scrub_text
from core.schema import MessageKind, RawRecord, Source, utcnow
from hub.mapping import MapOutcome, MappingFailure, MappingSet, get_mappings
from hub.store.db import Store
from hub.store.landing import load_raw, mark_raw, pending_raw
from hub.store.quarantine import QuarantineEntry, mark_replayed, put
from hub.store.tables import quarantine as quarantine_t
from hub.store.tables import raw_records
from hub.store.tickets import ticket_to_row, upsert_ticket_rows

log = get_logger(__name__)

COUNTS = ("seen", "created", "updated", "unchanged", "quarantined", "ignored")


@dataclass
class NormaliseStats:
    """What a normalise (or replay) run did. `changed_ids` feed enrichment/routing next."""

    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    ignored: int = 0  # survey replies and unsubscribes (no ticket)
    per_source: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(Counter))
    created_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    #: source → unknown payload key → how many records carried it (kept in the raw record)
    unknown_fields: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def changed_ids(self) -> list[str]:
        """Created then updated ticket ids (what enrichment/routing should look at)."""
        return [*self.created_ids, *self.updated_ids]

    def _bump(self, source: str, name: str, n: int = 1) -> None:
        setattr(self, name, getattr(self, name) + n)
        self.per_source[source][name] += n

    def report_unknown(self) -> None:
        """Log the payload keys no mapping knows (the records keep them; a mapping may want them)."""
        if self.unknown_fields:
            log.warning("unknown payload fields (kept in raw records; add them to the mapping or its "
                        "`ignore` list): %s", {s: dict(c) for s, c in self.unknown_fields.items()})

    def merge(self, other: NormaliseStats) -> None:
        """Add another run's counts and ids to these."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for target, part in ((self.per_source, other.per_source), (self.unknown_fields, other.unknown_fields)):
            for src, counts in part.items():
                target[src].update(counts)
        self.created_ids += other.created_ids
        self.updated_ids += other.updated_ids

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (flows read `created_ids`/`updated_ids` from it)."""
        return {**{k: getattr(self, k) for k in COUNTS},
                "per_source": {s: dict(c) for s, c in self.per_source.items()},
                "unknown_fields": {s: dict(c) for s, c in self.unknown_fields.items()},
                "created_ids": list(self.created_ids), "updated_ids": list(self.updated_ids)}


def _safe_map(mappings: MappingSet, raw: RawRecord, vault: Any, now: Any) -> MapOutcome:
    try:
        return mappings.map_row(raw, vault, now)
    except Exception as exc:  # noqa: BLE001 - an engine bug on one record must not stop the batch
        return MapOutcome(failure=MappingFailure("(engine)", f"{type(exc).__name__}: {scrub_text(str(exc))[:300]}"),
                          mapping_version=mappings.version(raw.source))


@dataclass
class MappedBatch:
    """One batch mapped, nothing written yet: what each record becomes."""

    #: per record, in order: (raw state, its ticket row or None) — normalised / quarantined / survey_reply / ...
    outcomes: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    tickets: list[tuple[dict[str, Any], bytes | None]] = field(default_factory=list)  # (row, plaintext PII)
    #: (record index, entry without its raw id yet)
    quarantine: list[tuple[int, QuarantineEntry]] = field(default_factory=list)

    def states(self) -> list[tuple[str, str | None]]:
        """(raw state, ticket id) per record; after `write_tickets`, the ids as stored."""
        return [(st, row["ticket_id"] if row is not None else None) for st, row in self.outcomes]


def map_batch(records: Sequence[RawRecord], mappings: MappingSet, stats: NormaliseStats,
              now: Any = None) -> MappedBatch:
    """Map every record (never raises for a record: failures become quarantine entries)."""
    vault = get_vault()
    now = now or utcnow()
    out_batch = MappedBatch()
    seen: Counter[str] = Counter()  # counted per batch: a _bump per record is measurable at 100k
    for i, raw in enumerate(records):
        src: str = raw.source
        seen[src] += 1
        out = _safe_map(mappings, raw, vault, now)
        for k in out.unknown_fields:
            stats.unknown_fields[src][k] += 1
        if out.failure is not None:
            stats._bump(src, "quarantined")
            out_batch.quarantine.append((i, QuarantineEntry(
                raw_id=0, source=src, external_id=raw.external_id, field=out.failure.field[:200],
                reason=out.failure.message, mapping_version=out.mapping_version)))
            out_batch.outcomes.append(("quarantined", None))
        elif out.kind is not MessageKind.COMPLAINT:
            stats._bump(src, "ignored")
            out_batch.outcomes.append((out.kind.value, None))
        else:
            if out.row is not None:
                row = out.row
            elif out.ticket is not None:
                row = ticket_to_row(out.ticket, vault)
            else:  # an outcome without a failure carries a row or a ticket
                raise RuntimeError(f"mapping of {raw.external_id} gave neither a ticket nor a failure")
            out_batch.tickets.append((row, out.pii))
            out_batch.outcomes.append(("normalised", row))
    for src, n in seen.items():
        stats._bump(src, "seen", n)
    return out_batch


def write_tickets(conn: Connection, mapped: MappedBatch, stats: NormaliseStats) -> None:
    """Upsert the batch's tickets (a stored ticket's id is written back into its row)."""
    if mapped.tickets:
        res = upsert_ticket_rows(conn, mapped.tickets)
        src_of = {r["ticket_id"]: r["source"] for r, _ in mapped.tickets}
        for name, ids in (("created", res.created), ("updated", res.updated), ("unchanged", res.unchanged)):
            for src, n in Counter(src_of[tid] for tid in ids).items():
                stats._bump(src, name, n)
        stats.created_ids += res.created
        stats.updated_ids += res.updated


def write_quarantine(conn: Connection, mapped: MappedBatch, raw_ids: Sequence[int]) -> None:
    """Quarantine the batch's failures (`raw_ids`: the records' raw row ids, in order)."""
    bad = [replace(e, raw_id=raw_ids[i]) for i, e in mapped.quarantine]
    put(conn, bad)
    if bad:
        log.warning("quarantined %d record(s): %s", len(bad),
                    "; ".join(f"{e.source}:{e.external_id} {e.field}: {e.reason}" for e in bad[:3]))


def process_batch(conn: Connection, rows: Sequence[tuple[int, RawRecord]], mappings: MappingSet,
                  stats: NormaliseStats) -> list[int]:
    """Map, upsert, quarantine and mark one batch of landed records inside the caller's transaction.

    Returns the raw ids that were turned into tickets or sorted as non-complaints
    (replay uses them to close their quarantine rows).
    """
    raw_ids = [rid for rid, _ in rows]
    mapped = map_batch([raw for _, raw in rows], mappings, stats)
    write_tickets(conn, mapped, stats)
    write_quarantine(conn, mapped, raw_ids)
    states = mapped.states()
    mark_raw(conn, [(rid, st, tid) for rid, (st, tid) in zip(raw_ids, states, strict=True)])
    return [rid for rid, (st, _) in zip(raw_ids, states, strict=True) if st != "quarantined"]


def normalise_pending(store: Store, source: str | None = None, batch: int = 1000,
                      mappings: MappingSet | None = None) -> NormaliseStats:
    """Normalise every landed raw record (of one source, or all), one transaction per batch."""
    mappings = mappings or get_mappings()
    stats = NormaliseStats()
    src = Source(source) if source else None
    after = 0
    while True:
        with store.begin() as conn:
            rows = pending_raw(conn, src, limit=batch, after_id=after)
            if not rows:
                break
            after = rows[-1][0]
            process_batch(conn, rows, mappings, stats)
    stats.report_unknown()
    return stats


def _superseded(conn: Connection, raw_ids: list[int]) -> set[int]:
    old = raw_records.alias("old")
    new = raw_records.alias("new")
    q = (select(old.c.id).join(new, (new.c.source == old.c.source) & (new.c.external_id == old.c.external_id)
                               & (new.c.id > old.c.id) & (new.c.state == "normalised"))
         .where(old.c.id.in_(raw_ids)))
    return set(conn.execute(q).scalars())


def replay_quarantine(store: Store, ids: list[int] | None = None, source: str | None = None,
                      batch: int = 500, mappings: MappingSet | None = None) -> NormaliseStats:
    """Re-map open quarantined records with the current mappings.

    `ids` are quarantine ids (as `hub quarantine list` shows). Records that map now
    become tickets and their quarantine rows `replayed`; the others stay open
    with the new reason and one more attempt counted.
    """
    mappings = mappings or get_mappings()
    stats = NormaliseStats()
    q = select(quarantine_t.c.id, quarantine_t.c.raw_id).where(quarantine_t.c.state == "open")
    if ids:
        q = q.where(quarantine_t.c.id.in_(list(ids)))
    if source:
        q = q.where(quarantine_t.c.source == Source(source))
    with store.begin() as conn:
        raw_ids = [r.raw_id for r in conn.execute(q.order_by(quarantine_t.c.id))]
    for i in range(0, len(raw_ids), batch):
        part = raw_ids[i:i + batch]
        with store.begin() as conn:
            stale = _superseded(conn, part)
            if stale:  # a newer version of the same record became a ticket since: replaying would undo it
                mark_raw(conn, [(rid, "superseded", None) for rid in stale])
                mark_replayed(conn, sorted(stale))
            rows = [(rid, load_raw(conn, rid)) for rid in part if rid not in stale]
            done = process_batch(conn, rows, mappings, stats)
            mark_replayed(conn, done)
    return stats
