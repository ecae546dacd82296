"""The enterprise's mobile-app backend: OAuth2 client credentials, cursor-paginated feed.

Pull: `GET /complaints?updated_since=&cursor=&limit=` ordered by (updated_at, id).
`updated_at` has minute precision and many records share a value, so the app's
own `next_cursor` (strictly after the last item) is NOT used across runs: a
record updated later in the same minute with a smaller id would sort before it
and be skipped. Each run starts from `updated_since = high-water mark − overlap`
(inclusive) and follows `next_cursor` only within the run; the cursor stored
after each page carries the run's position so a stopped run resumes where it was.

Cursor shape (JSON): `{"hwm": ISO|None, "run": {"since": ISO|None, "cursor": str|None,
"max_seen": ISO|None} | None}`. `run` is cleared by the last page of a run.

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
from typing import Any

import httpx

from connectors.auth import OAuth2ClientCredentials
from connectors.base import CheckResult, Connector, Page, PushLedger
from connectors.config import SourceConfig, build_client
from connectors.incremental import RunDedupe, back, later, parse_iso, raw
from core.errors import ConfigError, HubError, SourceDataError
from core.logs import get_logger
from core.schema import PushReceipt, Source, Status, StatusUpdate

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


class AppConnector(Connector):
    """REST connector of the mobile-app backend."""

    source = Source.APP

    def __init__(self, config: SourceConfig, *, ledger: PushLedger | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.cfg = config
        self.ledger = ledger  # not needed: the app honours Idempotency-Key
        token_path = str(config.options.get("token_path", "/oauth/token"))
        self.auth = OAuth2ClientCredentials(
            config.source.value, config.base_url.rstrip("/") + token_path,
            config.plain("client_id") or "", config.secret("client_secret"),
            scope=config.options.get("scope"), transport=transport)
        self.http = build_client(config, auth=self.auth, transport=transport)
        self.page_size = min(config.page_size, 200)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.auth.aclose()

    async def check(self) -> CheckResult:
        """Fetch a token and one item of the feed."""
        try:
            doc = await self.http.get_json("complaints", params={"limit": 1})
        except HubError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, f"feed reachable, has_more={doc.get('has_more')}")

    async def pull(self, cursor: Any) -> AsyncIterator[Page]:  # type: ignore[override]
        state = dict(cursor or {})
        hwm = state.get("hwm")
        run = state.get("run")
        if not run:
            since = back(parse_iso(hwm), self.cfg.overlap_minutes).isoformat() if parse_iso(hwm) else None
            run = {"since": since, "cursor": None, "max_seen": hwm}
        max_seen = parse_iso(run.get("max_seen"))
        dedupe = RunDedupe()
        while True:
            params: dict[str, Any] = {"limit": self.page_size}
            if run.get("cursor"):
                params["cursor"] = run["cursor"]
            elif run.get("since"):
                params["updated_since"] = run["since"]
            try:
                doc = await self.http.get_json("complaints", params=params)
            except ConfigError as exc:
                if run.get("cursor") and "invalid_cursor" in str(exc):
                    # The source forgot our position (reset, retention): restart the run from its lower bound.
                    log.warning("app: stored cursor refused, restarting the run from %s", run.get("since"))
                    run = {**run, "cursor": None}
                    continue
                raise
            items, next_cursor, has_more = _envelope(doc)
            records = []
            for item in items:
                if not isinstance(item, dict):
                    raise SourceDataError(f"feed item is not an object: {type(item).__name__}", source="app")
                rec = raw(self.source, item, "id")
                if dedupe.fresh(rec.external_id, item.get("updated_at")):
                    records.append(rec)
                max_seen = later(max_seen, parse_iso(item.get("updated_at")))
            seen_iso = max_seen.isoformat() if max_seen else None
            stats = {"items": len(items), "duplicates_skipped": dedupe.skipped, **self.http.stats.summary()}
            if has_more and items:
                run = {"since": run.get("since"), "cursor": next_cursor, "max_seen": seen_iso}
                yield Page(records, {"hwm": hwm, "run": run}, stats)
            else:
                yield Page(records, {"hwm": seen_iso, "run": None}, stats)
                return

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Post status and reply; the Idempotency-Key makes a retried or repeated push a no-op."""
        body = {"status": app_status(update), "reply": update.reply}
        resp = await self.http.request(
            "POST", f"complaints/{update.external_id}/reply", json=body,
            headers={"Idempotency-Key": update.idempotency_key}, idempotent=True)
        doc = self.http.decode(resp) or {}
        replayed = resp.headers.get("Idempotent-Replayed", "").lower() == "true"
        return PushReceipt(source=self.source, idempotency_key=update.idempotency_key,
                           remote_ref=str(doc.get("updated_at") or ""), already_applied=replayed,
                           detail={"status": doc.get("status")})


def _envelope(doc: Any) -> tuple[list[Any], str | None, bool]:
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise SourceDataError("feed answer has no `items` list", source="app")
    return doc["items"], doc.get("next_cursor"), bool(doc.get("has_more"))
