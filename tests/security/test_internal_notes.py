"""Hole 2: internal notes never reach a customer or a public site; only `reply` is pushed.

Every source gets one resolved ticket with a distinctive internal note (with an ID number in it,
as real notes have); after the push, the note's text is in none of the sandbox's recorded writes
(12315 and 黑猫 through their real portals in Chromium). A resolve that a source would show to the
customer without a reply is refused (or uses the source's configured template), never the note.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import select

from core.errors import ReplyRequired
from core.schema import Source, Status
from hub.backoffice.auth import create_token
from hub.handling import actions as handling
from hub.outbox.worker import drain_outbox
from hub.store.outbox import open_payload
from hub.store.tables import outbox
from hub.store.tickets import get_events, get_ticket
from tests.outbox.sandbox_helpers import pick
from tests.outbox.test_e2e_sandbox import factory, new_ticket
from web.app import create_app
from web.server import serve_in_thread

MARK = "内部处理说明NOTE-7Q2X"
NOTE = f"{MARK}：客户身份证330102199001011234，经理同意特批退款，勿告知客户"
REPLY = "您好，您反映的问题已处理，费用已退回您的账户。"
TAKEN: set[str] = set()


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    from sandbox import Sandbox

    box = Sandbox(seed=23, backlog=60, rate=0, survey_reply_prob=0.0,
                  start=datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    box.start(port=0)
    yield box
    box.stop()


def all_writes(sb: Any) -> str:
    return json.dumps([sb.writes(s) for s in ("gov12315", "blackcat", "app", "sms", "callcenter")],
                      ensure_ascii=False, default=str)


def outbox_text(store: Any) -> str:
    """Every outbox payload as a worker would send it (sealed free text opened: the note must not be in it)."""
    with store.begin() as conn:
        rows = conn.execute(select(outbox.c.payload)).scalars().all()
    return json.dumps([open_payload(r) for r in rows], ensure_ascii=False, default=str)


@pytest.mark.parametrize("source", ["app", "sms", "callcenter"])
async def test_note_reaches_no_api_source(sb, use_store, source) -> None:  # noqa: ANN001
    ext, phone = pick(sb, source, TAKEN)
    t = new_ticket(use_store, Source(source), ext, phone)
    with use_store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note=NOTE, reply=REPLY)
    s = await drain_outbox(use_store, "w", kinds=["status_update", "sms"], connector_factory=factory(sb))
    assert s.failed == 0 and s.dead == 0 and s.sent >= 1, s.errors
    written = all_writes(sb)
    assert ext in written or phone in written  # the push did reach the source
    assert MARK not in written and "330102199001011234" not in written
    assert MARK not in outbox_text(use_store)  # not even queued
    with use_store.begin() as conn:
        notes = [e.note for e in get_events(conn, t.ticket_id) if e.kind == "status_changed"]
    assert notes == [NOTE]  # the note stays on the hub's own timeline


@pytest.mark.browser
@pytest.mark.parametrize("source", ["gov12315", "blackcat"])
async def test_note_reaches_no_portal(sb, sqlite_store, browser, source) -> None:  # noqa: ANN001
    from connectors.portal.runtime import PortalRuntime

    ext, phone = pick(sb, source, TAKEN)
    t = new_ticket(sqlite_store, Source(source), ext, phone)
    with sqlite_store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note=NOTE, reply=REPLY,
                               settled=True, method="电话协商")
    runtime = await PortalRuntime(browser=browser, tracing=False).start()
    try:
        s = await drain_outbox(sqlite_store, "w", kinds=["status_update"], connector_factory=factory(sb),
                               portal_runtime=runtime)
    finally:
        await runtime.aclose()
    assert s.failed == 0 and s.dead == 0 and s.sent == 1, s.errors
    mine = [w for w in sb.writes(source) if w.get("external_id") == ext]
    assert mine and REPLY in json.dumps(mine, ensure_ascii=False)  # the customer got the reply
    assert MARK not in all_writes(sb) and "330102199001011234" not in all_writes(sb)


@pytest.mark.parametrize("source", ["gov12315", "blackcat", "sms", "callcenter"])
def test_resolve_without_reply_is_refused_where_the_customer_sees_it(use_store, source) -> None:  # noqa: ANN001
    t = new_ticket(use_store, Source(source), f"NR-{source}", "13912345678")
    before = outbox_text(use_store)
    with pytest.raises(ReplyRequired) as exc, use_store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note=NOTE)
    assert "reply" in str(exc.value) and MARK not in str(exc.value)
    assert outbox_text(use_store) == before
    with use_store.begin() as conn:
        assert get_ticket(conn, t.ticket_id).handling.status == Status.ASSIGNED


def test_app_resolve_without_reply_pushes_status_only(use_store) -> None:  # noqa: ANN001
    t = new_ticket(use_store, Source("app"), "NR-app", "13912345678")
    with use_store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note=NOTE)
    with use_store.begin() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.kind == "status_update")).scalars().all()
    assert len(rows) == 1 and rows[0]["reply"] is None and "note" not in rows[0]
    assert MARK not in outbox_text(use_store)


def test_configured_template_is_used_instead_of_the_note(use_store, hub_config) -> None:  # noqa: ANN001
    from core.configfile import reload_config

    path = hub_config / "chase.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["push"]["reply_templates"] = {"blackcat": "您好，您的投诉已处理完毕，感谢您的耐心。"}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    reload_config()
    t = new_ticket(use_store, Source("blackcat"), "TPL-1", "13912345678")
    with use_store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note=NOTE)
    with use_store.begin() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.kind == "status_update")).scalars().all()
    assert [open_payload(r)["reply"] for r in rows] == ["您好，您的投诉已处理完毕，感谢您的耐心。"]
    assert MARK not in outbox_text(use_store)


def test_api_resolve_with_only_a_note_answers_422_naming_reply(use_store) -> None:  # noqa: ANN001
    t = new_ticket(use_store, Source("blackcat"), "API-NR-1", "13912345678")
    with use_store.begin() as conn:
        token = create_token(conn, team="cards", role="lead", name="lead.cards")
    with serve_in_thread(create_app(use_store)) as srv, httpx.Client(base_url=srv.url, timeout=20) as c:
        r = c.post(f"/api/v1/tickets/{t.ticket_id}/resolve", json={"note": NOTE},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "reply"] and MARK not in r.text
    assert MARK not in outbox_text(use_store)
