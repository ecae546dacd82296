"""Hole 5 (item 6, in part): timeline free text — notes, replies, reasons — is encrypted at rest.

The stored `ticket_events` rows hold no phone or ID number a note quoted; the timeline read
through the store shows the text; rows written before (plain) still read.
"""

from __future__ import annotations

import json

from sqlalchemy import select, text

from core.schema import Status, TicketEvent, utcnow
from hub.handling import actions as handling
from hub.store.tables import ticket_events
from hub.store.tickets import add_events, get_events
from tests.outbox.helpers import make_ticket, put_ticket

PHONE, IDN = "13987654321", "110105198001011234"


def test_notes_replies_and_reasons_are_sealed_in_the_store(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("TXT-1", received=utcnow(), handler="li.na"))
    with store.begin() as conn:
        handling.add_note(conn, t.ticket_id, actor="handler:li.na", note=f"客户电话{PHONE}，身份证{IDN}")
        handling.reply_to_customer(conn, t.ticket_id, actor="handler:li.na", text=f"已回电{PHONE}")
        handling.request_extension(conn, t.ticket_id, actor="handler:li.na", days=5, reason=f"等待{IDN}的流水")
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note=f"内部{IDN}",
                               reply=f"已处理，回电{PHONE}")
    with store.begin() as conn:
        stored = conn.execute(select(ticket_events.c.note, ticket_events.c.data)
                              .where(ticket_events.c.ticket_id == t.ticket_id)).all()
        events = get_events(conn, t.ticket_id)
    dump = json.dumps([[r.note, r.data] for r in stored], ensure_ascii=False)
    assert PHONE not in dump and IDN not in dump
    assert "aesgcm1:" in dump
    notes = [e.note for e in events if e.note]
    assert f"客户电话{PHONE}，身份证{IDN}" in notes and f"等待{IDN}的流水" in notes
    resolved = next(e for e in events if e.kind == "status_changed")
    assert resolved.data["reply"] == f"已处理，回电{PHONE}" and resolved.data["to"] == "resolved"


def test_rows_written_before_still_read(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("TXT-2", received=utcnow()))
    with store.begin() as conn:
        conn.execute(ticket_events.insert().values(ticket_id=t.ticket_id, at=utcnow(), actor="x", kind="note",
                                                   data={"reply": "旧的明文"}, note="旧的备注"))
        add_events(conn, [TicketEvent(ticket_id=t.ticket_id, actor="y", kind="note", note="新的备注")])
        events = get_events(conn, t.ticket_id)
        raw = conn.execute(text("SELECT note FROM ticket_events WHERE actor = 'y'")).scalar()
    assert [e.note for e in events if e.actor in ("x", "y")] == ["旧的备注", "新的备注"]
    assert events[-2].data == {"reply": "旧的明文"} and raw.startswith("aesgcm1:")


def test_complaint_text_is_stored_only_encrypted_on_both_write_paths(store) -> None:  # noqa: ANN001
    from hub.pipeline.normalise import normalise_pending
    from hub.store import landing
    from hub.store.tables import tickets
    from hub.store.tickets import get_ticket
    from tests.mapping.helpers import raw, samples

    t = make_ticket("TXT-3", received=utcnow())
    t.matter.title = f"年费争议 {PHONE}"
    t.matter.content = f"本人身份证{IDN}，卡被乱扣年费，秘密内容XQ17"
    t.matter.demands = [f"退款到{PHONE}名下账户"]
    put_ticket(store, t)  # the model path (ticket_to_row)
    p = samples("app")[0]  # the ingest fast path (hub.mapping.rows.fresh_row)
    p["content"] = f"快路径投诉内容 {IDN} 秘密内容QZ42"
    landing.land(store, "app", [raw("app", p)], None)
    normalise_pending(store)
    with store.begin() as conn:
        rows = conn.execute(select(tickets.c.ticket_id, tickets.c.data, tickets.c.pii_enc)).all()
        back = get_ticket(conn, t.ticket_id)
    stored = json.dumps([r.data for r in rows], ensure_ascii=False)
    assert "XQ17" not in stored and "QZ42" not in stored and IDN not in stored and PHONE not in stored
    assert all(r.pii_enc for r in rows)
    mine = next(r.data for r in rows if r.ticket_id == t.ticket_id)
    assert mine["matter"]["title"].startswith("年费争议") and mine["matter"]["content"] == ""
    assert back.matter.content == t.matter.content and back.matter.demands == t.matter.demands
    assert back.matter.title == t.matter.title


def test_outbox_replies_and_sms_texts_are_sealed_until_a_worker_claims_them(store) -> None:  # noqa: ANN001
    from hub.store import outbox as ob
    from hub.store.tables import outbox

    t = put_ticket(store, make_ticket("TXT-OB", received=utcnow(), handler="li.na"))
    with store.begin() as conn:  # the reply a handler wrote, quoting a phone number
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="内部",
                               reply=f"已处理，回电{PHONE}")
        ob.enqueue(conn, key="legacy:1", kind="status_update", target="app", ticket_id="TLEG",
                   payload={"ticket_id": "TLEG", "external_id": "X", "status": "resolved", "reply": "旧行"})
        conn.execute(outbox.update().where(outbox.c.idempotency_key == "legacy:1")  # as written before sealing
                     .values(payload={"ticket_id": "TLEG", "external_id": "X", "status": "resolved", "reply": "旧行"}))
    with store.begin() as conn:
        stored = conn.execute(select(outbox.c.payload).where(outbox.c.ticket_id == t.ticket_id)).scalars().all()
    dump = json.dumps(stored, ensure_ascii=False)
    assert stored and PHONE not in dump and "aesgcm1:" in dump
    claimed = {m.idempotency_key: m.payload for m in ob.claim(store, "w", limit=50)}
    replies = [p["reply"] for k, p in claimed.items() if k.startswith(f"status:{t.ticket_id}:")]
    assert replies == [f"已处理，回电{PHONE}"]
    assert claimed["legacy:1"]["reply"] == "旧行"  # a row written before still reads
