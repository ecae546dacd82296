"""Destinations: apprise (bots, email, any URL) and the operator's ops destination."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from hub.outbox.dispatch import Message, apprise_url, deliver, sign
from hub.outbox.worker import drain_outbox
from hub.store import outbox as ob
from hub.store.tables import outbox
from hub.teams import Destination
from tests.outbox.helpers import webhook_receiver


def test_apprise_urls_for_bots_and_email(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("WECOM_HOOK", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123")
    monkeypatch.setenv("DING_HOOK", "https://oapi.dingtalk.com/robot/send?access_token=tok456")
    monkeypatch.setenv("DING_SECRET", "SECxyz")
    assert apprise_url(Destination(type="wecom", url="env:WECOM_HOOK")) == "wxteams://abc-123"
    assert apprise_url(Destination(type="dingtalk", url="env:DING_HOOK", secret="env:DING_SECRET")) == \
        "dingtalk://SECxyz@tok456"
    assert apprise_url(Destination(type="email", url="mailtos://bot:pw@mail.example.com", to=["a@x.cn", "b@x.cn"])) \
        == "mailtos://bot:pw@mail.example.com?to=a@x.cn,b@x.cn"
    assert apprise_url(Destination(type="wecom", url="env:UNSET_HOOK|")) is None


def test_signature_is_hmac_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    want = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", b"{}") == f"sha256={want}"


async def test_apprise_delivery_is_real_http(monkeypatch) -> None:  # noqa: ANN001
    with webhook_receiver() as rec:
        url = rec.url.replace("http://", "json://")
        async with httpx.AsyncClient() as client:
            out = await deliver(client, [Destination(type="apprise", url=url), Destination(type="queue")],
                                Message(title="[催办 breach] T1", text="处理期限已过 138****5678", doc={}), "k1")
    assert [o["type"] for o in out] == ["apprise", "queue"]
    assert len(rec.bodies) == 1 and rec.bodies[0]["title"] == "[催办 breach] T1"


async def test_ops_notice_reaches_the_operator(sqlite_store, monkeypatch) -> None:  # noqa: ANN001
    store = sqlite_store
    with webhook_receiver("ops-secret") as rec:
        monkeypatch.setenv("HUB_OPS_WEBHOOK", rec.url)
        monkeypatch.setenv("HUB_OPS_WEBHOOK_SECRET", "ops-secret")
        with store.begin() as conn:
            ob.enqueue(conn, key="ops:dead:9:8", kind="ops", target="ops",
                       payload={"what": "outbox row dead", "outbox_id": 9, "error": "客户 13812345678 无法送达"})
        s = await drain_outbox(store, "w")
    assert s.sent == 1 and rec.bad_signatures == 0
    assert rec.bodies[0]["what"] == "outbox row dead" and "13812345678" not in str(rec.bodies)
    with store.begin() as conn:
        assert conn.execute(select(outbox.c.state)).scalar() == "sent"
