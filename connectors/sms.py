"""The SMS gateway: signed requests, uplink (MO) pull, notices out, delivery reports.

Pull: `GET /v1/sms/mo?cursor=&limit=` in arrival order; MO messages never change,
so the gateway's own `next_cursor` is the whole cursor (`MoCursor`).
Every MO becomes a raw record, survey replies and unsubscribes included (the hub
sorts them: `hub.judge.intents`). The payload is never annotated.

Push: `POST /v1/sms/send` is NOT idempotent (each call is a new SMS), so a push
is "look, then send once": the ledger is consulted, then the gateway's
`GET /v1/sms/sends?out_id=` (out_id = the idempotency key); only when neither
knows the key is the message sent, marked `sending` in the ledger first. A send
whose outcome is unknown (timeout, 5xx after the request left) is never blindly
retried: the next attempt looks again before sending.

| hub Status                     | template      | params                               |
|--------------------------------|---------------|--------------------------------------|
| new, assigned, in_progress,    | SMS_NOTICE    | ticket, hours (options.notice_hours)  |
|   reopened                     |               |                                      |
| waiting_customer, resolved,    | SMS_RESULT    | ticket, result (reply, else 已处理)  |
|   closed                       |               |                                      |
| any, with extra.template_code  | that template | extra.params (+ ticket)              |
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, ClassVar

import httpx

from connectors.api import ApiOptions, HttpConnector
from connectors.auth import SmsHmacSigner
from connectors.base import CursorModel, Page
from connectors.config import SourceConfig
from connectors.incremental import RunDedupe, raw
from core.errors import ConfigError, PushRefused, SourceAnswerError
from core.logs import get_logger
from core.schema import PushReceipt, Status, StatusUpdate

log = get_logger(__name__)

SMS_TEMPLATE: dict[Status, str] = {
    Status.NEW: "SMS_NOTICE",
    Status.ASSIGNED: "SMS_NOTICE",
    Status.IN_PROGRESS: "SMS_NOTICE",
    Status.REOPENED: "SMS_NOTICE",
    Status.WAITING_CUSTOMER: "SMS_RESULT",
    Status.RESOLVED: "SMS_RESULT",
    Status.CLOSED: "SMS_RESULT",
}

# --- delivery reports ------------------------------------------------------------------------


def match_delivery_reports(reports: Iterable[dict[str, Any]],
                           sends: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Pair each sent message (`{"out_id", "biz_id", ...}`) with its delivery report, if any.

    Reports are matched by `biz_id` (unique per send) and, failing that, by `out_id`;
    the latest report wins when a gateway repeats one.
    """
    by_biz: dict[str, dict[str, Any]] = {}
    by_out: dict[str, dict[str, Any]] = {}
    for r in reports:
        if r.get("biz_id"):
            by_biz[str(r["biz_id"])] = r
        if r.get("out_id"):
            by_out[str(r["out_id"])] = r
    return [(s, by_biz.get(str(s.get("biz_id"))) or by_out.get(str(s.get("out_id")))) for s in sends]


def delivered(report: dict[str, Any] | None) -> bool | None:
    """True delivered, False failed (e.g. unsubscribed), None no report yet."""
    if report is None:
        return None
    return str(report.get("status", "")).upper() == "DELIVRD"


#: report codes after which the same text may still arrive if sent again later: handset off,
#: out of coverage, validity expired while it was off, or the carrier does not know. Anything
#: else (UNSUBSCRIBED, blacklisted, empty number, rejected …) is final: a resend cannot help.
TRANSIENT_REPORT_CODES = frozenset({"IS_CLOSE", "HANDSET_OFF", "OUT_OF_SERVICE", "EXPIRED", "UNKNOWN"})


def report_code(report: dict[str, Any]) -> str:
    """`STATUS/ERR_CODE` of a report as stored on the outbox row (`DELIVRD` alone when delivered)."""
    status = str(report.get("status") or "").upper() or "UNKNOWN"
    err = str(report.get("err_code") or "").upper()
    return status if not err or err == status else f"{status}/{err}"[:80]


def transient_failure(report: dict[str, Any]) -> bool:
    """Whether a failed report says "not now" (a later resend may arrive) rather than "never"."""
    codes = {str(report.get("status") or "").upper(), str(report.get("err_code") or "").upper()}
    return delivered(report) is False and bool(codes & TRANSIENT_REPORT_CODES) and "UNSUBSCRIBED" not in codes


# --- the connector -----------------------------------------------------------------------------


class MoCursor(CursorModel):
    """The gateway's own position in the uplink (MO messages never change)."""

    mo_cursor: str | None = None


class SmsOptions(ApiOptions):
    """`options:` of the SMS source."""

    #: the "we will answer within N hours" of the SMS_NOTICE template
    notice_hours: int = 24


class SmsConnector(HttpConnector):
    """Signed JSON connector of the SMS gateway."""

    key = "sms"
    label = "短信"
    Cursor: ClassVar[type[CursorModel]] = MoCursor
    Options = SmsOptions
    max_page_size = 500
    check_path = "v1/sms/reports"
    options: SmsOptions

    def make_auth(self, config: SourceConfig, transport: httpx.AsyncBaseTransport | None) -> SmsHmacSigner:
        """The gateway's HMAC signature."""
        return SmsHmacSigner(config.source, config.plain("access_key") or "", config.secret("secret"))

    def describe_check(self, doc: Any) -> str:
        """The gateway answered."""
        return f"gateway reachable, code={doc.get('code') if isinstance(doc, dict) else None}"

    @classmethod
    def backfill_cursor(cls, since: datetime) -> CursorModel:
        """The gateway cannot seek by time: a backfill re-reads the uplink from the beginning."""
        return MoCursor(mo_cursor=None)

    async def _walk(self, path: str, cursor: str | None) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        while True:
            doc = await self.http.get_json(path, params={"cursor": cursor, "limit": self.page_size})
            if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
                raise SourceAnswerError(f"{path}: answer has no `items` list", source=self.key)
            items = [i for i in doc["items"] if isinstance(i, dict)]
            next_cursor = doc.get("next_cursor") or cursor
            yield items, next_cursor
            if not doc.get("has_more") or not items:
                return
            cursor = next_cursor

    async def pull(self, cursor: CursorModel | dict[str, Any] | None) -> AsyncIterator[Page]:
        """Pages of uplink messages after the stored position."""
        typed = self.read_cursor(cursor)
        mo_cursor = typed.mo_cursor if isinstance(typed, MoCursor) else None
        dedupe = RunDedupe()
        async for items, next_cursor in self._walk("v1/sms/mo", mo_cursor):
            records = [rec for rec in (raw(self.key, i, "mo_id") for i in items)
                       if dedupe.fresh(rec.external_id, rec.payload_hash)]
            yield Page(records, MoCursor(mo_cursor=next_cursor),
                       {"items": len(items), "duplicates_skipped": dedupe.skipped, **self.http.stats.summary()})

    async def delivery_reports(self, cursor: str | None = None) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of delivery reports after `cursor`, each with the cursor after it."""
        async for items, next_cursor in self._walk("v1/sms/reports", cursor):
            yield items, next_cursor

    async def sends(self, out_id: str) -> list[dict[str, Any]]:
        """What the gateway sent under this out_id (empty = never sent)."""
        doc = await self.http.get_json("v1/sms/sends", params={"out_id": out_id})
        items = doc.get("items") if isinstance(doc, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]

    async def send(self, mobile: str, template_code: str, params: dict[str, Any], out_id: str) -> PushReceipt:
        """Send one SMS at most once per `out_id` (ledger, then gateway lookup, then send)."""

        async def step() -> PushReceipt:
            """Look in the ledger, then at the gateway; send only when neither knows this out_id."""
            known = self.ledger.get(out_id) if self.ledger is not None else None
            if known and known.get("state") == "sent":
                return self.receipt(out_id, known.get("remote_ref") or None, already_applied=True, via="ledger")
            found = await self.sends(out_id)
            if found:
                biz_id = str(found[0].get("biz_id") or "")
                if self.ledger is not None:
                    self.ledger.mark(out_id, "sent", biz_id)
                return self.receipt(out_id, biz_id or None, already_applied=True, via="gateway")
            if self.ledger is not None:
                self.ledger.mark(out_id, "sending")
            try:  # not idempotent: an unknown outcome raises, and the next step looks again first
                doc = await self.http.post_json("v1/sms/send", {"mobile": mobile, "template_code": template_code,
                                                                "params": params, "out_id": out_id},
                                                idempotent=False)
            except ConfigError as exc:
                if exc.status_code == 400:
                    # isv.MOBILE_NUMBER_ILLEGAL, missing template parameters …: this message, not the config.
                    raise PushRefused(exc.message, source=self.key, status_code=400) from None
                raise
            if not isinstance(doc, dict) or doc.get("code") != "OK":
                raise PushRefused(f"gateway refused the SMS: {doc!r}"[:300], source=self.key)
            biz_id = str(doc.get("biz_id") or "")
            if self.ledger is not None:
                self.ledger.mark(out_id, "sent", biz_id)
            return self.receipt(out_id, biz_id or None, already_applied=False, via="sent")

        return await self.verified_push(step, f"send {out_id}")

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Text the customer the update (template per the module table), at most once per key."""
        phone = update.customer_phone.reveal() if update.customer_phone else update.extra.get("mobile")
        if not phone:
            raise PushRefused(f"status update {update.idempotency_key} has no customer phone to text",
                              source=self.key, field="customer_phone")
        template, params = self.template_for(update)
        return await self.send(str(phone), template, params, update.idempotency_key)

    def template_for(self, update: StatusUpdate) -> tuple[str, dict[str, Any]]:
        """Template code and parameters for an update (see the module table)."""
        ticket = str(update.extra.get("ticket") or update.ticket_id)
        if update.extra.get("template_code"):
            return str(update.extra["template_code"]), {"ticket": ticket, **dict(update.extra.get("params") or {})}
        template = SMS_TEMPLATE[update.status]
        if template == "SMS_NOTICE":
            return template, {"ticket": ticket, "hours": str(self.options.notice_hours)}
        return template, {"ticket": ticket, "result": (update.reply or "已处理")[:60]}
