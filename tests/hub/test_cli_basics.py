"""The CLI skeleton: db upgrade, tickets list/show, masked JSON output."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli import app
from core.schema import Customer, Matter, Ticket, make_ticket_id, utcnow
from hub.store.tickets import upsert_tickets

runner = CliRunner()


def test_db_upgrade_and_ticket_commands(use_store):
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    t = Ticket(ticket_id=make_ticket_id("app", "X1"), source="app", external_id="X1",
               received_at=utcnow(), customer=Customer(name="李四", phone="13900001111"),
               matter=Matter(title="扣费异常", content="我的电话13900001111被扣费"))
    with use_store.begin() as conn:
        upsert_tickets(conn, [t])
    res = runner.invoke(app, ["tickets", "list", "--json", "--source", "app"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc[0]["ticket_id"] == t.ticket_id and doc[0]["customer"]["phone"] == "139****1111"
    res = runner.invoke(app, ["tickets", "show", t.ticket_id, "--json"])
    assert res.exit_code == 0 and "13900001111" not in res.stdout
    assert json.loads(res.stdout)["timeline"][0]["kind"] == "created"
    res = runner.invoke(app, ["tickets", "show", t.ticket_id])
    assert res.exit_code == 0 and "13900001111" not in res.stdout and "created" in res.stdout
    assert runner.invoke(app, ["tickets", "show", "NOPE"]).exit_code == 1
