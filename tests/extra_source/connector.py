"""The kiosk source as a connector declaration: everything the hub needs to know about it is here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

import httpx

from connectors.api import HttpConnector
from connectors.base import CursorModel, Page
from connectors.config import SourceConfig
from connectors.incremental import RunDedupe, raw
from core.errors import SourceAnswerError
from core.schema import PushReceipt, Status, StatusUpdate


class KioskCursor(CursorModel):
    """The kiosk's own feed position (its items never change order)."""

    after: str | None = None


class ApiKey:
    """The kiosk's authentication: one static key header (nothing to refresh)."""

    def __init__(self, key: str) -> None:
        self._key = key

    async def apply(self, request: httpx.Request) -> None:
        """Add the key to this attempt."""
        request.headers["X-Api-Key"] = self._key

    async def on_unauthorized(self) -> bool:
        """A static key cannot be renewed: a 401 is final."""
        return False

    def secrets(self) -> list[str]:
        """The key is a secret: redact it from errors."""
        return [self._key]

    async def aclose(self) -> None:
        """Nothing to release."""


class KioskConnector(HttpConnector):
    """Complaints typed in at the bank's self-service terminals."""

    key = "kiosk"
    label = "自助终端"
    Cursor: ClassVar[type[CursorModel]] = KioskCursor
    max_page_size = 100
    check_path = "api/feed"

    def make_auth(self, config: SourceConfig, transport: httpx.AsyncBaseTransport | None) -> ApiKey:
        """The configured API key (a reference, resolved now)."""
        return ApiKey(config.secret("api_key").get_secret_value())

    @classmethod
    def backfill_cursor(cls, since: datetime) -> CursorModel:
        """The feed cannot seek by time: a backfill reads it from the start (landing skips what is stored)."""
        return KioskCursor(after=None)

    async def pull(self, cursor: CursorModel | dict[str, Any] | None) -> AsyncIterator[Page]:
        """Pages of the feed after the stored position."""
        start = self.read_cursor(cursor)
        after = start.after if isinstance(start, KioskCursor) else None
        dedupe = RunDedupe()
        while True:
            doc = await self.http.get_json("api/feed", params={"after": after, "limit": self.page_size})
            if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
                raise SourceAnswerError("feed answer has no `items` list", source=self.key)
            records = [r for r in (raw(self.key, i, "ticket_no") for i in doc["items"] if isinstance(i, dict))
                       if dedupe.fresh(r.external_id, r.payload_hash)]
            after = str(doc.get("next") or after or "") or None
            yield Page(records, KioskCursor(after=after), {"items": len(doc["items"])})
            if not doc.get("more") or not doc["items"]:
                return

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Set the ticket's state; the Idempotency-Key makes a repeated push a no-op at the kiosk."""
        state = "closed" if update.status in (Status.RESOLVED, Status.CLOSED) else "handling"
        resp = await self.http.request("POST", f"api/tickets/{update.external_id}/status",
                                       json={"state": state, "reply": update.reply},
                                       headers={"Idempotency-Key": update.idempotency_key}, idempotent=True)
        replayed = resp.headers.get("Idempotent-Replayed", "").lower() == "true"
        return self.receipt(update.idempotency_key, update.external_id, already_applied=replayed, state=state)
