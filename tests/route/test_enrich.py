"""enrich_and_route on SQLite and PostgreSQL: judgement, routing strategies, clocks, dispatch, incidents."""

from __future__ import annotations

import yaml
from sqlalchemy import select

from core.schema import ClockKind, Status
from hub.pipeline.enrich import enrich_and_route
from hub.store.tables import incidents, outbox, team_state
from hub.store.tickets import get_events, get_tickets, save_tickets
from tests.route.factory import L, make, store_tickets

NOW = L(2026, 11, 23, 10, 30)  # Monday morning: every team is on duty


def _outbox(store):  # noqa: ANN001, ANN202
    with store.begin() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.id)))


def test_judged_routed_clocked_and_dispatched(store) -> None:  # noqa: ANN001
    ids = store_tickets(store,
                        make("我的信用卡被盗刷了两万元，卡一直在身上", source="sms", phone="13800000001"),
                        make("信用卡年费乱扣，要求退还年费300元", source="blackcat", phone="13800000002"),
                        make("投诉人反映理财产品亏损，要求赔偿", source="gov12315", phone="13800000003"),
                        make("请问手机银行怎么开通指纹登录", source="app"))
    stats = enrich_and_route(store, ids, now=NOW)
    assert stats.routed == 4 and stats.dispatched == 4 and stats.urgent == 1
    with store.begin() as conn:
        got = get_tickets(conn, ids)
        theft, fees, gov, consult = (got[i] for i in ids)
        events = get_events(conn, ids[0])
    assert (theft.handling.team, theft.judgement.sub_category) == ("security", "theft")
    assert (fees.handling.team, gov.handling.team, consult.handling.team) == ("cards", "regulatory", "digital")
    for t in got.values():
        assert t.handling.status == Status.ASSIGNED and t.handling.handler
        assert t.handling.first_handler == t.handling.handler
        assert {c.kind for c in t.clocks} == {ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION}
        assert {"category", "urgency", "risk", "escalation", "team", "handler", "clock.first_response",
                "clock.resolution"} <= set(t.explanations)
    assert theft.clock(ClockKind.FIRST_RESPONSE).due_at == L(2026, 11, 23, 11)  # urgent: 1 h from receipt
    assert gov.clock(ClockKind.RESOLUTION).policy == "gov12315"
    assert theft.explanations["team"].matched == ["security-critical"]
    assert {"created", "routed", "classified"} <= {e.kind for e in events}
    rows = _outbox(store)
    assert len(rows) == 4 and {r.kind for r in rows} == {"dispatch"}
    row = next(r for r in rows if r.ticket_id == ids[0])
    p = row.payload
    assert row.idempotency_key == f"dispatch:{ids[0]}:security:0" and row.target == "team:security"
    assert p["customer"] == {"name": "王**", "phone": "138****0001"}
    assert p["urgency"] == "urgent" and p["first_response_due"].startswith("2026-11-23T03:00")
    assert {"ticket_id", "source", "external_id", "team", "handler", "title", "category", "sub_category",
            "risk_level", "resolution_due", "incident_id", "case_id", "reasons"} <= set(p)
    # a rerun re-judges but neither re-routes nor dispatches again
    again = enrich_and_route(store, ids, now=NOW)
    assert again.routed == 0 and again.rejudged == 4 and len(_outbox(store)) == 4


def test_round_robin_is_persisted_between_batches(store) -> None:  # noqa: ANN001
    first = store_tickets(store, *[make(f"转账失败，钱没到账{i}", phone=f"1390000000{i}", at=L(2026, 11, 23, 9, i))
                                  for i in range(3)])
    enrich_and_route(store, first, now=NOW)
    second = store_tickets(store, make("跨行汇款未到账", phone="13900000009"))
    enrich_and_route(store, second, now=NOW)
    with store.begin() as conn:
        got = get_tickets(conn, first + second)
        rr = conn.execute(select(team_state.c.rr_index).where(team_state.c.team == "payments")).scalar()
    order = [got[i].handling.handler for i in first + second]
    assert order == ["liu.yang", "chen.jing", "zhao.lei", "liu.yang"]
    assert rr == 4


def test_least_loaded_counts_open_tickets(store) -> None:  # noqa: ANN001
    busy = [make(f"手机银行闪退{i}", phone=f"1370000000{i}") for i in range(4)]
    ids = store_tickets(store, *busy)
    with store.begin() as conn:
        got = get_tickets(conn, ids)
        for t in got.values():  # sun.li already holds four open tickets
            t.handling.team, t.handling.handler, t.handling.status = "digital", "sun.li", Status.IN_PROGRESS
        save_tickets(conn, list(got.values()))
    new = store_tickets(store, make("手机银行登录失败", phone="13700000099"))
    enrich_and_route(store, new, now=NOW)
    with store.begin() as conn:
        t = get_tickets(conn, new)[new[0]]
    assert t.handling.handler == "zhou.qiang"  # the other ebanking-skilled handler, 0 open
    assert "least_loaded" in t.explanations["handler"].reason


def test_sticky_same_customer_and_case(store) -> None:  # noqa: ANN001
    a = store_tickets(store, make("信用卡年费乱扣", phone="13600000001", at=L(2026, 11, 20, 9), case_id="C1"))
    enrich_and_route(store, a, now=L(2026, 11, 20, 9, 5))
    with store.begin() as conn:
        owner = get_tickets(conn, a)[a[0]].handling.handler
    # the same customer again, and another customer on the same case: both stay with the owner
    b = store_tickets(store, make("信用卡分期手续费太高", phone="13600000001"),
                      make("信用卡账单金额不对", phone="13600000002", case_id="C1"))
    stats = enrich_and_route(store, b, now=NOW)
    with store.begin() as conn:
        got = get_tickets(conn, b)
    assert [got[i].handling.handler for i in b] == [owner, owner]
    assert "首接责任" in got[b[0]].explanations["handler"].reason
    assert stats.routed == 2


def test_senior_for_repeats_and_critical_risk(store) -> None:  # noqa: ANN001
    ids = store_tickets(store, make("信用卡年费又被扣了", phone="13500000001", repeat_count=3),
                        make("手机银行闪退", phone="13500000002", repeat_count=0))
    enrich_and_route(store, ids, now=NOW)
    with store.begin() as conn:
        got = get_tickets(conn, ids)
    assert got[ids[0]].handling.handler == "wang.fang"  # the cards team's senior
    assert "senior" in got[ids[0]].explanations["handler"].reason
    assert got[ids[1]].handling.handler != "wu.min"


def test_reopened_goes_back_to_original_handler(store) -> None:  # noqa: ANN001
    ids = store_tickets(store, make("信用卡年费乱扣", phone="13400000001", at=L(2026, 11, 16, 9)))
    enrich_and_route(store, ids, now=L(2026, 11, 16, 9, 5))
    with store.begin() as conn:
        t = get_tickets(conn, ids)[ids[0]]
        original = t.handling.handler
        t.handling.status, t.handling.handler = Status.REOPENED, "li.na" if original != "li.na" else "zhang.wei"
        save_tickets(conn, [t])
    stats = enrich_and_route(store, ids, now=NOW)
    with store.begin() as conn:
        t = get_tickets(conn, ids)[ids[0]]
    assert stats.reopened == 1 and t.handling.handler == original and t.handling.status == Status.ASSIGNED
    assert t.clock(ClockKind.FIRST_RESPONSE).started_at == NOW  # new clocks from the reopen
    keys = [r.idempotency_key for r in _outbox(store)]
    assert keys == [f"dispatch:{ids[0]}:cards:0", f"dispatch:{ids[0]}:cards:1"]


def test_on_duty_windows(store, hub_config) -> None:  # noqa: ANN001
    teams = yaml.safe_load((hub_config / "teams.yaml").read_text(encoding="utf-8"))
    for h in teams["teams"]["payments"]["handlers"]:
        if h["id"] == "liu.yang":  # works weekdays only
            h["on_duty"] = {"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-18:00"}
    (hub_config / "teams.yaml").write_text(yaml.safe_dump(teams, allow_unicode=True), encoding="utf-8")
    saturday = L(2026, 11, 21, 10)
    ids = store_tickets(store, *[make(f"转账失败{i}", phone=f"1330000000{i}", at=saturday) for i in range(4)])
    enrich_and_route(store, ids, now=saturday)
    late = store_tickets(store, make("信用卡年费乱扣", phone="13300000009", at=L(2026, 11, 21, 23)))
    enrich_and_route(store, late, now=L(2026, 11, 21, 23))  # cards is on duty 08:00–22:00
    with store.begin() as conn:
        got = get_tickets(conn, ids + late)
    assert "liu.yang" not in {got[i].handling.handler for i in ids}
    assert "queued" in got[late[0]].explanations["handler"].reason and got[late[0]].handling.handler


def test_mass_fault_becomes_one_incident(store) -> None:  # noqa: ANN001
    early = store_tickets(store, *[make("手机银行无法登录，一直转圈", phone=f"1320000000{i}",
                                        at=L(2026, 11, 23, 9, i)) for i in range(3)])
    first = enrich_and_route(store, early, now=L(2026, 11, 23, 9, 5))
    assert first.incidents_created == 0
    later = store_tickets(store, *[make("手机银行无法登录了", phone=f"1320000001{i}",
                                        at=L(2026, 11, 23, 9, 20 + i)) for i in range(4)])
    stats = enrich_and_route(store, later, now=L(2026, 11, 23, 9, 30))
    assert stats.incidents_created == 1 and stats.incident_tickets == 7
    with store.begin() as conn:
        got = get_tickets(conn, early + later)
        inc = conn.execute(select(incidents)).one()
    assert inc.ticket_count == 7 and inc.signature == "software:fault"
    assert {t.judgement.incident_id for t in got.values()} == {inc.incident_id}
    owner = got[early[0]].handling.handler  # the incident follows its first ticket
    assert {got[i].handling.handler for i in later} == {owner}
    assert "routed once" in got[later[0]].explanations["handler"].reason
    more = store_tickets(store, make("手机银行无法登录", phone="13200000099", at=L(2026, 11, 23, 10)))
    enrich_and_route(store, more, now=NOW)
    with store.begin() as conn:
        t = get_tickets(conn, more)[more[0]]
        assert conn.execute(select(incidents.c.ticket_count)).scalar() == 8
    assert t.judgement.incident_id == inc.incident_id and t.handling.handler == owner
    assert t.handling.status == Status.ASSIGNED and t.clock(ClockKind.RESOLUTION) is not None
    # routed once: only the three tickets routed before the incident formed were dispatched
    assert sorted(r.ticket_id for r in _outbox(store)) == sorted(early)
    with store.begin() as conn:
        assert "incident_joined" in {e.kind for e in get_events(conn, more[0])}
        assert "incident_linked" in {e.kind for e in get_events(conn, early[1])}


def test_tickets_show_explains_every_decision(use_store) -> None:  # noqa: ANN001
    import json

    from typer.testing import CliRunner

    from cli import app

    ids = store_tickets(use_store, make("我妈的退休金卡被盗刷了3万元，我们已经报警了", source="callcenter",
                                       phone="13100000001"))
    enrich_and_route(use_store, ids, now=NOW)
    res = CliRunner().invoke(app, ["tickets", "show", ids[0], "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    ex = doc["explanations"]
    assert ex["escalation"]["value"] == "police" and "报警" in ex["escalation"]["matched"]
    assert ex["vulnerable"]["matched"][0] == "我妈" and ex["team"]["matched"] == ["security-critical"]
    assert ex["clock.first_response"]["matched"] == ["urgent"] and ex["risk"]["value"] == "critical"
    assert "13100000001" not in res.output
    text = CliRunner().invoke(app, ["tickets", "show", ids[0]])
    assert "why" in text.output and "clock.resolution" in text.output


def test_closed_and_non_complaint_tickets_are_judged_not_routed(store) -> None:  # noqa: ANN001
    closed = make("信用卡年费乱扣", phone="13000000001")
    closed.handling.status = Status.CLOSED  # an old matter the source already closed (backfill)
    reply = make("1", source="sms", phone="13000000002")
    ids = store_tickets(store, closed, reply)
    stats = enrich_and_route(store, ids, now=NOW)
    with store.begin() as conn:
        got = get_tickets(conn, ids)
    assert stats.routed == 0 and stats.not_complaints == 1 and not _outbox(store)
    assert got[ids[0]].judgement.sub_category == "fees" and got[ids[0]].handling.team is None
    assert got[ids[1]].judgement.kind.value == "survey_reply" and not got[ids[1]].clocks
