"""Contract adapters of the three API connectors (app, sms, callcenter)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Connector
from connectors.config import RetryConfig, SourceConfig, load_sources
from connectors.registry import make_connector
from core.schema import MessageKind, RawRecord, Status, StatusUpdate
from tests.connectors.contract import ContractAdapter

#: retry bounds for tests: same policy, shorter waits
FAST_RETRY = RetryConfig(attempts=6, total_seconds=20, backoff_initial=0.02, backoff_max=0.2)
BAD_SECRET = {"app": "client_secret", "sms": "secret", "callcenter": "app_secret"}


def sandbox_config(sb: Any, source: str, *, bad_credentials: bool = False, page_size: int | None = None,
                   **extra: Any) -> SourceConfig:
    """The shipped config/sources.yaml section, pointed at this sandbox."""
    cfg = load_sources(overrides=sb.urls)[source]
    update: dict[str, Any] = {"retry": FAST_RETRY, **extra}
    if page_size:
        update["page_size"] = page_size
    if bad_credentials:
        update["credentials"] = {**cfg.credentials, BAD_SECRET[source]: "env:HUB_TEST_UNSET_SECRET|wrong-secret"}
    return cfg.model_copy(update=update)


class ApiAdapter(ContractAdapter):
    small_page_size = 2

    async def connect(self, sb: Any, request: pytest.FixtureRequest, *, ledger: Any = None,
                      bad_credentials: bool = False, page_size: int | None = None) -> Connector:
        cfg = sandbox_config(sb, self.source, bad_credentials=bad_credentials, page_size=page_size)
        return make_connector(self.source, config=cfg, ledger=ledger)


class AppAdapter(ApiAdapter):
    source = "app"
    id_key = "id"

    def auth_renewals(self, conn: Connector) -> int | None:
        return conn.auth.fetches  # type: ignore[attr-defined]

    def make_update(self, sb: Any, record: RawRecord) -> StatusUpdate | None:
        if record.payload.get("status") in ("withdrawn", "closed") or not record.payload.get("id"):
            return None
        return StatusUpdate(ticket_id="T-CONTRACT", source="app", external_id=record.external_id,
                            status=Status.RESOLVED, reply="您好，问题已处理，如有疑问请再联系我们。",
                            idempotency_key=f"contract-app-{record.external_id}")


class SmsAdapter(ApiAdapter):
    source = "sms"
    id_key = "mo_id"

    def add_records(self, sb: Any, n: int) -> list[str]:
        return [sb.inject("sms", fields={"mobile": f"1390000{i:04d}", "content": f"我的卡被多扣了{i}元"})
                for i in range(n)]

    def make_update(self, sb: Any, record: RawRecord) -> StatusUpdate | None:
        from hub.judge.intents import detect_sms_intent

        mobile = record.payload.get("mobile")
        if not mobile or detect_sms_intent(record.payload.get("content")) is not MessageKind.COMPLAINT:
            return None
        return StatusUpdate(ticket_id="T-CONTRACT-SMS", source="sms", external_id=record.external_id,
                            status=Status.RESOLVED, reply="已退还多扣费用", customer_phone=mobile,
                            idempotency_key=f"contract-sms-{record.external_id}")

    def writes_for(self, sb: Any, update: StatusUpdate) -> list[dict[str, Any]]:
        return [w for w in sb.writes("sms") if (w.get("data") or {}).get("out_id") == update.idempotency_key]


class CallCenterAdapter(ApiAdapter):
    source = "callcenter"
    id_key = "order_no"

    def make_update(self, sb: Any, record: RawRecord) -> StatusUpdate | None:
        if record.payload.get("status") not in ("10", "20") or not record.payload.get("order_no"):
            return None
        return StatusUpdate(ticket_id="T-CONTRACT-CC", source="callcenter", external_id=record.external_id,
                            status=Status.RESOLVED, reply="已联系客户并退还费用",
                            idempotency_key=f"contract-cc-{record.external_id}")


ADAPTERS = {"app": AppAdapter(), "sms": SmsAdapter(), "callcenter": CallCenterAdapter()}
