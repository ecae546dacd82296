"""One outage told in different words is one incident (issue 20: it was split by the fault phrase)."""

from __future__ import annotations

from sqlalchemy import select

from hub.pipeline.enrich import enrich_and_route
from hub.store.tables import incidents
from tests.route.factory import L, make, store_tickets

#: what customers of one app outage wrote (the sandbox's burst texts use all three phrases)
TEXTS = ("手机银行APP一直闪退，什么都办不了", "手机银行登不上，着急转账", "手机银行无法登录，一直转圈")


def test_one_outage_in_different_phrases_is_one_incident(store) -> None:  # noqa: ANN001
    ids = store_tickets(store, *[make(TEXTS[i % 3], phone=f"1330000{i:04d}", at=L(2026, 11, 23, 9, i))
                                 for i in range(12)])
    stats = enrich_and_route(store, ids, now=L(2026, 11, 23, 9, 30))
    with store.begin() as conn:
        rows = conn.execute(select(incidents.c.signature, incidents.c.ticket_count)).all()
    assert [r.ticket_count for r in rows] == [12]  # one incident, whatever the sub-category is called
    assert rows[0].signature.endswith(":fault")
    assert stats.incidents_created == 1 and stats.incident_tickets == 12
