"""CLI: `hub tickets update`, `hub chase run`, `hub outbox list`."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from cli import app
from core.schema import utcnow
from hub.store.tickets import get_events
from tests.outbox.helpers import make_ticket, put_ticket


def test_update_then_chase_and_list(use_store) -> None:  # noqa: ANN001
    store = use_store
    t = put_ticket(store, make_ticket("FB50", received=utcnow() - timedelta(hours=3, minutes=30), urgent=True))
    r = CliRunner().invoke(app, ["tickets", "update", t.ticket_id, "--status", "waiting_customer",
                                 "--note", "请客户补充流水", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "waiting_customer"
    bad = CliRunner().invoke(app, ["tickets", "update", t.ticket_id, "--status", "waiting_customer"])
    assert bad.exit_code == 2 and "already waiting_customer" in bad.output
    r = CliRunner().invoke(app, ["tickets", "update", t.ticket_id, "--status", "resolved", "--note", "已退款",
                                 "--reply", "款项已退回", "--settled", "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["chase", "run", "--json"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)) == {"stranded", "chase", "survey", "surveys_expired"}
    r = CliRunner().invoke(app, ["outbox", "list", "--json"])
    rows = json.loads(r.output)
    assert {x["kind"] for x in rows} == {"status_update", "sms"} and "13812345678" not in r.output
    with store.begin() as conn:
        notes = [e.note for e in get_events(conn, t.ticket_id) if e.kind == "status_changed"]
    assert notes == ["请客户补充流水", "已退款"]
