"""SMS delivery reports consumed (issue 17, item 8): recorded on the outbox row, failures flagged and resent
only when a resend can help, never to an unsubscribed number; a second read records nothing twice.

Against the sandbox gateway: it reports every send one simulated minute later, UNDELIV/UNSUBSCRIBED
once the number unsubscribed there (the hub has not pulled that TD yet), UNDELIV/IS_CLOSE while the
handset is off.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from typer.testing import CliRunner

from core.schema import Status, utcnow
from hub.handling import actions as handling
from hub.outbox.delivery import RESEND_MARK, consume_reports, get_report_cursor
from hub.outbox.worker import drain_outbox
from hub.store.tables import delivery_cursors, outbox
from hub.store.tickets import get_events
from tests.outbox.sandbox_helpers import pick, sms_sends_to
from tests.outbox.test_e2e_sandbox import factory, new_ticket, sb  # noqa: F401 - the module's sandbox fixture

TAKEN: set[str] = set()


def _rows(store) -> dict[str, dict]:  # noqa: ANN001
    with store.begin() as conn:
        return {r.idempotency_key: r._asdict() for r in conn.execute(select(
            outbox.c.idempotency_key, outbox.c.ticket_id, outbox.c.state, outbox.c.delivery, outbox.c.delivery_at,
            outbox.c.delivery_status, outbox.c.next_attempt_at).where(outbox.c.kind == "sms")).all()}


def _undelivered_events(store, ticket_id: str) -> list:  # noqa: ANN001
    with store.begin() as conn:
        return [e for e in get_events(conn, ticket_id) if e.kind == "sms_undelivered"]


async def test_delivery_reports_are_recorded_flagged_and_resent_only_when_it_can_help(sb, store):  # noqa: ANN001, F811
    """On SQLite and PostgreSQL."""
    (ext_ok, phone_ok), (ext_td, phone_td), (ext_off, phone_off) = (pick(sb, "sms", TAKEN) for _ in range(3))
    sb.inject("sms", {"mobile": phone_td, "content": "TD"})  # unsubscribed at the gateway; the hub has not pulled it
    sb.state.powered_off.add(phone_off)
    tickets = {name: new_ticket(store, "sms", ext, phone) for name, ext, phone in
               (("ok", ext_ok, phone_ok), ("td", ext_td, phone_td), ("off", ext_off, phone_off))}
    with store.begin() as conn:
        for t in tickets.values():
            handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="已处理",
                                   reply="您好，问题已处理。")
    first = await drain_outbox(store, "w", kinds=["sms"], connector_factory=factory(sb))
    assert first.failed == 0 and first.sent >= 3, first.errors
    assert first.delivered == first.undelivered == 0  # no report yet: the gateway reports a minute later
    sent = {k: r for k, r in _rows(store).items() if r["state"] == "sent"}
    by_ticket = {name: [k for k, r in sent.items() if r["ticket_id"] == t.ticket_id] for name, t in tickets.items()}
    assert all(by_ticket.values()), by_ticket

    sb.advance(minutes=2)
    second = await drain_outbox(store, "w", kinds=["sms"], connector_factory=factory(sb))
    rows = _rows(store)
    assert {rows[k]["delivery"] for k in by_ticket["ok"]} == {"delivered"}
    assert {rows[k]["delivery_status"] for k in by_ticket["ok"]} == {"DELIVRD"}
    assert all(rows[k]["delivery_at"] is not None for k in sent)
    assert {rows[k]["delivery_status"] for k in by_ticket["td"]} == {"UNDELIV/UNSUBSCRIBED"}
    assert {rows[k]["delivery_status"] for k in by_ticket["off"]} == {"UNDELIV/IS_CLOSE"}
    assert {rows[k]["delivery"] for k in by_ticket["td"] + by_ticket["off"]} == {"failed"}
    assert second.delivered == len(by_ticket["ok"])
    assert second.undelivered == len(by_ticket["td"]) + len(by_ticket["off"])
    # flagged: on the ticket's timeline, and as a figure under `hub outbox list`
    td_events, off_events = _undelivered_events(store, tickets["td"].ticket_id), \
        _undelivered_events(store, tickets["off"].ticket_id)
    assert len(td_events) == len(by_ticket["td"]) and all(e.data["resent_as"] is None for e in td_events)
    assert len(off_events) == len(by_ticket["off"]) and all(e.data["resent_as"] for e in off_events)
    assert _undelivered_events(store, tickets["ok"].ticket_id) == []
    # resent: only the handset that was off, under a new key, later; never the unsubscribed number
    resends = {k: r for k, r in rows.items() if RESEND_MARK in k}
    assert sorted(resends) == sorted(f"{k}{RESEND_MARK}1" for k in by_ticket["off"]), resends
    assert second.resent == len(by_ticket["off"])
    assert all(r["state"] == "pending" and r["next_attempt_at"] > utcnow() for r in resends.values())
    with store.begin() as conn:
        cursor = get_report_cursor(conn, "sms")
    assert cursor is not None

    # a second read records nothing twice; nor does a read from the start (a crash before the cursor commit)
    third = await drain_outbox(store, "w", kinds=["sms"], connector_factory=factory(sb))
    with store.begin() as conn:
        assert get_report_cursor(conn, "sms") == cursor
        conn.execute(delete(delivery_cursors))
    gateway = factory(sb)("sms")
    try:  # the drain reads no feed when every send has its report: read it here, from the start
        fourth = await consume_reports(store, "sms", gateway)
    finally:
        await gateway.aclose()
    assert (third.delivered, third.undelivered, fourth.delivered, fourth.undelivered) == (0, 0, 0, 0)
    assert fourth.reports == fourth.ignored >= len(sent) and fourth.resent == 0
    assert _rows(store) == rows
    assert len(_undelivered_events(store, tickets["td"].ticket_id)) == len(td_events)
    with store.begin() as conn:
        assert get_report_cursor(conn, "sms") == cursor  # read again from the start, back at the same place

    # the resend goes out when due, once; the handset is on again now: delivered
    sb.state.powered_off.discard(phone_off)
    later = utcnow() + timedelta(minutes=31)
    fifth = await drain_outbox(store, "w", kinds=["sms"], connector_factory=factory(sb), now=later)
    assert fifth.sent == len(resends), fifth.errors
    sb.advance(minutes=2)
    sixth = await drain_outbox(store, "w", kinds=["sms"], connector_factory=factory(sb), now=later)
    assert sixth.delivered == len(resends) and sixth.undelivered == 0
    assert {r["delivery"] for k, r in _rows(store).items() if k in resends} == {"delivered"}
    results = [w["data"]["params"]["result"] for w in sms_sends_to(sb, phone_off) if "result" in w["data"]["params"]]
    assert len(results) == 2 and results[0] == results[1] and "您好，问题已处理" in results[1], results  # same text, opened
    assert len(sms_sends_to(sb, phone_off)) == 2 * len(by_ticket["off"])
    assert len(sms_sends_to(sb, phone_td)) == len(by_ticket["td"])  # never resent

    from cli import app
    from hub.store import db

    db.use_store(store)
    try:
        out = CliRunner().invoke(app, ["outbox", "list", "--delivery", "failed"])
        listed = CliRunner().invoke(app, ["outbox", "list", "--delivery", "failed", "--json"])
    finally:
        db.use_store(None)
    assert out.exit_code == 0 and listed.exit_code == 0, out.output + listed.output
    failed = len(by_ticket["td"]) + len(by_ticket["off"])
    assert f"SMS undelivered (gateway reports): {failed}; resent {len(resends)}" in " ".join(out.output.split())
    import json

    doc = json.loads(listed.stdout)
    assert sorted(r["key"] for r in doc if r["delivery"] == "failed") == sorted(by_ticket["td"] + by_ticket["off"])
