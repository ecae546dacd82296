"""SMS specifics against the sandbox: delivery reports matched to sends, survey replies sorted, ledger use."""

from __future__ import annotations

from connectors.registry import make_connector
from connectors.sms import delivered, match_delivery_reports
from core.schema import Status, StatusUpdate
from hub.judge.intents import detect_sms_intent
from hub.store.ledger import MemoryPushLedger
from tests.connectors.api_adapters import sandbox_config
from tests.connectors.contract import pull_all, records_of


async def test_survey_send_report_and_reply_roundtrip(sandbox_factory):
    sandbox = sandbox_factory(survey_reply_prob=1.0)
    ledger = MemoryPushLedger()
    conn = make_connector("sms", config=sandbox_config(sandbox, "sms"), ledger=ledger)
    try:
        _pages, cursor = await pull_all(conn)
        receipts = []
        for i in range(4):
            up = StatusUpdate(ticket_id=f"T{i}", source="sms", external_id=f"x{i}", status=Status.RESOLVED,
                              customer_phone=f"1381111000{i}", idempotency_key=f"survey-{i}",
                              extra={"template_code": "SMS_SURVEY"})
            receipts.append(await conn.push(up))
        assert all(r.remote_ref and not r.already_applied for r in receipts)
        assert ledger.get("survey-0")["state"] == "sent"
        sandbox.advance(minutes=180)
        reports = [r for items, _c in [x async for x in conn.delivery_reports(None)] for r in items]
        sends = [{"out_id": r.idempotency_key, "biz_id": r.remote_ref} for r in receipts]
        matched = match_delivery_reports(reports, sends)
        assert all(delivered(rep) is not None for _s, rep in matched), "every send gets a delivery report"
        mo, _ = await pull_all(conn, cursor)
        replies = [r.payload for r in records_of(mo) if r.payload.get("mobile", "").startswith("1381111000")]
        assert replies, "the simulated customers answer the survey"
        assert {detect_sms_intent(p["content"]).value for p in replies} <= {"survey_reply", "unsubscribe"}
    finally:
        await conn.aclose()


async def test_send_with_unknown_outcome_is_not_repeated(sandbox):
    """A send that reached the gateway but whose answer was lost: the ledger says `sending`."""
    ledger = MemoryPushLedger()
    conn = make_connector("sms", config=sandbox_config(sandbox, "sms"), ledger=ledger)
    try:
        first = await conn.send("13822220000", "SMS_NOTICE", {"ticket": "T9", "hours": "4"}, "lost-answer-1")
        ledger.mark("lost-answer-1", "sending")  # as if the process died before recording `sent`
        again = await conn.send("13822220000", "SMS_NOTICE", {"ticket": "T9", "hours": "4"}, "lost-answer-1")
    finally:
        await conn.aclose()
    assert again.already_applied and again.remote_ref == first.remote_ref
    assert ledger.get("lost-answer-1")["state"] == "sent"
    sends = [w for w in sandbox.writes("sms") if w["data"].get("out_id") == "lost-answer-1"]
    assert len(sends) == 1
