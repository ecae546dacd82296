"""The ingest fast path: a mapped record straight to its `tickets` row, no pydantic Ticket.

Building a `Ticket` (nested models, PII types, validators) and dumping it again
costs several times more than the mapping itself, for values the compiled
mapping has already typed. `fresh_row` writes the row
`hub.store.tickets.ticket_to_row(Ticket.model_validate(doc))` would write for a
new ticket — `tests/mapping/test_fast_rows.py` holds the two equal on every
sandbox record — but only when every value already has exactly the type the
Ticket field wants. Anything else returns None and the caller takes the
pydantic path, so pydantic stays the judge of odd values and of their error
messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from core.pii import mask_id_number, mask_name, mask_phone
from core.schema import safe_attachment_ref, split_matter_text

_STR = str
#: the JSON a fresh ticket's judgement has (core.schema.Judgement defaults)
_JUDGEMENT: dict[str, object] = {"kind": "complaint", "category": None, "sub_category": None, "tags": [], "urgency": "general",
              "risk_score": 0.0, "risk_level": "low", "escalation_intent": [], "vulnerable": False,
              "repeat_count": 0, "incident_id": None, "business_line": None, "confidence": None,
              "needs_review": False, "model_version": None,
              "corrected_by": None}
_MASKS = (("name", mask_name), ("phone", mask_phone), ("id_number", mask_id_number))
_CUSTOMER_TEXT = ("customer_id", "region")


def iso_utc(value: datetime) -> str:
    """A UTC datetime as pydantic writes it in JSON (`2026-11-01T00:04:29Z`)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


#: (now, iso_utc(now)) of the last call: a batch maps every record with the same `now`
_LAST_STAMP: tuple[datetime | None, str] = (None, "")


def _stamp(now: datetime) -> str:
    global _LAST_STAMP
    last = _LAST_STAMP  # one tuple read and one write: safe when threads map at once
    if last[0] is not now:
        last = _LAST_STAMP = (now, iso_utc(now))
    return last[1]


def _text(v: Any) -> bool:
    return v is None or type(v) is _STR


def fresh_row(doc: dict[str, Any], now: datetime) -> tuple[dict[str, Any], bytes | None] | None:
    """(row without `pii_enc`, plaintext PII JSON to encrypt) for a new ticket, or None.

    `doc` is what `CompiledMapping` hands to `Ticket.model_validate`. None means a
    value is not of the plain expected type: validate it with pydantic instead.
    """
    cust, matter, handling = doc["customer"], doc["matter"], doc["handling"]
    received = doc["received_at"]
    if type(received) is not datetime or received.tzinfo is not UTC:
        return None
    c_json: dict[str, Any] = {}
    pii: dict[str, Any] = {}
    for key, mask in _MASKS:
        v = cust.get(key)
        if v is None:
            c_json[key] = None
            continue
        if type(v) is not _STR or not v or v != v.strip():
            return None
        pii[key] = v
        c_json[key] = mask(v)
    for key in _CUSTOMER_TEXT:
        if not _text(cust.get(key)):
            return None
    elderly, vip = cust.get("elderly", False), cust.get("vip", False)
    if type(elderly) is not bool or type(vip) is not bool:
        return None
    c_json.update(customer_id=cust.get("customer_id"), phone_hash=cust.get("phone_hash"),
                  id_hash=cust.get("id_hash"), elderly=elderly, vip=vip, region=cust.get("region"))
    m_json = _matter_json(matter)
    status = handling.get("source_status")
    if (m_json is None or not _text(status) or not cust.keys() <= _CUSTOMER_KEYS
            or not matter.keys() <= _MATTER_KEYS or not handling.keys() <= {"source_status"}):
        return None  # a key the fast path does not know: let the model decide
    m_json, pii["matter"] = split_matter_text(m_json)  # free text: encrypted with the PII (issue 16)
    stamp = _stamp(now)
    ticket_id = doc["ticket_id"]
    data = {
        "ticket_id": ticket_id, "source": str(doc["source"]), "external_id": doc["external_id"],
        "case_id": None, "case_link": None, "received_at": iso_utc(received), "ingested_at": stamp,
        "updated_at": stamp, "customer": c_json, "matter": m_json, "judgement": dict(_JUDGEMENT),
        "handling": {"status": "new", "team": None, "handler": None, "first_handler": None, "priority": 0,
                     "resolved_at": None, "satisfied": None, "source_status": status},
        "explanations": {}, "mapping_version": doc["mapping_version"], "raw_hash": doc["raw_hash"],
    }
    row = {
        "ticket_id": ticket_id, "source": data["source"], "external_id": doc["external_id"], "case_id": None,
        "is_primary": True, "incident_id": None, "kind": "complaint", "status": "new", "team": None,
        "handler": None, "first_handler": None, "business_line": None, "needs_review": False, "category": None,
        "sub_category": None, "urgency": "general",
        "risk_level": "low", "risk_score": 0.0, "repeat_count": 0, "phone_hash": c_json["phone_hash"],
        "id_hash": c_json["id_hash"], "received_at": received, "ingested_at": now, "updated_at": now,
        "resolved_at": None, "next_due_at": None, "mapping_version": doc["mapping_version"],
        "raw_hash": doc["raw_hash"], "version": 1, "pii_enc": None, "data": data,
    }
    return row, (orjson.dumps(pii) if pii else None)


_CUSTOMER_KEYS = frozenset({"name", "phone", "id_number", "customer_id", "phone_hash", "id_hash", "elderly",
                            "vip", "region"})
_MATTER_KEYS = frozenset({"title", "content", "demands", "amount", "product", "respondent", "order_no",
                          "attachments", "source_category"})


def _matter_json(m: dict[str, Any]) -> dict[str, Any] | None:
    title, content = m.get("title", ""), m.get("content", "")
    demands, amount, attachments = m.get("demands", []), m.get("amount"), m.get("attachments", [])
    product, respondent, order_no, category = (m.get("product"), m.get("respondent"), m.get("order_no"),
                                               m.get("source_category"))
    if (type(title) is not _STR or type(content) is not _STR or type(demands) is not list
            or type(attachments) is not list or not (_text(product) and _text(respondent) and _text(order_no)
                                                     and _text(category))):
        return None
    if any(type(d) is not _STR for d in demands):
        return None
    if amount is not None and (type(amount) is not Decimal or not amount.is_finite()):
        return None
    for a in attachments:
        if (type(a) is not dict or len(a) != 2 or type(a.get("name")) is not _STR
                or type(a.get("ref")) is not _STR or not safe_attachment_ref(a["ref"])):
            return None  # the model judges anything else (and refuses javascript:, data:, ...)
    # the model's field order, so the stored JSON reads the same whichever path wrote it
    return {"title": title, "content": content, "demands": list(demands),
            "amount": None if amount is None else str(amount), "product": product, "respondent": respondent,
            "order_no": order_no, "attachments": [{"name": a["name"], "ref": a["ref"]} for a in attachments],
            "source_category": category}
