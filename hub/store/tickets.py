"""Tickets: upsert by (source, external_id), full saves, events and queries.

A ticket row keeps the searchable fields in columns, the rest of the Ticket as
JSON with PII masked, and the raw PII (name, phone, ID) encrypted (AES-GCM, see
`core.pii.PiiVault`) in `pii_enc`. Clocks live in their own table so the chase scan can use an index.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, literal_column, select, update

from core import jsonutil
from core.errors import HubError
from core.pii import PiiVault, get_vault
from core.schema import (
    Clock,
    ClockState,
    Customer,
    Status,
    Ticket,
    TicketEvent,
    Urgency,
    safe_attachment_ref,
    split_matter_text,
    utcnow,
)
from hub.store import bulk, handler_load
from hub.store.sql import chunks, insert_ignore, one_of
from hub.store.tables import clocks, ticket_events, tickets
from hub.store.textcrypt import seal, seal_data, unseal, unseal_data

#: parts of a ticket the source owns; everything else is the hub's judgement/handling
SOURCE_OWNED = ("customer", "matter", "received_at", "mapping_version", "raw_hash")
#: json.dumps(x, ensure_ascii=False) with the encoder built once (hot path: every ticket's PII)
_DUMPS = json.JSONEncoder(ensure_ascii=False).encode


def _pii_blob(customer: Customer, vault: PiiVault, matter: dict[str, Any] | None = None) -> bytes | None:
    raw: dict[str, Any] = {"matter": matter} if matter is not None else {}
    if customer.name:
        raw["name"] = customer.name.reveal()
    if customer.phone:
        raw["phone"] = customer.phone.reveal()
    if customer.id_number:
        raw["id_number"] = customer.id_number.reveal()
    return vault.encrypt_bytes(_DUMPS(raw).encode()) if raw else None


def ticket_to_row(t: Ticket, vault: PiiVault | None = None, version: int = 1) -> dict[str, Any]:
    """Flatten a Ticket to a `tickets` row (PII encrypted, JSON masked)."""
    vault = vault or get_vault()
    data = t.model_dump(mode="json", exclude={"clocks"}, context={"raw_text": True})
    data["matter"], secret_matter = split_matter_text(data["matter"])  # free text only encrypted
    running = [c.due_at for c in t.clocks if c.state in (ClockState.RUNNING, ClockState.BREACHED)]
    j, h, c = t.judgement, t.handling, t.customer
    return {
        "ticket_id": t.ticket_id, "source": t.source, "external_id": t.external_id,
        "case_id": t.case_id, "is_primary": t.case_link is None or t.case_link.primary_ticket_id == t.ticket_id,
        "incident_id": j.incident_id, "kind": j.kind.value, "status": h.status.value, "team": h.team,
        "handler": h.handler, "first_handler": h.first_handler,
        "business_line": j.business_line, "needs_review": j.needs_review,
        "category": j.category.value if j.category else None, "sub_category": j.sub_category,
        "urgency": j.urgency.value, "risk_level": j.risk_level.value, "risk_score": j.risk_score,
        "repeat_count": j.repeat_count, "phone_hash": c.phone_hash, "id_hash": c.id_hash,
        "received_at": t.received_at, "ingested_at": t.ingested_at, "updated_at": t.updated_at,
        "resolved_at": h.resolved_at, "next_due_at": min(running) if running else None,
        "mapping_version": t.mapping_version, "raw_hash": t.raw_hash, "version": version,
        "pii_enc": _pii_blob(c, vault, secret_matter), "data": data,
    }


def _open_matter(data: dict[str, Any], pii: dict[str, Any]) -> None:
    """Put the encrypted free text (popped from the decrypted blob) back into the ticket JSON."""
    secret = pii.pop("matter", None)
    if secret:
        data["matter"] = {**data.get("matter", {}), **secret}


def stored_matter(data: dict[str, Any], pii_enc: bytes | None, vault: PiiVault) -> dict[str, Any]:
    """A stored ticket's matter JSON with its free text decrypted (for readers of the raw row)."""
    matter = dict(data.get("matter") or {})
    if pii_enc:
        secret = json.loads(vault.decrypt_bytes(pii_enc)).get("matter")
        if secret:
            matter.update(secret)
    return matter


#: where an attachment reference stored before references were checked pointed somewhere unsafe
UNSAFE_REF = "/unsafe-reference-removed"


def _defuse_attachments(data: dict[str, Any]) -> None:
    """A ticket stored before references were checked may hold a `javascript:`/`data:` one: it still
    loads (nothing is lost), with the reference kept as text in the name and the link defused."""
    for a in (data.get("matter") or {}).get("attachments") or []:
        ref = str(a.get("ref") or "")
        if not safe_attachment_ref(ref):
            a["name"], a["ref"] = f"{a.get('name') or ''}（原链接不安全，已停用：{ref[:200]}）", UNSAFE_REF


def row_to_ticket(row: Any, clock_rows: Iterable[Any] = (), vault: PiiVault | None = None) -> Ticket:
    """Rebuild a Ticket from its row (PII decrypted into masking types)."""
    data = dict(row.data)
    if row.pii_enc:
        pii = json.loads((vault or get_vault()).decrypt_bytes(row.pii_enc))
        _open_matter(data, pii)
        data["customer"] = {**data.get("customer", {}), **pii}
    else:
        data["customer"] = {**data.get("customer", {}), "name": None, "phone": None, "id_number": None}
    data["clocks"] = [clock_row_to_model(c) for c in clock_rows]
    _defuse_attachments(data)
    return Ticket.model_validate(data)


def clock_row_to_model(r: Any) -> Clock:
    """A `clocks` row as a Clock."""
    return Clock(kind=r.kind, policy=r.policy, started_at=r.started_at, due_at=r.due_at, state=r.state,
                 paused_at=r.paused_at, paused_seconds=r.paused_seconds, stopped_at=r.stopped_at,
                 warn_at=[datetime.fromisoformat(w) for w in (r.warn_at or [])])


def _clock_rows(t: Ticket) -> list[dict[str, Any]]:
    return [{
        "ticket_id": t.ticket_id, "kind": c.kind.value, "policy": c.policy, "started_at": c.started_at,
        "due_at": c.due_at, "state": c.state.value, "paused_at": c.paused_at,
        "paused_seconds": c.paused_seconds, "stopped_at": c.stopped_at,
        "warn_at": [w.isoformat() for w in c.warn_at],
        "next_alert_at": next_alert_at(c), "urgent": t.judgement.urgency == Urgency.URGENT,
    } for c in t.clocks]


def next_alert_at(c: Clock) -> datetime | None:
    """Earliest moment the chase should look at this clock again (None: never)."""
    if c.state == ClockState.RUNNING:
        return min([*c.warn_at, c.due_at])
    if c.state == ClockState.BREACHED:
        return c.due_at  # escalation steps are measured from the due time
    return None


@dataclass
class UpsertResult:
    """Ticket ids an upsert created, updated from the source, or left unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def upsert_tickets(conn: Connection, items: Sequence[Ticket], actor: str = "hub") -> UpsertResult:
    """Insert new tickets; for known (source, external_id) update the source-owned parts.

    A repeat of the same key is never a second ticket: it is an `updated` event
    (when the source data changed) or nothing at all (when it did not).
    """
    vault = get_vault()
    result = upsert_ticket_rows(conn, [(ticket_to_row(t, vault), None) for t in items], actor)
    created = set(result.created)
    _write_clocks(conn, [t for t in {t.ticket_id: t for t in items}.values() if t.ticket_id in created],
                  replace=False)
    return result


def upsert_ticket_rows(conn: Connection, items: Sequence[tuple[dict[str, Any], bytes | None]],
                       actor: str = "hub") -> UpsertResult:
    """`upsert_tickets` for rows as `ticket_to_row` makes them: the ingest path.

    Each item is (row, pii): `pii` is the plaintext PII JSON of a row whose
    `pii_enc` is still empty (`hub.mapping.rows.fresh_row`); it is encrypted here
    for the whole batch at once. Rows are matched on the natural key
    (source, external_id): a stored ticket keeps its id (even one made by an older
    id scheme, written back into the row) and gets the source-owned parts.
    """
    vault = get_vault()
    result = UpsertResult()
    now = utcnow()
    by_key: dict[tuple[str, str], tuple[dict[str, Any], bytes | None]] = {}
    for item in items:  # the same key twice in one batch: the later version wins
        by_key[(item[0]["source"], item[0]["external_id"])] = item
    for batch in chunks(list(by_key.values()), 500):
        stored = _stored(conn, [r for r, _ in batch])
        for r, _ in batch:
            old = stored.get((r["source"], r["external_id"]))
            if old is not None and old.ticket_id != r["ticket_id"]:
                r["ticket_id"] = r["data"]["ticket_id"] = old.ticket_id
        fresh = [(r, p) for r, p in batch if (r["source"], r["external_id"]) not in stored]
        events: list[dict[str, Any]] = []
        if fresh:
            plain = [(r, p) for r, p in fresh if p is not None]
            for (r, _), token in zip(plain, vault.encrypt_many([p for _, p in plain]), strict=True):
                r["pii_enc"] = token
            rows = [r for r, _ in fresh]
            inserted = _insert_fresh(conn, rows)
            for r in rows:
                tid = r["ticket_id"]
                if tid in inserted:
                    result.created.append(tid)
                    events.append({"ticket_id": tid, "at": now, "actor": actor, "kind": "created",
                                   "data": {"source": r["source"]}, "note": None})
                else:  # a concurrent worker created it a moment ago: treat as an update
                    stored.update(_stored(conn, [r]))
                    if (r["source"], r["external_id"]) not in stored:
                        raise HubError(f"ticket id {tid} of {r['source']}:{r['external_id']} is taken by another "
                                       "complaint", hint="report this: ticket ids are 96-bit hashes and must not "
                                                         "collide; the raw record stays landed, nothing is lost")
        for r, pii in batch:
            old = stored.get((r["source"], r["external_id"]))
            if old is None:
                continue
            if old.raw_hash == r["raw_hash"] and r["raw_hash"] is not None:
                result.unchanged.append(old.ticket_id)
                continue
            events.append(_update_from_source(conn, _row_as_ticket(r, pii, vault), now))
            result.updated.append(old.ticket_id)
        if events:
            bulk.executemany(conn, ticket_events.insert(), events)
    return result


def _stored(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Stored (ticket_id, raw_hash) of these rows' natural keys, by (source, external_id)."""
    by_source: dict[str, list[str]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r["external_id"])
    c = tickets.c
    out: dict[tuple[str, str], Any] = {}
    for source, exts in by_source.items():
        for part in chunks(exts, 500):
            for row in conn.execute(select(c.ticket_id, c.external_id, c.raw_hash)
                                    .where(c.source == source, one_of(conn, c.external_id, part))):
                out[(source, row.external_id)] = row
    return out


def _row_as_ticket(row: dict[str, Any], pii: bytes | None, vault: PiiVault) -> Ticket:
    """The Ticket a row stands for (the update path needs the model to merge)."""
    if pii is not None:
        data = dict(row["data"])
        plain = json.loads(pii)
        _open_matter(data, plain)
        data["customer"] = {**data["customer"], **plain}
        _defuse_attachments(data)
        return Ticket.model_validate(data)
    return row_to_ticket(SimpleNamespace(data=row["data"], pii_enc=row["pii_enc"]), (), vault)


def _update_from_source(conn: Connection, t: Ticket, now: datetime) -> dict[str, Any]:
    """Apply a source update to a stored ticket (its hub-owned parts kept); the `updated` event row."""
    row = conn.execute(select(tickets).where(tickets.c.ticket_id == t.ticket_id)).one()
    vault = get_vault()
    old = row_to_ticket(row, (), vault)
    merged = old.model_copy(update={k: getattr(t, k) for k in SOURCE_OWNED} | {"updated_at": now})
    merged.handling.source_status = t.handling.source_status
    changed = _changed_fields(old, merged)
    new_row = ticket_to_row(merged, vault, version=row.version + 1)
    new_row["next_due_at"] = row.next_due_at  # clocks untouched by a source update
    conn.execute(update(tickets).where(tickets.c.ticket_id == t.ticket_id).values(**new_row))
    return _event_row(TicketEvent(ticket_id=t.ticket_id, at=now, actor=f"source:{t.source}",
                                  kind="updated", data={"changed": changed}), vault)


def _insert_fresh(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert ticket rows not seen by the caller's select; the ids actually inserted.

    The common case (nobody created any of them meanwhile) is a plain bulk
    executemany, whose summed row count proves every row went in. When a
    concurrent worker won a race the savepoint is rolled back and the rows are
    inserted again with RETURNING to learn which ones are ours.
    """
    inserted = _insert_ignoring_taken(conn, rows)
    # ingest's rows are unassigned; a ticket created already routed (an import, a test) counts at once
    handler_load.adjust(conn, Counter(), handler_load.tally(
        (r["team"], r["handler"], r["status"]) for r in rows if r["handler"] is not None and r["ticket_id"] in inserted))
    return inserted


def _insert_ignoring_taken(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """The insert itself (see `_insert_fresh`): rows whose id is taken are skipped, not raised."""
    stmt = insert_ignore(conn, tickets, ["ticket_id"])
    with conn.begin_nested() as sp:
        if bulk.executemany(conn, stmt, rows) == len(rows):
            return {r["ticket_id"] for r in rows}
        sp.rollback()
    return set(conn.execute(stmt.returning(tickets.c.ticket_id), rows).scalars())


def _changed_fields(old: Ticket, new: Ticket) -> list[str]:
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    out = []
    for part in ("customer", "matter"):
        out += [f"{part}.{k}" for k in b[part] if a[part].get(k) != b[part].get(k)]
    if a["handling"]["source_status"] != b["handling"]["source_status"]:
        out.append("handling.source_status")
    return out


def save_ticket(conn: Connection, t: Ticket, events: Iterable[TicketEvent] = ()) -> None:
    """Write a ticket's full current state (judgement, handling, clocks) plus events."""
    save_tickets(conn, [t], list(events))


def save_tickets(conn: Connection, items: Sequence[Ticket], events: Sequence[TicketEvent] = (),
                 stored: dict[str, Any] | None = None) -> None:
    """Bulk version of `save_ticket` (used by enrichment/routing batches).

    `stored` (filled by `get_tickets(..., keep=...)`) holds the rows the tickets were loaded
    from: a caller that changed only the hub-owned parts (judgement, handling, clocks,
    explanations, case) passes it, and those tickets are written without dumping and
    re-encrypting their customer and matter (see `_hub_row`).
    """
    if not items:
        if events:
            add_events(conn, events)
        return
    vault = get_vault()
    before = handler_load.states_of(conn, [t.ticket_id for t in items])
    after = {t.ticket_id: (t.handling.team, t.handling.handler, t.handling.status.value) for t in items
             if t.ticket_id in before}  # an id not stored is no row to update
    rows, fast = [], []
    for t in items:
        kept = stored.get(t.ticket_id) if stored is not None else None
        if kept is not None and _sealed(kept.data):
            fast.append(_hub_row(t, kept.data))
            continue
        r = ticket_to_row(t, vault)
        r.pop("version")
        r["b_id"] = r.pop("ticket_id")
        rows.append(r)
    for part in (rows, fast):
        if part:
            cols: dict[str, Any] = {k: bindparam(k) for k in part[0] if k != "b_id"}
            # `+ 1` as SQL text: a bound 1 would be a parameter the rows do not carry (bulk's fast path needs all)
            bulk.executemany(conn, update(tickets).where(tickets.c.ticket_id == bindparam("b_id"))
                             .values(**cols, version=tickets.c.version + literal_column("1")), part)
    handler_load.adjust(conn, handler_load.tally(before.values()), handler_load.tally(after.values()))
    _write_clocks(conn, items, replace=True)
    add_events(conn, events)


#: the parts of a Ticket the hub changes after ingest (the rest is the source's: `SOURCE_OWNED` and ids)
HUB_OWNED = {"case_id", "case_link", "updated_at", "judgement", "handling", "explanations"}


def _sealed(data: dict[str, Any]) -> bool:
    """Whether a stored row's matter has its free text in `pii_enc` already (rows of older versions may not:
    those take the full path, which seals it)."""
    m = data.get("matter") or {}
    return not m.get("content") and not m.get("demands")


def _hub_row(t: Ticket, data: dict[str, Any]) -> dict[str, Any]:
    """The UPDATE row of a ticket whose source-owned parts are as stored: the hub-owned columns and the
    stored JSON with the hub-owned parts replaced (what `ticket_to_row` would write, without the customer
    and matter dump and the PII re-encryption; `pii_enc` stays)."""
    doc = dict(data)
    doc.update(t.model_dump(mode="json", include=HUB_OWNED))
    running = [c.due_at for c in t.clocks if c.state in (ClockState.RUNNING, ClockState.BREACHED)]
    j, h = t.judgement, t.handling
    return {
        "b_id": t.ticket_id, "case_id": t.case_id,
        "is_primary": t.case_link is None or t.case_link.primary_ticket_id == t.ticket_id,
        "incident_id": j.incident_id, "kind": j.kind.value, "status": h.status.value, "team": h.team,
        "handler": h.handler, "first_handler": h.first_handler, "business_line": j.business_line,
        "needs_review": j.needs_review, "category": j.category.value if j.category else None,
        "sub_category": j.sub_category, "urgency": j.urgency.value, "risk_level": j.risk_level.value,
        "risk_score": j.risk_score, "repeat_count": j.repeat_count, "updated_at": t.updated_at,
        "resolved_at": h.resolved_at, "next_due_at": min(running) if running else None, "data": doc,
    }


def get_ticket_data(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored `data` JSON (the Ticket, PII masked, no clocks) of several tickets, by id."""
    out: dict[str, dict[str, Any]] = {}
    for batch in chunks(list(ids), 500):
        for r in conn.execute(select(tickets.c.ticket_id, tickets.c.data).where(tickets.c.ticket_id.in_(batch))):
            out[r.ticket_id] = r.data
    return out


def set_case_fields(conn: Connection, changes: Sequence[tuple[str, str, dict[str, Any], int, dict[str, Any]]],
                    events: Sequence[TicketEvent] = ()) -> None:
    """Move stored tickets into cases: (ticket_id, case_id, case_link JSON, repeat_count, stored data).

    Writes what a full `save_tickets` of the relinked ticket would (case columns,
    `data`, version + 1), but patched in place from the stored JSON (see
    `get_ticket_data`): no decrypt/re-encrypt of the PII, no pydantic round trip
    of the whole ticket, one bulk UPDATE. Clocks are untouched.
    """
    rows = []
    for tid, case_id, link, rep, data in changes:
        d = dict(data)
        d["case_id"], d["case_link"] = case_id, link
        d["judgement"] = {**(d.get("judgement") or {}), "repeat_count": rep}
        rows.append({"b_id": tid, "b_case": case_id, "b_primary": link["primary_ticket_id"] == tid,
                     "b_rep": rep, "b_data": d})
    if rows:
        conn.execute(update(tickets).where(tickets.c.ticket_id == bindparam("b_id"))
                     .values(case_id=bindparam("b_case"), is_primary=bindparam("b_primary"),
                             repeat_count=bindparam("b_rep"), data=bindparam("b_data", type_=tickets.c.data.type),
                             version=tickets.c.version + 1), rows)
    add_events(conn, events)


def _write_clocks(conn: Connection, items: Sequence[Ticket], replace: bool) -> None:
    if replace:
        ids = [t.ticket_id for t in items]
        for batch in chunks(ids, 500):
            conn.execute(delete(clocks).where(clocks.c.ticket_id.in_(batch)))
    rows = [r for t in items for r in _clock_rows(t)]
    if rows:
        bulk.executemany(conn, clocks.insert(), rows)


def _event_row(e: TicketEvent, vault: PiiVault) -> dict[str, Any]:
    # notes and reply/reason texts quote phone and ID numbers: sealed at rest (hub.store.textcrypt)
    return {"ticket_id": e.ticket_id, "at": e.at, "actor": e.actor, "kind": e.kind,
            "data": seal_data(jsonutil.plain(e.data), vault), "note": seal(e.note, vault)}


def add_events(conn: Connection, events: Iterable[TicketEvent]) -> None:
    """Append timeline events in one batch."""
    vault = get_vault()
    rows = [_event_row(e, vault) for e in events]
    if rows:
        bulk.executemany(conn, ticket_events.insert(), rows)


def get_ticket(conn: Connection, ticket_id: str, *, for_update: bool = False) -> Ticket | None:
    """One ticket with its clocks (None when unknown).

    `for_update` row-locks it on PostgreSQL, so two actions on one ticket queue up.
    """
    query = select(tickets).where(tickets.c.ticket_id == ticket_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        return None
    crs = conn.execute(select(clocks).where(clocks.c.ticket_id == ticket_id)).all()
    return row_to_ticket(row, crs)


def get_tickets(conn: Connection, ids: Sequence[str], keep: dict[str, Any] | None = None) -> dict[str, Ticket]:
    """Several tickets with their clocks, by id (`keep`: also their stored rows, by id, for `save_tickets`)."""
    out: dict[str, Ticket] = {}
    vault = get_vault()
    for batch in chunks(list(ids), 500):
        crs: dict[str, list[Any]] = {}
        for c in conn.execute(select(clocks).where(clocks.c.ticket_id.in_(batch))):
            crs.setdefault(c.ticket_id, []).append(c)
        for row in conn.execute(select(tickets).where(tickets.c.ticket_id.in_(batch))):
            out[row.ticket_id] = row_to_ticket(row, crs.get(row.ticket_id, []), vault)
            if keep is not None:
                keep[row.ticket_id] = row
    return out


def find_ticket_id(conn: Connection, source: str, external_id: str) -> str | None:
    """The ticket id of a source record (by natural key), or None."""
    return conn.execute(select(tickets.c.ticket_id).where(
        tickets.c.source == source, tickets.c.external_id == external_id)).scalar()


def get_events(conn: Connection, ticket_id: str) -> list[TicketEvent]:
    """A ticket's timeline, oldest first."""
    rows = conn.execute(select(ticket_events).where(ticket_events.c.ticket_id == ticket_id)
                        .order_by(ticket_events.c.at, ticket_events.c.id)).all()
    vault = get_vault()
    return [TicketEvent(ticket_id=r.ticket_id, at=r.at, actor=r.actor, kind=r.kind,
                        data=unseal_data(r.data or {}, vault), note=unseal(r.note, vault)) for r in rows]


def list_tickets(conn: Connection, *, source: str | None = None, status: str | None = None,
                 team: str | None = None, overdue: bool = False, limit: int | None = 100,
                 now: datetime | None = None) -> list[Any]:
    """Summary rows for listings, nearest deadline first."""
    q = select(tickets.c.ticket_id, tickets.c.source, tickets.c.external_id, tickets.c.status,
               tickets.c.team, tickets.c.handler, tickets.c.category, tickets.c.urgency,
               tickets.c.risk_level, tickets.c.received_at, tickets.c.next_due_at, tickets.c.case_id,
               tickets.c.data)
    if source:
        q = q.where(tickets.c.source == source)
    if status:
        q = q.where(tickets.c.status == status)
    if team:
        q = q.where(tickets.c.team == team)
    if overdue:
        q = q.where(tickets.c.next_due_at < (now or utcnow()),
                    tickets.c.status.in_([s.value for s in Status if s.is_open]))
    q = q.order_by(tickets.c.next_due_at.is_(None), tickets.c.next_due_at, tickets.c.received_at.desc())
    return list(conn.execute(q.limit(limit)).all())


def count_tickets(conn: Connection) -> int:
    """How many tickets are stored (every kind)."""
    return conn.execute(select(func.count()).select_from(tickets)).scalar_one()
