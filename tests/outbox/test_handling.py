"""hub.handling.actions: each change writes ticket, event and announcing outbox row in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.schema import ClockKind, ClockState, Status, utcnow
from hub.handling import actions as handling
from hub.store.outbox import open_payload
from hub.store.tables import outbox, surveys
from hub.store.tickets import get_events, get_ticket
from tests.outbox.helpers import make_ticket, put_ticket


def _rows(store, ticket_id):  # noqa: ANN001, ANN202
    with store.begin() as conn:
        return conn.execute(select(outbox).where(outbox.c.ticket_id == ticket_id).order_by(outbox.c.id)).all()


def test_accept_resolve_push_and_survey(store) -> None:  # noqa: ANN001
    now = utcnow()
    t = put_ticket(store, make_ticket("FB1", received=now - timedelta(hours=1)))
    with store.begin() as conn:
        a = handling.accept(conn, t.ticket_id, actor="handler:li.na", handler="li.na")
    assert a.handling.status == Status.IN_PROGRESS
    assert a.clock(ClockKind.FIRST_RESPONSE).state == ClockState.MET
    with store.begin() as conn:
        r = handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="已退年费",
                                   reply="已为您退还年费", settled=True)
    assert r.handling.status == Status.RESOLVED and r.handling.resolved_at is not None
    assert r.clock(ClockKind.REVISIT) is not None
    rows = _rows(store, t.ticket_id)
    su = [x for x in rows if x.kind == "status_update"]
    assert len(su) == 1 and su[0].target == "app" and su[0].payload["status"] == "resolved"
    assert su[0].idempotency_key.startswith(f"status:{t.ticket_id}:")
    assert "已为您退还年费" not in str(su[0].payload)  # the reply is free text: sealed at rest ...
    assert open_payload(su[0].payload)["reply"] == "已为您退还年费"  # ... and opened for the push
    sms = [x for x in rows if x.kind == "sms"]
    assert len(sms) == 1 and sms[0].payload["template"] == "SMS_SURVEY"
    assert "13812345678" not in str(sms[0].payload)  # the phone only travels encrypted
    with store.begin() as conn:
        assert conn.execute(select(surveys.c.state).where(surveys.c.ticket_id == t.ticket_id)).scalar() == "pending"
        kinds = [e.kind for e in get_events(conn, t.ticket_id)]
    assert {"accepted", "status_changed", "push_queued", "survey_sent"} <= set(kinds)


def test_failed_transaction_leaves_nothing(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("FB2", received=utcnow()))
    with pytest.raises(RuntimeError), store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="x", note="n")
        raise RuntimeError("crash after the change, before commit")
    assert _rows(store, t.ticket_id) == []
    with store.begin() as conn:
        assert get_ticket(conn, t.ticket_id).handling.status == Status.ASSIGNED


def test_sms_source_gets_sms_not_status_update(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("MO1", source="sms", received=utcnow()))
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="x", note="内部：运维工单 #77",
                               reply="原因：系统故障；已修复；建议重新登录")
    rows = _rows(store, t.ticket_id)
    assert [r.kind for r in rows] == ["sms", "sms"]  # the result, then the survey
    assert rows[0].payload["purpose"] == "result" and "系统故障" not in str(rows[0].payload)
    opened = open_payload(rows[0].payload)
    assert "系统故障" in opened["text"] and "系统故障" in opened["params"]["result"]
    assert "运维工单" not in str(rows[0].payload)  # the internal note is not the customer's text
    assert rows[0].secret_enc is not None


def test_transitions_transfer_and_extension(store) -> None:  # noqa: ANN001
    t = put_ticket(store, make_ticket("FB3", received=utcnow()))
    with store.begin() as conn, pytest.raises(handling.HandlingError):
        handling.change_status(conn, t.ticket_id, Status.REOPENED, actor="x")
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.WAITING_CUSTOMER, actor="x", note="等客户补材料")
        w = get_ticket(conn, t.ticket_id)
    assert all(c.state == ClockState.PAUSED for c in w.clocks)
    with store.begin() as conn:
        back = handling.change_status(conn, t.ticket_id, Status.IN_PROGRESS, actor="x")
    assert back.clock(ClockKind.RESOLUTION).state == ClockState.RUNNING
    due = back.clock(ClockKind.RESOLUTION).due_at
    with store.begin() as conn:
        handling.request_extension(conn, t.ticket_id, actor="handler:li.na", days=30, reason="需调取录音")
        with pytest.raises(handling.HandlingError):
            handling.approve_extension(conn, "T-NOPE", approver="lead.cards")
        ext = handling.approve_extension(conn, t.ticket_id, approver="lead.cards")
    assert ext.clock(ClockKind.RESOLUTION).due_at == due + timedelta(days=30)
    with store.begin() as conn, pytest.raises(handling.HandlingError):
        handling.approve_extension(conn, t.ticket_id, approver="lead.cards")  # nothing pending any more
    with store.begin() as conn:
        moved = handling.transfer(conn, t.ticket_id, actor="lead.cards", to_team="payments", reason="转账类")
        handling.add_note(conn, t.ticket_id, actor="lead.cards", note="已电话告知客户")
    assert moved.handling.team == "payments" and moved.handling.first_handler == "li.na"
    kinds = [(r.kind, r.target) for r in _rows(store, t.ticket_id)]
    assert ("dispatch", "team:payments") in kinds and ("reminder", "team:cards") in kinds
