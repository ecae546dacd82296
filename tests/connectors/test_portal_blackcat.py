"""blackcat portal cases beyond the shared contract (tests/connectors/test_portal_contract.py).

- session saved 0600 and reused by the next run; every payload field equals the sandbox's;
- push: one reply and one 申请完成 for a resolved update, nothing more when repeated;
- the markup variant by config change; PortalChangedError with screenshot + trace when stale.
"""

from __future__ import annotations

import os
import stat

import pytest

from connectors.blackcat import BlackcatConnector
from connectors.config import RetryConfig
from core.errors import PortalChangedError
from core.schema import Status, StatusUpdate
from tests.connectors.portal_support import portal_config, pull_all, runtime_for, same_text

pytestmark = pytest.mark.browser

V2_SELECTORS = {
    "list.container": "div#tousu-list", "list.card": "div.tousu-item", "list.link": "h3.t-title > a",
    "list.time": "span.t-date", "list.status": "span.t-state", "list.more": "a.more-btn", "list.end": "p.list-end",
    "detail.info": "table.info-table", "detail.info_row": "table.info-table tr", "detail.label": "td.k",
    "detail.value": "td.v", "detail.demand": "i.req-item", "detail.title": "h2.tousu-title",
    "detail.status": "b.cur-state", "detail.content": "div.tousu-body",
    "detail.progress_item": "div.progress-list > div.p-row", "detail.progress_time": "span.p-date",
    "detail.progress_text": "span.p-desc",
    "reply.form": "form#replyBox", "reply.submit": "form#replyBox button[type=submit]",
    "complete.form": "form#finishBox", "complete.submit": "form#finishBox button[type=submit]",
}
KEYS = ("sn", "title", "target", "problem", "amount", "content", "user_nick", "phone", "created_at", "status")

#: retry bounds through a 30 % fault rate (5 attempts still fail one page load in ~400: flaky)
FAULTY = RetryConfig(attempts=10, total_seconds=30, backoff_initial=0.05, backoff_max=1)


def cfg(sb, **extra):  # noqa: ANN001, ANN003, ANN201
    """The shipped config section, pointed at this sandbox (credentials = the published demo ones)."""
    return portal_config(sb, "blackcat", **extra)


def records_of(sb) -> dict:  # noqa: ANN001
    return {p["sn"]: p for p in (r.get("payload", r) for r in sb.records("blackcat")) if p.get("sn")}


def assert_same_payloads(got, truth) -> None:  # noqa: ANN001
    assert sorted(r.external_id for r in got) == sorted(truth)
    for rec in got:
        want = truth[rec.external_id]
        for key in KEYS:
            assert same_text(rec.payload.get(key), want.get(key)), (key, rec.external_id)
        assert rec.payload["demands"] == want["demands"]
        assert rec.payload["progress"] == want["progress"]


@pytest.fixture
def sb(sandbox_factory):  # noqa: ANN001, ANN201
    s = sandbox_factory(malformed_rate=0.0)
    s.generate(21 - len(records_of(s)), source="blackcat")  # the first 10 cards and two 加载更多 rounds
    return s


async def test_session_saved_owner_only_and_reused(sb, browser, tmp_path) -> None:  # noqa: ANN001
    rt = runtime_for(browser, tmp_path)
    conn = BlackcatConnector(cfg(sb), runtime=rt)
    got, _, pages = await pull_all(conn)
    assert conn.logins == 1 and pages == 3  # first page + two 加载更多 clicks
    assert_same_payloads(got, records_of(sb))
    assert stat.S_IMODE(os.stat(rt.state_file("blackcat")).st_mode) == 0o600
    await conn.aclose()
    await rt.aclose()

    rt2 = runtime_for(browser, tmp_path)
    conn2 = BlackcatConnector(cfg(sb), runtime=rt2)
    assert (await conn2.check()).ok and conn2.logins == 0
    await conn2.aclose()
    await rt2.aclose()


async def test_push_reply_and_complete_once(sb, browser, tmp_path) -> None:  # noqa: ANN001
    rt = runtime_for(browser, tmp_path)
    conn = BlackcatConnector(cfg(sb, retry=FAULTY), runtime=rt)  # 30 % faults below
    assert (await conn.check()).ok
    sb.set_faults("blackcat", error_rate=0.3)  # 5xx on forms and redirects: outcomes must be re-read
    sn = next(k for k, p in records_of(sb).items() if p.get("status") in ("审核通过", "处理中"))
    upd = StatusUpdate(ticket_id="T1", source="blackcat", external_id=sn, status=Status.RESOLVED,
                       reply="您好，年费已退还至您的账户，给您带来不便深表歉意。", idempotency_key="k-bc-1")
    first = await conn.push(upd)
    second = await conn.push(upd)
    sb.set_faults("blackcat", error_rate=0)
    assert not first.already_applied
    assert second.already_applied and second.detail["status"] == "已完成"
    writes = [w for w in sb.writes("blackcat") if w["external_id"] == sn]
    assert [w["kind"] for w in writes] == ["reply", "complete"]
    assert writes[0]["data"]["content"].startswith(upd.reply)
    await conn.aclose()
    await rt.aclose()


async def test_markup_variant_is_a_config_change(sb, browser, tmp_path) -> None:  # noqa: ANN001
    truth = records_of(sb)
    sb.set_faults("blackcat", markup_variant="v2")
    rt = runtime_for(browser, tmp_path)
    stale = BlackcatConnector(cfg(sb, element_timeout_ms=800), runtime=rt)
    with pytest.raises(PortalChangedError) as err:
        await pull_all(stale)
    assert err.value.selector == "list.container=div#card-list"
    assert err.value.screenshot and err.value.screenshot.exists() and err.value.screenshot.stat().st_size > 1000
    assert err.value.trace and err.value.trace.exists()
    await stale.aclose()

    fixed = BlackcatConnector(cfg(sb, selectors=V2_SELECTORS), runtime=rt)
    got, _, _ = await pull_all(fixed)
    assert_same_payloads(got, truth)
    sn = next(k for k, p in truth.items() if p.get("status") in ("审核通过", "处理中"))
    upd = StatusUpdate(ticket_id="T2", source="blackcat", external_id=sn, status=Status.IN_PROGRESS,
                       reply="已收到，正在核实。", idempotency_key="k-bc-2")
    assert not (await fixed.push(upd)).already_applied
    assert (await fixed.push(upd)).already_applied
    assert [w["kind"] for w in sb.writes("blackcat")] == ["reply"]
    await fixed.aclose()
    await rt.aclose()
