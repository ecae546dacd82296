"""The call centre's CTI work-order system: HMAC-signed JSON, offset pagination newest-first.

Pull: `GET /api/workorders?page=&size=&updated_from=` ordered by `created` newest
first. Offsets shift under new arrivals (and under orders updated into the
filter while we walk), but with an `updated_from` filter fixed for the run the
filtered set only grows, so an order can only move to a LATER offset: walking
forward we may see an order twice (deduped by order_no + updated), never miss
one that matched at run start. Orders that enter the filter behind our offset
during the run are read by the next run (its lower bound is this run's newest
`updated` minus the overlap). If `total` ever shrinks between pages (orders
removed: not expected, but cheap to guard) the walk steps back a page and
re-reads the boundary.

Quirk: `created`/`updated`/`updated_from` are Asia/Shanghai local strings with
no zone; the cursor keeps them in that form.

Cursor: `connectors.api.RunCursor` with local `YYYY-MM-DD HH:MM:SS` times; the run's
`position` is the next page number.

Push: read the order first; write only if its status/result differ (the update
endpoint is not idempotent: same values are recorded again).

| hub Status                              | CTI status | result                 |
|-----------------------------------------|------------|------------------------|
| new, assigned, in_progress, reopened    | 20 处理中   | reply (if any)         |
| waiting_customer                        | 30 已回复   | reply (if any)         |
| resolved, closed                        | 40 已办结   | reply (if any)         |
A revoked order (90 撤销) cannot be updated: PushRefused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from connectors.api import ApiOptions, HttpConnector, RunCursor, RunState
from connectors.auth import CallCenterSigner
from connectors.base import CursorModel, Page
from connectors.config import SourceConfig
from connectors.incremental import LOCAL_FMT, RunDedupe, later, parse_local, raw
from core.errors import PushRefused, SourceAnswerError
from core.logs import get_logger
from core.schema import PushReceipt, Status, StatusUpdate, to_local

log = get_logger(__name__)

CC_STATUS: dict[Status, str] = {
    Status.NEW: "20",
    Status.ASSIGNED: "20",
    Status.IN_PROGRESS: "20",
    Status.REOPENED: "20",
    Status.WAITING_CUSTOMER: "30",
    Status.RESOLVED: "40",
    Status.CLOSED: "40",
}
REVOKED = "90"


def cc_result(update: StatusUpdate) -> str | None:
    """The work-order `result` text for an update (see the module table)."""
    return update.reply or None


class CallCenterOptions(ApiOptions):
    """`options:` of the call-centre source."""

    #: the operator name written on work-order updates
    operator: str = "hub"


class CallCenterConnector(HttpConnector):
    """Signed JSON connector of the call centre's work orders."""

    key = "callcenter"
    label = "呼叫中心"
    Options = CallCenterOptions
    max_page_size = 100
    check_path = "api/workorders"
    check_params = {"page": 1, "size": 1}
    options: CallCenterOptions

    def make_auth(self, config: SourceConfig, transport: httpx.AsyncBaseTransport | None) -> CallCenterSigner:
        """The CTI's HMAC signature."""
        return CallCenterSigner(config.source, config.plain("app_id") or "", config.secret("app_secret"))

    def describe_check(self, doc: Any) -> str:
        """The work-order list answered."""
        return f"work orders reachable, total={_data(doc).get('total')}"

    @classmethod
    def format_time(cls, at: datetime) -> str:
        """The CTI's zone-less local time."""
        return to_local(at).strftime(LOCAL_FMT)

    async def _page(self, page: int, since: str | None) -> tuple[list[dict[str, Any]], int]:
        doc = await self.http.get_json("api/workorders", params={"page": page, "size": self.page_size,
                                                                  "updated_from": since})
        data = _data(doc)
        items = data.get("list")
        if not isinstance(items, list):
            raise SourceAnswerError("work-order list answer has no data.list", source=self.key)
        return [i for i in items if isinstance(i, dict)], int(data.get("total") or 0)

    async def pull(self, cursor: CursorModel | dict[str, Any] | None) -> AsyncIterator[Page]:
        """Pages of work orders updated since the run's lower bound (see the module doc)."""
        hwm, run = self.start_run(cursor, parse=parse_local, fmt=lambda at: at.strftime(LOCAL_FMT), first_position=1)
        since = run.since
        page_no = int(run.position or 1)
        max_seen = parse_local(run.max_seen)
        dedupe = RunDedupe()
        last_total: int | None = None
        while True:
            items, total = await self._page(page_no, since)
            if last_total is not None and total < last_total and page_no > 1:
                # Orders vanished ahead of us: everything shifted to earlier offsets. Step back
                # one page so the boundary is re-read (the dedupe drops what we already have).
                log.info("callcenter: total fell %d→%d, re-reading page %d", last_total, total, page_no - 1)
                last_total = total
                page_no -= 1
                continue
            last_total = total
            records = []
            for item in items:
                rec = raw(self.key, item, "order_no")
                if dedupe.fresh(rec.external_id, item.get("updated")):
                    records.append(rec)
                max_seen = later(max_seen, parse_local(item.get("updated")))
            seen = max_seen.strftime(LOCAL_FMT) if max_seen else None
            stats = {"items": len(items), "duplicates_skipped": dedupe.skipped, "page": page_no, "total": total,
                     **self.http.stats.summary()}
            if len(items) >= self.page_size and page_no * self.page_size < total:
                page_no += 1
                yield Page(records, RunCursor(hwm=hwm, run=RunState(since=since, position=page_no, max_seen=seen)),
                           stats)
            else:
                yield Page(records, RunCursor(hwm=seen, run=None), stats)
                return

    async def get_order(self, order_no: str) -> dict[str, Any]:
        """The work order as the CTI has it now."""
        data = _data(await self.http.get_json(f"api/workorders/{order_no}"))
        if not data.get("order_no"):
            raise SourceAnswerError(f"work order {order_no}: answer without data", source=self.key)
        return data

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Set the order's status/result unless it already has them (looked up before every write)."""
        want_status = str(update.extra.get("cc_status") or CC_STATUS[update.status])
        want_result = cc_result(update)

        async def step() -> PushReceipt:
            """Look the order up, then update it unless it already has the wanted status and result."""
            order = await self.get_order(update.external_id)
            if order.get("status") == REVOKED:
                raise PushRefused(f"work order {update.external_id} is revoked (90): nothing to update",
                                  source=self.key)
            if order.get("status") == want_status and (want_result is None or order.get("result") == want_result):
                return self.receipt(update.idempotency_key, str(order.get("updated")), already_applied=True,
                                    status=want_status)
            # not idempotent: an unknown outcome raises, and the next step looks again first
            doc = await self.http.post_json(
                f"api/workorders/{update.external_id}/update",
                {"status": want_status, "result": want_result if want_result is not None else order.get("result"),
                 "operator": self.options.operator}, idempotent=False)
            data = _data(doc)
            return self.receipt(update.idempotency_key, str(data.get("updated") or ""), already_applied=False,
                                status=data.get("status"))

        return await self.verified_push(step, f"update of work order {update.external_id}")


def _data(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise SourceAnswerError(f"unexpected answer shape: {str(doc)[:120]}", source=CallCenterConnector.key)
    if doc.get("code") not in (0, "0", None):
        raise SourceAnswerError(f"CTI answered code={doc.get('code')} msg={doc.get('msg')}",
                                source=CallCenterConnector.key)
    return doc["data"]
