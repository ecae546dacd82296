"""gov12315 portal cases beyond the shared contract (tests/connectors/test_portal_contract.py).

- the session is saved 0600 and the next run reuses it (no login, no new SMS code);
- every payload field equals the sandbox's record (default markup);
- the markup variant is handled by a config change alone, and the shipped config
  against the changed markup raises PortalChangedError with a screenshot and a trace;
- the 处理 form is submitted once, also through the variant's selectors.
"""

from __future__ import annotations

import os
import stat

import pytest

from connectors.config import RetryConfig
from connectors.gov12315 import Gov12315Connector
from connectors.portal.codes import CodeRequest, SandboxCodeProvider
from core.errors import PortalChangedError
from core.schema import Status, StatusUpdate
from tests.connectors.portal_support import portal_config, pull_all, runtime_for, same_text

pytestmark = pytest.mark.browser

#: the sandbox's markup variant "v2" (sandbox/README.md) expressed as a config change only
V2_SELECTORS = {
    "list.table": "table#case-list", "list.row": "tr.case-item", "list.link": "a.btn-view",
    "list.time": "td:nth-child(2)", "list.status": "em.state", "list.next": "a.pager-next",
    "detail.table": "div.info-grid", "detail.row": "div.info-grid > div.info-item",
    "detail.label": "span.info-label", "detail.value": "span.info-value", "detail.attachment": "div.file-list a.file",
    "handle.form": "form#dispose-form", "handle.submit": "form#dispose-form button[type=submit]",
}
KEYS = ("reg_no", "complainant", "phone", "id_number", "respondent", "region", "title", "content", "demands",
        "amount", "registered_at", "deadline", "status")

#: retry bounds through a 30 % fault rate (5 attempts still fail one page load in ~400: flaky)
FAULTY = RetryConfig(attempts=10, total_seconds=30, backoff_initial=0.05, backoff_max=1)


def cfg(sb, **extra):  # noqa: ANN001, ANN003, ANN201
    """The shipped config section, pointed at this sandbox (credentials = the published demo ones)."""
    return portal_config(sb, "gov12315", **extra)


def records_of(sb) -> dict:  # noqa: ANN001
    return {p["reg_no"]: p for p in (r.get("payload", r) for r in sb.records("gov12315")) if p.get("reg_no")}


def assert_same_payloads(got, truth) -> None:  # noqa: ANN001
    assert sorted(r.external_id for r in got) == sorted(truth)
    for rec in got:
        want = truth[rec.external_id]
        for key in KEYS:
            assert same_text(rec.payload.get(key), want.get(key)), (key, rec.external_id)
        assert [a["name"] for a in rec.payload["attachments"]] == [a["name"] for a in want.get("attachments") or []]
        assert all(a["url"].startswith("http://127.0.0.1:") for a in rec.payload["attachments"])


@pytest.fixture
def sb(sandbox_factory):  # noqa: ANN001, ANN201
    s = sandbox_factory(malformed_rate=0.0)
    s.generate(21 - len(records_of(s)), source="gov12315")  # two list pages (20 rows per page)
    return s


class CountingCodes:
    """The sandbox code provider, counting how often a login needed an SMS code."""

    def __init__(self) -> None:
        self.inner, self.calls = SandboxCodeProvider(), 0

    async def get_code(self, request: CodeRequest) -> str:
        self.calls += 1
        return await self.inner.get_code(request)


async def test_session_saved_owner_only_and_reused(sb, browser, tmp_path) -> None:  # noqa: ANN001
    rt = runtime_for(browser, tmp_path)
    codes = CountingCodes()
    # 10 attempts: at a 30 % fault rate, 5 attempts still fail one page load in ~400, which made this flaky
    conn = Gov12315Connector(cfg(sb, retry=FAULTY), runtime=rt, code_provider=codes)
    got, _, pages = await pull_all(conn)
    assert conn.logins == 1 and pages == 2
    assert_same_payloads(got, records_of(sb))
    state = rt.state_file("gov12315")
    assert state.is_relative_to(tmp_path) and stat.S_IMODE(os.stat(state).st_mode) == 0o600

    # pushes through a flaky portal (5xx on the form and its redirect): each lands exactly once
    sb.set_faults("gov12315", error_rate=0.3)
    open_ids = [r.external_id for r in got if r.payload["status"] in ("待处理", "处理中")][:3]
    for i, reg_no in enumerate(open_ids):
        upd = StatusUpdate(ticket_id=f"T{i}", source="gov12315", external_id=reg_no, status=Status.RESOLVED,
                           reply="已电话联系投诉人，退还相关费用，投诉人认可。", settled=True,
                           idempotency_key=f"k-flaky-{i}")
        await conn.push(upd)
        assert (await conn.push(upd)).already_applied
    sb.set_faults("gov12315", error_rate=0)
    handled = [w["external_id"] for w in sb.writes("gov12315") if w["kind"] == "handle"]
    assert sorted(handled) == sorted(open_ids) and len(open_ids) == 3
    await conn.aclose()
    await rt.aclose()

    assert codes.calls == 1
    rt2 = runtime_for(browser, tmp_path)  # the next run (new browser context, same HUB_HOME)
    conn2 = Gov12315Connector(cfg(sb), runtime=rt2, code_provider=codes)
    assert (await conn2.check()).ok
    assert conn2.logins == 0 and codes.calls == 1 and sb.sms_code() is None  # no login: no SMS code issued
    await conn2.aclose()
    await rt2.aclose()


async def test_markup_variant_is_a_config_change(sb, browser, tmp_path) -> None:  # noqa: ANN001
    truth = records_of(sb)
    sb.set_faults("gov12315", markup_variant="v2")
    rt = runtime_for(browser, tmp_path)
    # the shipped selectors no longer match: the operator gets a screenshot and a trace
    stale = Gov12315Connector(cfg(sb, element_timeout_ms=800), runtime=rt)
    with pytest.raises(PortalChangedError) as err:
        await pull_all(stale)
    assert err.value.selector == "list.table=table#complaint-table"
    shot, trace = err.value.screenshot, err.value.trace
    assert shot and shot.exists() and shot.stat().st_size > 1000 and shot.parent == tmp_path / "portal-failures"
    assert trace and trace.exists() and trace.suffix == ".zip"
    await stale.aclose()

    fixed = Gov12315Connector(cfg(sb, selectors=V2_SELECTORS), runtime=rt)
    got, _, _ = await pull_all(fixed)
    assert_same_payloads(got, truth)

    reg_no = next(k for k, p in truth.items() if p.get("status") in ("待处理", "处理中"))
    upd = StatusUpdate(ticket_id="T2", source="gov12315", external_id=reg_no, status=Status.CLOSED,
                       reply="多次协商，客户坚持原诉求，未能达成一致。", settled=False, method="网络协商",
                       idempotency_key="k-gov-2")
    first, second = await fixed.push(upd), await fixed.push(upd)
    assert not first.already_applied and second.already_applied
    writes = [w for w in sb.writes("gov12315") if w["kind"] == "handle"]
    assert len(writes) == 1 and writes[0]["external_id"] == reg_no
    assert writes[0]["data"] == {"process": upd.reply, "method": "网络协商", "result": "和解不成"}
    await fixed.aclose()
    await rt.aclose()
