"""The enterprise's mobile-app backend: OAuth2 client credentials, cursor-paginated feed.

Pull: `GET /complaints?updated_since=&cursor=&limit=` ordered by (updated_at, id).
`updated_at` has minute precision and many records share a value, so the app's
own `next_cursor` (strictly after the last item) is NOT used across runs: a
record updated later in the same minute with a smaller id would sort before it
and be skipped. Each run starts from `updated_since = high-water mark − overlap`
(inclusive) and follows `next_cursor` only within the run; the cursor stored
after each page carries the run's position so a stopped run resumes where it was.

Cursor: `connectors.api.RunCursor` — `hwm` (ISO) and the run in progress, whose
`position` is the app's `next_cursor`; `run` is cleared by the last page of a run.

Push: `POST /complaints/<id>/reply {"status", "reply"}` with `Idempotency-Key` =
`update.idempotency_key` (so HTTP retries of the POST are safe); a replay answers
with `Idempotent-Replayed: true`, reported as `already_applied`.

| hub Status         | app status   | note                                          |
|--------------------|--------------|-----------------------------------------------|
| new, assigned      | processing   | the user sees 处理中                           |
| in_progress        | processing   | `replied` instead when the update has a reply |
| reopened           | processing   |                                               |
| waiting_customer   | replied      | the reply asks the user for something         |
| resolved           | resolved     |                                               |
| closed             | closed       |                                               |
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from connectors.api import ApiOptions, HttpConnector, RunCursor, RunState
from connectors.auth import OAuth2ClientCredentials
from connectors.base import CursorModel, Page
from connectors.config import SourceConfig
from connectors.incremental import RunDedupe, later, parse_iso, raw
from core.errors import ConfigError, SourceAnswerError
from core.logs import get_logger
from core.schema import PushReceipt, Status, StatusUpdate

log = get_logger(__name__)

APP_STATUS: dict[Status, str] = {
    Status.NEW: "processing",
    Status.ASSIGNED: "processing",
    Status.IN_PROGRESS: "processing",
    Status.REOPENED: "processing",
    Status.WAITING_CUSTOMER: "replied",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "closed",
}


def app_status(update: StatusUpdate) -> str:
    """The app's word for a hub status (see the module table); `extra["app_status"]` overrides."""
    if update.extra.get("app_status"):
        return str(update.extra["app_status"])
    if update.status is Status.IN_PROGRESS and update.reply:
        return "replied"
    return APP_STATUS[update.status]


class AppOptions(ApiOptions):
    """`options:` of the app source."""

    token_path: str = "/oauth/token"
    scope: str | None = None


class AppConnector(HttpConnector):
    """REST connector of the mobile-app backend."""

    key = "app"
    label = "手机App"
    Options = AppOptions
    max_page_size = 200
    check_path = "complaints"
    options: AppOptions

    def make_auth(self, config: SourceConfig, transport: httpx.AsyncBaseTransport | None) -> OAuth2ClientCredentials:
        """OAuth2 client credentials against the app's token endpoint."""
        opts = AppOptions.model_validate(config.options)
        return OAuth2ClientCredentials(config.source, config.base_url.rstrip("/") + opts.token_path,
                                       config.plain("client_id") or "", config.secret("client_secret"),
                                       scope=opts.scope, transport=transport)

    def describe_check(self, doc: Any) -> str:
        """A token was issued and the feed answered."""
        return f"feed reachable, has_more={doc.get('has_more') if isinstance(doc, dict) else None}"

    async def pull(self, cursor: CursorModel | dict[str, Any] | None) -> AsyncIterator[Page]:
        """Pages of the feed from the run's lower bound (see the module doc)."""
        hwm, run = self.start_run(cursor, parse=parse_iso, fmt=datetime.isoformat)
        max_seen = parse_iso(run.max_seen)
        dedupe = RunDedupe()
        while True:
            params: dict[str, str | int | None] = {"limit": self.page_size}
            if run.position:
                params["cursor"] = str(run.position)
            elif run.since:
                params["updated_since"] = run.since
            try:
                doc = await self.http.get_json("complaints", params=params)
            except ConfigError as exc:
                if run.position and "invalid_cursor" in str(exc):
                    # The source forgot our position (reset, retention): restart the run from its lower bound.
                    log.warning("app: stored cursor refused, restarting the run from %s", run.since)
                    run = run.model_copy(update={"position": None})
                    continue
                raise
            items, next_cursor, has_more = _envelope(doc)
            records = []
            for item in items:
                if not isinstance(item, dict):
                    raise SourceAnswerError(f"feed item is not an object: {type(item).__name__}", source=self.key)
                rec = raw(self.key, item, "id")
                if dedupe.fresh(rec.external_id, item.get("updated_at")):
                    records.append(rec)
                max_seen = later(max_seen, parse_iso(item.get("updated_at")))
            seen_iso = max_seen.isoformat() if max_seen else None
            stats = {"items": len(items), "duplicates_skipped": dedupe.skipped, **self.http.stats.summary()}
            if has_more and items:
                run = RunState(since=run.since, position=next_cursor, max_seen=seen_iso)
                yield Page(records, RunCursor(hwm=hwm, run=run), stats)
            else:
                yield Page(records, RunCursor(hwm=seen_iso, run=None), stats)
                return

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Post status and reply; the Idempotency-Key makes a retried or repeated push a no-op."""
        body = {"status": app_status(update), "reply": update.reply}
        resp = await self.http.request(
            "POST", f"complaints/{update.external_id}/reply", json=body,
            headers={"Idempotency-Key": update.idempotency_key}, idempotent=True)
        doc = self.http.decode(resp) or {}
        replayed = resp.headers.get("Idempotent-Replayed", "").lower() == "true"
        return self.receipt(update.idempotency_key, str(doc.get("updated_at") or ""), already_applied=replayed,
                            status=doc.get("status"))


def _envelope(doc: Any) -> tuple[list[Any], str | None, bool]:
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise SourceAnswerError("feed answer has no `items` list", source=AppConnector.key)
    return doc["items"], doc.get("next_cursor"), bool(doc.get("has_more"))
