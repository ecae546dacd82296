"""End to end against the sandbox: the whole life of a ticket, push-back once per source, survey, reopen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from core.pii import get_vault
from core.schema import (
    ClockKind,
    Customer,
    Handling,
    Judgement,
    Matter,
    RawRecord,
    Source,
    Status,
    Ticket,
    TicketEvent,
    Urgency,
    make_ticket_id,
    utcnow,
)
from hub import sla
from hub.chase.reminders import chase
from hub.handling import actions as handling
from hub.handling.replies import process_replies
from hub.outbox.announce import announce_dispatch
from hub.outbox.worker import drain_outbox
from hub.store.landing import land
from hub.store.tables import outbox, raw_records
from hub.store.tickets import get_events, get_ticket, save_ticket, upsert_tickets
from tests.outbox.helpers import webhook_receiver
from tests.outbox.sandbox_helpers import pick, sms_sends_to, writes_for

SECRET = "e2e-hook-secret"
TAKEN: set[str] = set()  # each test (and each store run) uses its own sandbox complaint


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    from sandbox import Sandbox

    box = Sandbox(seed=11, backlog=60, rate=0, survey_reply_prob=0.0,
                  start=datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    box.start(port=0)
    yield box
    box.stop()


def factory(sb: Any):  # noqa: ANN201
    from connectors.config import load_sources
    from connectors.registry import make_connector

    cfg = load_sources(overrides=sb.urls)
    return lambda source, **kw: make_connector(source, config=cfg, **kw)


def new_ticket(store, source: Source, ext: str, phone: str, *, urgent: bool = True) -> Ticket:  # noqa: ANN001
    """A ticket as normalisation leaves it (status new), then routed: team, handler, real SLA clocks."""
    now = utcnow()
    t = Ticket(ticket_id=make_ticket_id(source, ext), source=source, external_id=ext, received_at=now,
               customer=Customer(name="测试客户", phone=phone, phone_hash=get_vault().hash(phone)),
               matter=Matter(title="信用卡被盗刷", content="卡在身上被刷了"),
               judgement=Judgement(urgency=Urgency.URGENT if urgent else Urgency.GENERAL),
               handling=Handling(status=Status.NEW))
    with store.begin() as conn:
        upsert_tickets(conn, [t])
        t.handling = Handling(status=Status.ASSIGNED, team="cards", handler="li.na", first_handler="li.na")
        sla.start_clocks(t, now)
        save_ticket(conn, t, [TicketEvent(ticket_id=t.ticket_id, actor="hub:route", kind="routed",
                                          data={"team": "cards", "handler": "li.na"})])
        announce_dispatch(conn, t, "cards", reason="routed")
    return t


async def test_ticket_life_end_to_end(sb, use_store, monkeypatch) -> None:  # noqa: ANN001
    store = use_store
    make = factory(sb)
    ext, phone = pick(sb, "app", TAKEN)
    with webhook_receiver(SECRET) as hook:
        monkeypatch.setenv("HUB_TEAM_CARDS_WEBHOOK", hook.url)
        monkeypatch.setenv("HUB_TEAM_CARDS_WEBHOOK_SECRET", SECRET)
        t = new_ticket(store, "app", ext, phone)
        assert (await drain_outbox(store, "w", connector_factory=make)).by_kind == {"dispatch": 1}
        fr = t.clock(ClockKind.FIRST_RESPONSE)
        # warned → breached → escalated (the chase runs at the moments they come due)
        assert chase(store, now=fr.warn_at[0] + timedelta(seconds=1)).by_level.get("warn_1") == 1
        assert chase(store, now=fr.due_at + timedelta(seconds=1)).by_level == {"breach": 1}
        assert chase(store, now=fr.due_at + timedelta(hours=2, seconds=1)).by_level.get("escalate_1") == 1
        s = await drain_outbox(store, "w", connector_factory=make)
        assert s.by_kind == {"reminder": 3} and s.failed == 0
        levels = [b["level"] for b in hook.bodies if b.get("event") == "reminder"]
        assert sorted(levels) == ["breach", "escalate_1", "warn_1"]  # delivered concurrently: any order
        assert hook.bad_signatures == 0 and all(n == 1 for n in hook.keys.values())
        # accepted, then resolved: the push-back goes to the app exactly once
        with store.begin() as conn:
            handling.accept(conn, t.ticket_id, actor="handler:li.na", handler="li.na")
            handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="已冻结并补发新卡",
                                   reply="您好，盗刷款项已退回，新卡已寄出。")
        s = await drain_outbox(store, "w", connector_factory=make)
        assert s.by_kind == {"status_update": 1, "sms": 1} and s.failed == 0, s.errors
        app_writes = writes_for(sb, "app", ext)
        assert len(app_writes) == 1 and app_writes[0]["data"]["status"] == "resolved"
        # a replay of the same row (a worker that died before marking it) changes nothing at the source
        with store.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.kind == "status_update").values(state="pending"))
        assert (await drain_outbox(store, "w", connector_factory=make)).sent == 1
        assert len(writes_for(sb, "app", ext)) == 1
        # surveyed: the customer got 回复1满意 2不满意 once, and answers 2
        surveys = sms_sends_to(sb, phone)
        assert [w["data"]["template_code"] for w in surveys] == ["SMS_SURVEY"]
        mo = sb.inject("sms", fields={"mobile": phone, "content": "2"}, kind="survey_reply")
        payload = next(p for p in sb.records("sms") if p["mo_id"] == mo)
        land(store, "sms", [RawRecord(source="sms", external_id=mo, payload=payload)], {"mo": mo})
        with store.begin() as conn:
            conn.execute(update(raw_records).where(raw_records.c.external_id == mo).values(state="survey_reply"))
        assert process_replies(store).reopened == 1
        with store.begin() as conn:
            again = get_ticket(conn, t.ticket_id)
        assert again.handling.status == Status.REOPENED and again.handling.handler == "li.na"
        assert again.clock(ClockKind.RESOLUTION).started_at > t.clock(ClockKind.RESOLUTION).started_at
        # resolved again: a second, distinct push-back
        with store.begin() as conn:
            handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="二次核实",
                                   reply="已再次核实并补偿。")
        s = await drain_outbox(store, "w", connector_factory=make)
        assert s.failed == 0 and s.by_kind.get("status_update") == 1, s.errors
    app_writes = writes_for(sb, "app", ext)
    assert len(app_writes) == 2 and len({w["idempotency_key"] for w in app_writes}) == 2
    with store.begin() as conn:
        kinds = [e.kind for e in get_events(conn, t.ticket_id)]
    for k in ("created", "routed", "reminded", "clock_breached", "accepted", "status_changed", "survey_sent",
              "survey_answered", "reopened"):
        assert k in kinds, k


VOCAB = {
    "app": lambda ws: [w["data"]["status"] for w in ws] == ["resolved"],
    "callcenter": lambda ws: [w["data"]["status"] for w in ws] == ["40"],
}


@pytest.mark.parametrize("source", ["app", "callcenter", "sms"])
async def test_push_back_in_each_source_vocabulary_once(sb, use_store, source) -> None:  # noqa: ANN001
    store = use_store
    make = factory(sb)
    ext, phone = pick(sb, source, TAKEN)
    t = new_ticket(store, Source(source), ext, phone)
    before_sms = len(sms_sends_to(sb, phone))
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na",
                               note="原因：系统升级导致扣款异常；方案：已退款；建议：关注到账短信", reply="已为您退款")
    for _ in range(2):  # the second drain (and a forced replay) must not write again
        s = await drain_outbox(store, "w", kinds=["status_update", "sms"], connector_factory=make)
        assert s.failed == 0 and s.dead == 0, s.errors
        with store.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.ticket_id == t.ticket_id).values(state="pending"))
    if source == "sms":
        sends = sms_sends_to(sb, phone)[before_sms:]
        assert sorted(w["data"]["template_code"] for w in sends) == ["SMS_RESULT", "SMS_SURVEY"]
        assert "已为您退款" in str(next(w for w in sends if w["data"]["template_code"] == "SMS_RESULT")["data"])
    else:
        assert VOCAB[source](writes_for(sb, source, ext)), writes_for(sb, source, ext)
    with store.begin() as conn:
        states = conn.execute(select(outbox.c.kind, outbox.c.state).where(outbox.c.ticket_id == t.ticket_id)).all()
    assert {k for k, _ in states} >= {"sms"}  # survey at least


@pytest.mark.browser
@pytest.mark.parametrize("source", ["gov12315", "blackcat"])
async def test_push_back_to_portals_once(sb, sqlite_store, browser, source) -> None:  # noqa: ANN001
    """12315 gets 协商过程/方式/结果 (和解成功); 黑猫 a reply then 申请完成 — once, through the real portals."""
    from connectors.portal.runtime import PortalRuntime

    store = sqlite_store
    ext, phone = pick(sb, source, TAKEN)
    t = new_ticket(store, Source(source), ext, phone)
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na",
                               note="经电话协商，已退还年费300元，客户认可", reply="您好，年费已退还，请查收。",
                               settled=True, method="电话协商")
    runtime = await PortalRuntime(browser=browser, tracing=False).start()
    try:
        for _ in range(2):  # a replay after the first success must not submit again
            s = await drain_outbox(store, "w", kinds=["status_update"], connector_factory=factory(sb),
                                   portal_runtime=runtime)
            assert s.failed == 0 and s.dead == 0 and s.sent == 1, s.errors
            with store.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.kind == "status_update").values(state="pending"))
    finally:
        await runtime.aclose()
    ws = writes_for(sb, source, ext)
    if source == "gov12315":
        assert [w["kind"] for w in ws] == ["handle"]
        assert ws[0]["data"]["result"] == "和解成功" and ws[0]["data"]["method"] == "电话协商"
        # the 协商过程 the complainant reads is the reply; the internal note never leaves the hub
        assert ws[0]["data"]["process"] == "您好，年费已退还，请查收。" and "客户认可" not in str(ws)
    else:
        assert [w["kind"] for w in ws] == ["reply", "complete"]
        assert ws[0]["data"]["content"].startswith("您好，年费已退还，请查收。")  # + the connector's reply marker
