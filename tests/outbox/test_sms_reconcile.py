"""SMS rows against the gateway, one by one: every row marked sent is one gateway send; no send is unexplained.

Before issue 20 an SMS to a customer who had unsubscribed (TD) was not sent but its row
was marked `sent` (receipt `skipped`): the hub counted more SMS sent than the gateway
recorded. Now such a row is `skipped`, with its reason.
"""

from __future__ import annotations

from sqlalchemy import select

from core.pii import get_vault
from core.schema import Status, utcnow
from hub.handling import actions as handling
from hub.outbox.worker import drain_outbox
from hub.store.tables import contact_optouts, outbox
from tests.outbox.sandbox_helpers import pick
from tests.outbox.test_e2e_sandbox import factory, new_ticket, sb  # noqa: F401 - the module's sandbox fixture

TAKEN: set[str] = set()


async def test_sms_rows_match_gateway_sends_one_by_one(sb, sqlite_store) -> None:  # noqa: ANN001, F811
    store = sqlite_store
    picked = [pick(sb, "sms", TAKEN) for _ in range(6)]
    opted = {phone for _, phone in picked[:2]}
    for ext, phone in picked:
        t = new_ticket(store, "sms", ext, phone)
        with store.begin() as conn:
            handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="已处理",
                                   reply="您好，问题已处理。")
    with store.begin() as conn:  # two customers reply TD (退订) after their SMS were queued, before the send
        for phone in opted:
            conn.execute(contact_optouts.insert().values(phone_hash=get_vault().hash(phone), channel="sms",
                                                         at=utcnow()))
    stats = await drain_outbox(store, "w", kinds=["sms"], connector_factory=factory(sb))
    assert stats.failed == 0, stats.errors
    with store.begin() as conn:
        rows = conn.execute(select(outbox.c.idempotency_key, outbox.c.state, outbox.c.receipt)
                            .where(outbox.c.kind == "sms")).all()
    sends = [w for w in sb.writes("sms") if w["kind"] == "send"]
    by_out = {}
    for w in sends:
        by_out.setdefault(w["data"]["out_id"], []).append(w)
    mine = {key for key, _, _ in rows}
    sent = [key for key, state, _ in rows if state == "sent"]
    skipped = [(key, receipt) for key, state, receipt in rows if state == "skipped"]
    for key in sent:
        assert len(by_out.get(key, [])) == 1, f"row {key} is marked sent but the gateway has {len(by_out.get(key, []))}"
    for key, receipt in skipped:
        assert key not in by_out and receipt["skipped"] == "unsubscribed"
    assert len(sent) == len([k for k in by_out if k in mine])  # the counts agree
    assert skipped and stats.skipped == len(skipped)
    assert {s["data"]["mobile"] for s in sends if s["data"]["out_id"] in mine}.isdisjoint(opted)
