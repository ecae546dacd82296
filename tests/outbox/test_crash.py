"""A push worker killed (SIGKILL) between the send and the outbox mark: no double effect at the source.

The child process drains the outbox against the sandbox and kills itself at the
exact point: after the source accepted the message, before the outbox row is
marked. The row stays `sending`; after the lease the next worker takes it again
and the source's own safeguard stops a second effect:
- app: the `Idempotency-Key` header (the sandbox records a replay once);
- SMS (not idempotent): the push ledger (`sent` + gateway ref), and when the
  worker died even before the ledger said `sent`, the gateway lookup by out_id.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.schema import Status, utcnow
from hub.handling import actions as handling
from hub.outbox.worker import drain_outbox
from hub.store.tables import outbox, push_ledger
from tests.outbox.sandbox_helpers import pick, sms_sends_to, writes_for
from tests.outbox.test_e2e_sandbox import factory, new_ticket

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import asyncio, os, signal, sys
import hub.outbox.worker as w
import hub.store.ledger as pl
from hub.store.db import Store

mode = sys.argv[2]
if mode == "after_send":  # the source accepted it (and the ledger says sent); the outbox mark never happens
    w._mark_sent = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
elif mode == "before_ledger":  # the gateway accepted it; the worker dies before the ledger says sent
    orig = pl.StorePushLedger.mark
    def mark(self, key, state, remote_ref=None):
        if state == "sent":
            os.kill(os.getpid(), signal.SIGKILL)
        return orig(self, key, state, remote_ref)
    pl.StorePushLedger.mark = mark
asyncio.run(w.drain_outbox(Store(sys.argv[1]), "doomed", limit=1, kinds=sys.argv[3].split(",")))
"""
TAKEN: set[str] = set()


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    from sandbox import Sandbox

    box = Sandbox(seed=23, backlog=60, rate=0, survey_reply_prob=0.0,
                  start=datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    box.start(port=0)
    yield box
    box.stop()


def run_child(store, sb, tmp_path: Path, mode: str, kinds: str) -> int:  # noqa: ANN001
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(sb.urls))
    env = {**os.environ, "HUB_SOURCE_URLS": str(urls), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", CHILD, store.url, mode, kinds], cwd=ROOT, env=env,
                          capture_output=True, timeout=120)
    return proc.returncode


def _states(store, ticket_id: str) -> dict[str, str]:  # noqa: ANN001
    with store.begin() as conn:
        return {r.idempotency_key: r.state for r in conn.execute(
            select(outbox.c.idempotency_key, outbox.c.state).where(outbox.c.ticket_id == ticket_id))}


@pytest.mark.parametrize("mode", ["after_send", "before_ledger"])
async def test_sms_killed_between_send_and_mark(sb, sqlite_store, tmp_path, mode) -> None:  # noqa: ANN001
    store = sqlite_store
    ext, phone = pick(sb, "sms", TAKEN)
    t = new_ticket(store, "sms", ext, phone)
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na",
                               note="短信通道故障单 #4411", reply="原因：短信通道故障；已修复；建议重新办理")
    assert run_child(store, sb, tmp_path, mode, "sms") == -signal.SIGKILL
    assert len(sms_sends_to(sb, phone)) == 1  # the gateway got it once
    states = _states(store, t.ticket_id)
    assert sorted(v for k, v in states.items() if not k.startswith("dispatch:")) == ["pending", "sending"]
    with store.begin() as conn:
        ledger = {r.idempotency_key: r.state for r in conn.execute(select(push_ledger))}
    assert set(ledger.values()) == {"sent" if mode == "after_send" else "sending"}
    # the next worker, once the lease is over, takes the row again: the safeguard stops a second SMS
    s = await drain_outbox(store, "next", kinds=["sms"], now=utcnow() + timedelta(minutes=6),
                           connector_factory=factory(sb))
    assert s.sent == 2 and s.failed == 0, s.errors
    sends = sms_sends_to(sb, phone)
    assert sorted(w["data"]["template_code"] for w in sends) == ["SMS_RESULT", "SMS_SURVEY"]
    with store.begin() as conn:
        receipts = [r.receipt for r in conn.execute(select(outbox.c.receipt).where(
            outbox.c.ticket_id == t.ticket_id, outbox.c.idempotency_key.like("sms-result:%")))]
    assert receipts[0]["already_applied"] is True
    assert receipts[0]["detail"]["via"] == ("ledger" if mode == "after_send" else "gateway")


async def test_status_update_killed_between_push_and_mark(sb, sqlite_store, tmp_path) -> None:  # noqa: ANN001
    store = sqlite_store
    ext, phone = pick(sb, "app", TAKEN)
    t = new_ticket(store, "app", ext, phone)
    with store.begin() as conn:
        handling.change_status(conn, t.ticket_id, Status.RESOLVED, actor="handler:li.na", note="已处理", reply="已退款")
    assert run_child(store, sb, tmp_path, "after_send", "status_update") == -signal.SIGKILL
    assert len(writes_for(sb, "app", ext)) == 1
    s = await drain_outbox(store, "next", kinds=["status_update"], now=utcnow() + timedelta(minutes=6),
                           connector_factory=factory(sb))
    assert s.sent == 1
    assert len(writes_for(sb, "app", ext)) == 1  # the app recognised the Idempotency-Key
