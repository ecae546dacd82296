"""Authorisation matrix: team × endpoint × role, on SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.store.tables import api_tokens, outbox
from hub.store.tickets import get_events
from tests.api.seed import ID_NUMBER, PHONE, make_ticket, seed

ACTIONS = {  # path suffix → a valid body
    "accept": {}, "notes": {"note": "已致电客户"}, "reply": {"text": "您好，年费将在3个工作日内退回。"},
    "resolve": {"note": "已退费", "reply": "已为您退还年费"}, "transfer": {"to_team": "payments", "reason": "涉及扣款"},
    "extension": {"days": 30, "reason": "需调取录音"},
}


def _seed_matrix(api) -> dict[str, str]:  # noqa: ANN001
    """One cards ticket per action (actions change state), one payments ticket, one for approvals."""
    items = {name: make_ticket(f"C-{name}", team="cards", handler="zhang.wei") for name in ACTIONS}
    items["detail"] = make_ticket("C-detail", team="cards")
    items["approve"] = make_ticket("C-approve", team="cards", handler="zhang.wei")
    items["pay"] = make_ticket("P-1", team="payments")
    seed(api.store, list(items.values()))
    return {k: t.ticket_id for k, t in items.items()}


def test_authorisation_matrix(api) -> None:  # noqa: ANN001
    ids = _seed_matrix(api)
    anon, bad = api.client(), api.client(token="hub_not-a-real-token")
    cards_h, cards_l = api.client("cards", "handler"), api.client("cards", "lead")
    cards_c, pay_h, pay_l = api.client("cards", "compliance"), api.client("payments", "handler"), \
        api.client("payments", "lead")
    failures: list[str] = []

    def expect(client, method, path, code, body=None):  # noqa: ANN001, ANN202
        r = client.request(method, path, json=body)
        if r.status_code != code:
            failures.append(f"{method} {path} as {client.headers.get('authorization', 'anon')[:14]}: "
                            f"{r.status_code} != {code} ({r.text[:120]})")
        return r

    # no token / bad token: 401 everywhere, before anything else is looked at
    for c in (anon, bad):
        expect(c, "GET", "/api/v1/queue", 401)
        expect(c, "GET", "/api/v1/me", 401)
        expect(c, "GET", f"/api/v1/tickets/{ids['detail']}", 401)
        for name, body in ACTIONS.items():
            expect(c, "POST", f"/api/v1/tickets/{ids[name]}/{name}", 401, body)
        expect(c, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 401, {"approve": True})

    # another team: 404 for reads and every action, with the same body as an unknown ticket
    unknown = expect(pay_h, "GET", "/api/v1/tickets/TDOESNOTEXIST", 404).json()
    other = expect(pay_h, "GET", f"/api/v1/tickets/{ids['detail']}", 404).json()
    assert other == unknown
    for c in (pay_h, pay_l):
        expect(c, "GET", f"/api/v1/tickets/{ids['detail']}?reveal=true", 404)
        for name, body in ACTIONS.items():
            expect(c, "POST", f"/api/v1/tickets/{ids[name]}/{name}", 404, body)
        expect(c, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 404, {"approve": True})
    pay_queue = expect(pay_h, "GET", "/api/v1/queue", 200).json()
    assert [i["ticket_id"] for i in pay_queue["items"]] == [ids["pay"]]
    # ...and cards cannot touch the payments ticket either
    expect(cards_l, "GET", f"/api/v1/tickets/{ids['pay']}", 404)
    expect(cards_h, "POST", f"/api/v1/tickets/{ids['pay']}/accept", 404, {})

    # own team: reads and actions on the handler's own tickets succeed; a transfer is the lead's
    # (the full role matrix: tests/security/test_roles.py, from docs/roles.md)
    q = expect(cards_h, "GET", "/api/v1/queue", 200).json()
    assert ids["pay"] not in {i["ticket_id"] for i in q["items"]}
    assert {ids[n] for n in ACTIONS} <= {i["ticket_id"] for i in q["items"]}
    expect(cards_h, "GET", f"/api/v1/tickets/{ids['detail']}", 200)
    for name, body in ACTIONS.items():
        if name == "transfer":
            expect(cards_h, "POST", f"/api/v1/tickets/{ids[name]}/{name}", 403, body)
            expect(cards_l, "POST", f"/api/v1/tickets/{ids[name]}/{name}", 200, body)
        else:
            expect(cards_h, "POST", f"/api/v1/tickets/{ids[name]}/{name}", 200, body)

    # compliance reads and notes but does not handle
    expect(cards_c, "GET", f"/api/v1/tickets/{ids['detail']}", 200)
    expect(cards_c, "POST", f"/api/v1/tickets/{ids['detail']}/notes", 200, {"note": "合规抽查"})
    expect(cards_c, "POST", f"/api/v1/tickets/{ids['detail']}/accept", 403, {})
    expect(cards_c, "POST", f"/api/v1/tickets/{ids['detail']}/resolve", 403, {"note": "x"})

    # approvals: nothing pending → 409 for the lead; after a request, handler 403, lead 200
    expect(cards_l, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 409, {"approve": True})
    expect(cards_h, "POST", f"/api/v1/tickets/{ids['approve']}/extension", 200, {"days": 30, "reason": "复杂"})
    detail = expect(cards_l, "GET", f"/api/v1/tickets/{ids['approve']}", 200).json()
    assert detail["pending_extension"] is not None
    expect(cards_h, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 403, {"approve": True})
    expect(cards_c, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 403, {"approve": True})
    cards_a = api.client("cards", "admin")
    expect(cards_a, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 403, {"approve": True})
    expect(cards_a, "GET", f"/api/v1/tickets/{ids['approve']}?reveal=true", 403)
    expect(cards_c, "GET", f"/api/v1/tickets/{ids['approve']}?reveal=true", 200)  # compliance may unmask
    expect(cards_l, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 200, {"approve": True})
    # four eyes: a lead's own request needs another approver
    expect(cards_l, "POST", f"/api/v1/tickets/{ids['approve']}/extension", 200, {"days": 10, "reason": "再延"})
    expect(cards_l, "POST", f"/api/v1/tickets/{ids['approve']}/extension/approve", 409, {"approve": True})
    assert not failures, "\n".join(failures)

    # effects: the transferred ticket left cards (404 now) and is in payments' queue
    expect(cards_h, "GET", f"/api/v1/tickets/{ids['transfer']}", 404)
    assert ids["transfer"] in {i["ticket_id"] for i in pay_h.get("/api/v1/queue").json()["items"]}
    # resolve is resolved; reply became a push-back in the outbox
    assert cards_h.get(f"/api/v1/tickets/{ids['resolve']}").json()["status"] == "resolved"
    with api.store.begin() as conn:
        kinds = {(r.ticket_id, r.kind) for r in conn.execute(select(outbox.c.ticket_id, outbox.c.kind))}
        events = get_events(conn, ids["approve"])
        hashes = [r.token_hash for r in conn.execute(select(api_tokens.c.token_hash))]
    assert (ids["reply"], "status_update") in kinds
    decided = [e for e in events if e.kind == "extension_approved"]
    assert len(decided) == 1 and decided[0].actor == "lead:lead.cards" and events[-1].kind == "extension_requested"
    # tokens are stored hashed, never in clear
    assert all(len(h) == 64 and not h.startswith("hub_") for h in hashes)
    assert api.tokens[("cards", "lead")] not in hashes


def test_pii_masked_unless_revealed_and_audited(api) -> None:  # noqa: ANN001
    (tid,) = seed(api.store, [make_ticket("C-pii", team="cards")])
    h, lead = api.client("cards", "handler"), api.client("cards", "lead")
    masked = h.get(f"/api/v1/tickets/{tid}")
    assert masked.status_code == 200
    assert PHONE not in masked.text and ID_NUMBER not in masked.text and "张三丰" not in masked.text
    assert masked.json()["ticket"]["customer"]["phone"] == "138****5678"
    assert PHONE not in h.get("/api/v1/queue").text
    assert h.get(f"/api/v1/tickets/{tid}?reveal=true").status_code == 403  # a handler may not unmask
    with api.store.begin() as conn:
        assert not [e for e in get_events(conn, tid) if e.kind == "pii_revealed"]
    clear = lead.get(f"/api/v1/tickets/{tid}", params={"reveal": "true"}).json()
    assert clear["revealed"] is True
    assert clear["ticket"]["customer"]["phone"] == PHONE and PHONE in clear["ticket"]["matter"]["content"]
    with api.store.begin() as conn:
        audits = [e for e in get_events(conn, tid) if e.kind == "pii_revealed"]
    assert len(audits) == 1 and audits[0].actor == "lead:lead.cards" and audits[0].data["channel"] == "api"
    # the audit shows on the timeline too, and explanations come with the detail
    again = h.get(f"/api/v1/tickets/{tid}").json()
    assert "pii_revealed" in [e["kind"] for e in again["timeline"]]
    assert again["explanations"]["category"]["matched"] == ["年费", "乱收费"]
    assert again["explanations"]["category"]["reason_zh"] == "关键词权重 3"  # for people: Chinese, as on the console


def test_queue_sorted_and_filtered(api) -> None:  # noqa: ANN001
    from core.schema import Status, Urgency

    items = [make_ticket("Q-late", team="cards", due_in=timedelta(hours=-2)),
             make_ticket("Q-soon", team="cards", due_in=timedelta(minutes=30), urgency=Urgency.URGENT),
             make_ticket("Q-later", team="cards", due_in=timedelta(hours=20), source="callcenter"),
             make_ticket("Q-warn", team="cards", due_in=timedelta(hours=6), warn_before=timedelta(hours=7)),
             make_ticket("Q-done", team="cards", status=Status.RESOLVED)]
    late, soon, later, warn, done = seed(api.store, items)
    c = api.client("cards", "handler")
    q = c.get("/api/v1/queue").json()["items"]
    assert [i["ticket_id"] for i in q] == [late, soon, warn, later]  # nearest deadline first, open only
    assert {i["ticket_id"]: i["deadline_state"] for i in q} == {late: "breach", soon: "warning", warn: "warning",
                                                               later: "ok"}
    ids = lambda **p: [i["ticket_id"] for i in c.get("/api/v1/queue", params=p).json()["items"]]  # noqa: E731
    assert ids(overdue="true") == [late]
    assert ids(due_soon="true") == [soon]
    assert ids(urgency="urgent") == [soon]
    assert ids(source="callcenter") == [later]
    assert ids(status="resolved") == [done]
    assert c.get("/api/v1/queue", params={"urgency": "bogus"}).status_code == 422
    me = c.get("/api/v1/me").json()
    assert me == {"name": "zhang.wei", "team": "cards", "role": "handler", "may_reveal": False,
                  "may_approve": False}
