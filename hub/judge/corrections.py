"""Handlers' reclassifications as training records (`hub judge export-corrections`).

Every ticket a handler reclassified (`reclassified` events, `hub.handling.reclassify`) becomes one
record in the corpus format with the labels as the handler left them: the latest correction of
each ticket wins. Text leaves the hub here for good, so it is scrubbed harder than a log line
(`core.pii.scrub_for_export`: phones, ID, card and order numbers, e-mail addresses and the
customer's name). `hub judge train --corrections FILE` adds the records to the training split
(never to the held-out one, so figures stay comparable from one release to the next).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Connection, select

from core.pii import scrub_for_export
from hub.judge.config import Taxonomy, get_taxonomy
from hub.judge.core import ticket_text
from hub.judge.corpus import CHANNELS, ComplaintRecord
from hub.store.tables import ticket_events
from hub.store.tickets import get_tickets

#: the corpus industry a profile's corrections are filed under
INDUSTRY_OF_PROFILE = {"bank": "bank", "insurer": "insurance", "telecom": "telecom", "retail": "ecommerce"}


def correction_id(channel: str, industry: str, ticket_id: str) -> str:
    """A stable record id for a ticket's correction (the same ticket always gives the same id)."""
    digits = int(hashlib.sha256(ticket_id.encode()).hexdigest()[:12], 16) % 10**10
    return f"{channel}-{industry}-{digits:010d}"  # ten digits: never one of the hand-written four-digit ids


def export_corrections(conn: Connection, taxonomy: Taxonomy | None = None) -> tuple[list[ComplaintRecord], int]:
    """(records, skipped): one record per reclassified ticket.

    `skipped` counts the tickets that cannot be one: a source outside the corpus channels, a ticket
    gone, no text, or labels the guide does not allow (no business line, a threat left non-urgent).
    """
    tax = taxonomy or get_taxonomy()
    industry = INDUSTRY_OF_PROFILE.get(tax.profile, tax.lines.industries[0] if tax.lines else "bank")
    ids = list(dict.fromkeys(r.ticket_id for r in conn.execute(
        select(ticket_events.c.ticket_id).where(ticket_events.c.kind == "reclassified")
        .order_by(ticket_events.c.id))))
    records: list[ComplaintRecord] = []
    skipped = 0
    tickets = get_tickets(conn, ids)
    for tid in ids:
        t = tickets.get(tid)
        if t is None or t.source not in CHANNELS or t.judgement.category is None:
            skipped += 1
            continue
        j = t.judgement
        category = t.judgement.category
        names = (t.customer.name.reveal(),) if t.customer.name else ()
        text = scrub_for_export(ticket_text(t), names)[:4000]
        if len(text) < 4:
            skipped += 1
            continue
        try:
            records.append(ComplaintRecord.model_validate({
                "id": correction_id(t.source, industry, tid), "channel": t.source, "industry": industry,
                "text": text, "business_line": j.business_line, "reason": category.value,
                "sub": j.sub_category or "", "urgency": j.urgency.value,
                "escalation": [e.value for e in j.escalation_intent], "vulnerable": j.vulnerable}))
        except ValidationError:
            skipped += 1  # labels the guide does not allow (no business line, a threat left non-urgent)
    return records, skipped


def write_records(records: list[ComplaintRecord], path: Path) -> None:
    """Write records as JSON lines, sorted by id (a re-export of the same corrections is byte-identical)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r.model_dump(exclude_defaults=True, exclude={"hard"}), ensure_ascii=False)
             for r in sorted(records, key=lambda r: r.id)]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
