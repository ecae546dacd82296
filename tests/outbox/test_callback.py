"""The team callback over real HTTP: bearer token per team, optional HMAC, status change + push-back."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlalchemy import select

from hub.outbox.dispatch import sign
from hub.store.tables import outbox
from hub.store.tickets import get_ticket
from tests.outbox.helpers import make_ticket, put_ticket
from web.callback import create_callback_app
from web.server import serve_in_thread


@pytest.fixture
def server(use_store):  # noqa: ANN001, ANN201
    with serve_in_thread(create_callback_app()) as srv:
        yield srv, use_store


def test_callback_auth_and_status_change(server) -> None:  # noqa: ANN001
    srv, store = server
    from core.schema import utcnow

    t = put_ticket(store, make_ticket("FB40", received=utcnow()))
    url = f"{srv.url}/callbacks/cards/status"
    body = {"ticket_id": t.ticket_id, "status": "resolved", "note": "已退年费", "reply": "已处理", "settled": True}
    with httpx.Client(timeout=10) as c:
        assert c.post(url, json=body).status_code == 401
        assert c.post(url, json=body, headers={"Authorization": "Bearer demo-token-payments"}).status_code == 401
        other = c.post(f"{srv.url}/callbacks/payments/status", json=body,
                       headers={"Authorization": "Bearer demo-token-payments"})
        assert other.status_code == 404  # not that team's ticket
        raw = json.dumps(body).encode()
        ts = str(int(time.time()))
        bad = c.post(url, content=raw, headers={"Authorization": "Bearer demo-token-cards", "X-Hub-Timestamp": ts,
                                                "X-Hub-Signature": "sha256=00", "Content-Type": "application/json"})
        assert bad.status_code == 401
        ok = c.post(url, content=raw, headers={"Authorization": "Bearer demo-token-cards", "X-Hub-Timestamp": ts,
                                               "X-Hub-Signature": sign("demo-token-cards", ts, raw),
                                               "Content-Type": "application/json"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "resolved"
        again = c.post(url, json=body, headers={"Authorization": "Bearer demo-token-cards"})
        assert again.status_code == 409  # already resolved
    with store.begin() as conn:
        assert get_ticket(conn, t.ticket_id).handling.status.value == "resolved"
        su = conn.execute(select(outbox).where(outbox.c.kind == "status_update")).all()
    assert len(su) == 1 and su[0].payload["settled"] is True
