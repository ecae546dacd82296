"""Survey after resolution: satisfied closes, dissatisfied reopens to the first handler, opt-outs, expiry."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core.schema import ClockKind, ClockState, RawRecord, Status, utcnow
from hub.handling import actions as handling
from hub.handling.replies import expire_surveys, process_replies
from hub.store.landing import land
from hub.store.tables import outbox, raw_records, surveys, tickets
from hub.store.tickets import get_events, get_ticket
from tests.outbox.helpers import PHONE, make_ticket, put_ticket


def _mo(store, mo_id: str, text: str, state: str, phone: str = PHONE) -> None:  # noqa: ANN001
    rec = RawRecord(source="sms", external_id=mo_id, payload={
        "mo_id": mo_id, "mobile": phone, "content": text, "received_at": "2026-11-23 10:00:00",
        "dest_code": "10690001", "reply_to_out_id": None})
    land(store, "sms", [rec], {"mo_cursor": mo_id})
    with store.begin() as conn:  # what the SMS normaliser does with a survey reply / unsubscribe
        conn.execute(update(raw_records).where(raw_records.c.external_id == mo_id).values(state=state))


def _resolved(store, ext: str, handler: str = "li.na"):  # noqa: ANN001, ANN202
    t = put_ticket(store, make_ticket(ext, received=utcnow() - timedelta(hours=5), handler=handler))
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor=f"handler:{handler}", note="已处理",
                               reply="已退款")
    return t


def test_satisfied_closes(store) -> None:  # noqa: ANN001
    t = _resolved(store, "FB30")
    _mo(store, "MO1", "1", "survey_reply")
    s = process_replies(store)
    assert s.satisfied == 1
    with store.begin() as conn:
        assert get_ticket(conn, t.ticket_id).handling.status == Status.CLOSED
        sv = conn.execute(select(surveys).where(surveys.c.ticket_id == t.ticket_id)).one()
        raw_state = conn.execute(select(raw_records.c.state).where(raw_records.c.external_id == "MO1")).scalar()
    assert sv.state == "answered" and sv.answer == "satisfied" and raw_state == "survey_done"
    assert process_replies(store).satisfied == 0  # a reply is applied once


def test_dissatisfied_reopens_to_first_handler_with_new_clock(store) -> None:  # noqa: ANN001
    t = _resolved(store, "FB31")
    with store.begin() as conn:  # someone else touched it meanwhile; 首接 stays li.na
        conn.execute(update(tickets).where(tickets.c.ticket_id == t.ticket_id).values(handler="ma.chao"))
    _mo(store, "MO2", "不满意", "survey_reply")
    before = utcnow()
    s = process_replies(store)
    assert s.reopened == 1
    with store.begin() as conn:
        r = get_ticket(conn, t.ticket_id)
        kinds = [e.kind for e in get_events(conn, t.ticket_id)]
        dispatch = conn.execute(select(outbox).where(outbox.c.ticket_id == t.ticket_id,
                                                     outbox.c.kind == "dispatch")).all()
    assert r.handling.status == Status.REOPENED and r.handling.handler == "li.na"
    res = r.clock(ClockKind.RESOLUTION)
    assert res.state == ClockState.RUNNING and res.started_at >= before
    assert "reopened" in kinds and "survey_answered" in kinds and len(dispatch) == 1
    # resolved again: a new push-back and a new survey (the old one is not reused)
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="二次处理")
        keys = conn.execute(select(outbox.c.idempotency_key).where(outbox.c.ticket_id == t.ticket_id,
                                                                    outbox.c.kind == "status_update")).scalars().all()
    assert len(keys) == 2 and len(set(keys)) == 2


def test_unsubscribe_stops_sms_and_expiry_closes(store) -> None:  # noqa: ANN001
    _mo(store, "MO3", "TD", "unsubscribe")
    assert process_replies(store).optouts == 1
    t = _resolved(store, "FB32")
    with store.begin() as conn:
        sms = conn.execute(select(outbox).where(outbox.c.ticket_id == t.ticket_id, outbox.c.kind == "sms")).all()
        kinds = [e.kind for e in get_events(conn, t.ticket_id)]
    assert sms == [] and "survey_skipped" in kinds
    other = put_ticket(store, make_ticket("FB33", received=utcnow(), phone="13900001111"))
    with store.begin() as conn:
        handling.change_status(conn, other.ticket_id, Status.RESOLVED, actor="x", note="ok")
    assert expire_surveys(store) == 0
    assert expire_surveys(store, now=utcnow() + timedelta(days=4)) == 1
    with store.begin() as conn:
        assert get_ticket(conn, other.ticket_id).handling.status == Status.CLOSED


def test_unmatched_reply_is_kept_aside(store) -> None:  # noqa: ANN001
    _mo(store, "MO4", "2", "survey_reply", phone="13700000000")
    assert process_replies(store).unmatched == 1


def test_neutral_closes_by_default_and_counts_as_neutral(store) -> None:  # noqa: ANN001
    t = _resolved(store, "FB40")
    _mo(store, "MO40", "一般吧", "survey_reply")
    s = process_replies(store)
    assert (s.neutral, s.satisfied, s.reopened) == (1, 0, 0)
    with store.begin() as conn:
        r = get_ticket(conn, t.ticket_id)
        sv = conn.execute(select(surveys).where(surveys.c.ticket_id == t.ticket_id)).one()
    assert r.handling.status == Status.CLOSED and r.handling.satisfied is None  # neither satisfied nor not
    assert sv.answer == "neutral"


def test_neutral_reopens_under_the_reopen_policy(store, hub_config) -> None:  # noqa: ANN001
    path = hub_config / "chase.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("neutral: close", "neutral: reopen"), encoding="utf-8")
    from tests.fixtures.hub_config import clear_config_caches

    clear_config_caches()
    t = _resolved(store, "FB41")
    _mo(store, "MO41", "3", "survey_reply")
    s = process_replies(store)
    assert (s.neutral, s.reopened) == (0, 1)
    with store.begin() as conn:
        assert get_ticket(conn, t.ticket_id).handling.status == Status.REOPENED


def test_dissatisfied_remark_reopens_and_stays_as_a_masked_note(store) -> None:  # noqa: ANN001
    t = _resolved(store, "FB42")
    _mo(store, "MO42", "2 钱还没到账，打我电话13912345678", "survey_reply")
    assert process_replies(store).reopened == 1
    with store.begin() as conn:
        events = get_events(conn, t.ticket_id)
    answered = [e for e in events if e.kind == "survey_answered"][-1]
    assert "钱还没到账" in (answered.note or "") and "13912345678" not in (answered.note or "")
    reopened = [e for e in events if e.kind == "reopened"][-1]
    assert "钱还没到账" in (reopened.note or "") and "13912345678" not in (reopened.note or "")


def test_dissatisfied_reply_threatening_escalation_makes_the_reopened_ticket_urgent(store) -> None:  # noqa: ANN001
    t = _resolved(store, "FB43")
    _mo(store, "MO43", "2 还是没解决，我要投诉到12315", "survey_reply")
    assert process_replies(store).reopened == 1
    with store.begin() as conn:
        r = get_ticket(conn, t.ticket_id)
        kinds = [e.kind for e in get_events(conn, t.ticket_id)]
    assert r.handling.status == Status.REOPENED and r.judgement.urgency.value == "urgent"
    assert [x.value for x in r.judgement.escalation_intent] == ["regulator"]
    assert "升级投诉" in r.explanations["escalation"].reason and "escalation_threat" in kinds
