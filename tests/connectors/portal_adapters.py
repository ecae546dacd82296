"""Contract adapters of the two portal connectors (gov12315, blackcat): real Chromium, shipped config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector
from connectors.config import RetryConfig, load_sources
from connectors.registry import make_connector
from core.schema import RawRecord, Status, StatusUpdate
from tests.connectors.contract import ContractAdapter
from tests.connectors.portal_support import runtime_for

FAST_RETRY = RetryConfig(attempts=6, total_seconds=20, backoff_initial=0.02, backoff_max=0.2)


class PortalAdapter(ContractAdapter):
    """Builds the portal connector through the registry on the session browser, one HUB_HOME per test."""

    exact_payloads = False  # scraped pages: the suite checks ids; our own tests compare fields
    small_page_size = 20
    fault_pull_bound = 60.0
    auth_fail_bound = 20.0
    #: records the sandbox must hold so that the list spans several pages (20 rows / 10 cards per page)
    min_records = 21
    browser: Any = None
    home: Path | None = None

    def bind(self, browser: Any, home: Path) -> None:
        self.browser, self.home = browser, home

    async def connect(self, sb: Any, request: pytest.FixtureRequest, *, ledger: Any = None,
                      bad_credentials: bool = False, page_size: int | None = None) -> Connector:
        have = len(self.expected(sb))
        if have < self.min_records:
            sb.generate(self.min_records - have, source=self.source)
        cfg = load_sources(overrides=sb.urls)[self.source]
        update: dict[str, Any] = {"retry": FAST_RETRY}
        if bad_credentials:
            update["credentials"] = {**cfg.credentials, "password": "env:HUB_TEST_UNSET_SECRET|wrong-password"}
        rt = runtime_for(self.browser, self.home)
        return make_connector(self.source, config=cfg.model_copy(update=update), ledger=ledger,
                              portal_runtime=rt, close_runtime=True)

    def auth_renewals(self, conn: Connector) -> int | None:
        return conn.logins  # type: ignore[attr-defined]


class Gov12315Adapter(PortalAdapter):
    source = "gov12315"
    id_key = "reg_no"

    def make_update(self, sb: Any, record: RawRecord) -> StatusUpdate | None:
        if record.payload.get("status") not in ("待处理", "处理中"):
            return None
        return StatusUpdate(ticket_id="T-CONTRACT", source="gov12315", external_id=record.external_id,
                            status=Status.RESOLVED, settled=True, reply="已与投诉人电话协商，退还费用，投诉人认可。",
                            idempotency_key=f"contract-gov-{record.external_id}")


class BlackcatAdapter(PortalAdapter):
    source = "blackcat"
    id_key = "sn"
    min_records = 11  # the first 10 cards and one 加载更多 round

    def make_update(self, sb: Any, record: RawRecord) -> StatusUpdate | None:
        if record.payload.get("status") not in ("审核通过", "处理中"):
            return None
        # one reply, no 申请完成: the suite counts the writes of one update (test_portal_blackcat covers both)
        return StatusUpdate(ticket_id="T-CONTRACT", source="blackcat", external_id=record.external_id,
                            status=Status.IN_PROGRESS, reply="您好，已收到您的投诉，正在核实处理。",
                            idempotency_key=f"contract-bc-{record.external_id}")
