"""SMS delivery reports: what reached the customer's phone, recorded on the outbox row.

A row `sent` only says the gateway accepted the text. The gateway then reports per message
(`connectors.sms.SmsConnector.delivery_reports`, a feed read by cursor): DELIVRD, or UNDELIV
with a reason. After each drain that may concern SMS, the push worker reads the feed from
the stored position (`delivery_cursors`) and, page by page in one transaction with the new
position, records on the matching row (by biz_id / out_id = the row's idempotency key):

- `delivery` = delivered | failed, `delivery_at` = the gateway's report time,
  `delivery_status` = its code (`DELIVRD`, `UNDELIV/UNSUBSCRIBED`, `UNDELIV/IS_CLOSE` …);
- a failed one is flagged: an `sms_undelivered` event on the ticket, a WARNING line
  (masked number), the drain's `undelivered` count (log line, cycle artifact) and the
  figure under `hub outbox list`;
- a failed one whose code says "not now" (`connectors.sms.TRANSIENT_REPORT_CODES`, handset
  off) is sent again as a new row `<key>~resend<n>` after `RESEND_AFTER`, at most
  `MAX_RESENDS` times; the resend goes through the drain like any SMS, so a number that
  unsubscribed meanwhile is skipped there. UNSUBSCRIBED (and every unknown code) is final:
  never resent.

Only a row whose `delivery` is still empty is written, and resend keys are idempotent, so
reading the same reports twice (a crash before the cursor commit) records nothing twice.
The feed is read only while some SMS sent in the last `WAIT_WINDOW` has no report.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, select, update

from connectors.sms import match_delivery_reports, report_code, transient_failure
from core.logs import get_logger
from core.pii import get_vault, mask_phone
from core.schema import TicketEvent, to_utc, utcnow
from hub.store import outbox as ob
from hub.store.db import Store
from hub.store.sql import upsert
from hub.store.tables import delivery_cursors, outbox, push_ledger, tickets
from hub.store.tickets import add_events

log = get_logger(__name__)

#: how many times a transiently undelivered SMS is sent again (then it stays failed, flagged)
MAX_RESENDS = 2
#: a handset that is off now may be on in half an hour
RESEND_AFTER = timedelta(minutes=30)
#: SMS sent longer ago than this without a report are no longer waited for
WAIT_WINDOW = timedelta(days=3)
RESEND_MARK = "~resend"


class ReportFeed(Protocol):
    """What this module needs of a gateway connector (`connectors.base.DeliveryReporter`)."""

    def delivery_reports(self, cursor: str | None = None) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of delivery reports after `cursor`, each with the cursor after it."""


@dataclass
class DeliveryStats:
    """What one read of a delivery-report feed recorded."""

    reports: int = 0
    delivered: int = 0
    #: reports of failure recorded on a row (each one flagged)
    undelivered: int = 0
    #: of those, sent again as a new row (transient failure, resends left)
    resent: int = 0
    #: reports for no SMS row of the hub (another sender on the account), or already recorded
    ignored: int = 0
    failed_keys: list[str] = field(default_factory=list)

    def add(self, other: DeliveryStats) -> None:
        """Sum another read into this one."""
        self.reports += other.reports
        self.delivered += other.delivered
        self.undelivered += other.undelivered
        self.resent += other.resent
        self.ignored += other.ignored
        self.failed_keys += other.failed_keys


def awaiting_sources(store: Store, now: datetime | None = None) -> list[str]:
    """SMS sources (outbox targets) with a row sent within `WAIT_WINDOW` and no delivery report yet."""
    since = (now or utcnow()) - WAIT_WINDOW
    with store.begin() as conn:
        return sorted(conn.execute(select(outbox.c.target).where(
            outbox.c.kind == "sms", outbox.c.state == "sent", outbox.c.delivery.is_(None),
            outbox.c.sent_at >= since).distinct()).scalars())


def get_report_cursor(conn: Connection, source: str) -> str | None:
    """Where the hub stopped reading `source`'s delivery-report feed (None: from the start)."""
    value = conn.execute(select(delivery_cursors.c.cursor).where(delivery_cursors.c.source == source)).scalar()
    return str(value["cursor"]) if isinstance(value, dict) and value.get("cursor") else None


def _set_report_cursor(conn: Connection, source: str, cursor: str | None) -> None:
    conn.execute(upsert(conn, delivery_cursors, ["source"], ["cursor", "updated_at"]),
                 {"source": source, "cursor": {"cursor": cursor}, "updated_at": utcnow()})


async def consume_reports(store: Store, source: str, feed: ReportFeed) -> DeliveryStats:
    """Read `source`'s reports after the stored cursor; record each page and the new cursor together."""
    stats = DeliveryStats()
    with store.begin() as conn:
        cursor = get_report_cursor(conn, source)
    async for items, next_cursor in feed.delivery_reports(cursor):
        with store.begin() as conn:
            stats.add(record_reports(conn, source, items))
            if next_cursor != cursor:
                _set_report_cursor(conn, source, next_cursor)
        cursor = next_cursor
    if stats.reports:
        log.info("%s delivery reports: %d read, %d delivered, %d undelivered (%d resent), %d ignored", source,
                 stats.reports, stats.delivered, stats.undelivered, stats.resent, stats.ignored)
    return stats


def _report_time(report: dict[str, Any]) -> datetime:
    """The gateway's report time (its local wall clock), UTC; now when it gave none readable."""
    try:
        return to_utc(datetime.fromisoformat(str(report.get("report_at"))))
    except ValueError:
        return utcnow()


def _keys_by_biz(conn: Connection, source: str, biz_ids: list[str]) -> dict[str, str]:
    """Idempotency keys of sends known only by the gateway's biz_id (the push ledger keeps it)."""
    if not biz_ids:
        return {}
    rows = conn.execute(select(push_ledger.c.remote_ref, push_ledger.c.idempotency_key).where(
        push_ledger.c.source == source, push_ledger.c.remote_ref.in_(biz_ids))).all()
    return {str(r.remote_ref): str(r.idempotency_key) for r in rows}


def record_reports(conn: Connection, source: str, reports: list[dict[str, Any]]) -> DeliveryStats:
    """Record one page of reports on their SMS rows (in the caller's transaction); see the module doc."""
    stats = DeliveryStats(reports=len(reports))
    keys = {str(r["out_id"]) for r in reports if r.get("out_id")}
    keys |= set(_keys_by_biz(conn, source, [str(r["biz_id"]) for r in reports
                                            if r.get("biz_id") and not r.get("out_id")]).values())
    rows = conn.execute(select(outbox).where(outbox.c.kind == "sms", outbox.c.idempotency_key.in_(sorted(keys)))
                        ).all() if keys else []
    by_key = {r.idempotency_key: r for r in rows}
    sends = [{"out_id": r.idempotency_key, "biz_id": (r.receipt or {}).get("remote_ref")} for r in rows]
    matched = {s["out_id"]: rep for s, rep in match_delivery_reports(reports, sends) if rep is not None}
    stats.ignored = len(reports) - len(matched)
    existing = set(conn.execute(select(tickets.c.ticket_id).where(tickets.c.ticket_id.in_(
        sorted({r.ticket_id for r in rows if r.ticket_id})))).scalars()) if rows else set()
    events: list[TicketEvent] = []
    for key, rep in matched.items():
        row = by_key[key]
        ok = str(rep.get("status", "")).upper() == "DELIVRD"
        code = report_code(rep)
        done = conn.execute(update(outbox).where(outbox.c.id == row.id, outbox.c.delivery.is_(None)).values(
            delivery="delivered" if ok else "failed", delivery_at=_report_time(rep), delivery_status=code)).rowcount
        if not done:  # recorded by an earlier read: nothing twice
            stats.ignored += 1
            continue
        if ok:
            stats.delivered += 1
            continue
        stats.undelivered += 1
        stats.failed_keys.append(key)
        resent = _resend(conn, row) if transient_failure(rep) else None
        stats.resent += resent is not None
        log.warning("SMS %s (outbox row %s, ticket %s, to %s) was not delivered: %s; %s", key, row.id,
                    row.ticket_id or "-", mask_phone(str(rep.get("mobile") or "")) or "-", code,
                    f"sent again as {resent}" if resent else "not sent again")
        if row.ticket_id in existing:
            events.append(TicketEvent(ticket_id=row.ticket_id, actor=f"source:{source}", kind="sms_undelivered",
                                      data={"outbox_id": row.id, "key": key, "status": code, "resent_as": resent,
                                            "template": (row.payload or {}).get("template")}))
    add_events(conn, events)
    return stats


def _resend(conn: Connection, row: Any) -> str | None:
    """Queue the same SMS again under a new key (a resend of a resend counts); None when none are left."""
    payload = ob.open_payload(dict(row.payload or {}))  # enqueue seals its free text again, once
    n = int(payload.get("resend") or 0) + 1
    if n > MAX_RESENDS:
        return None
    base = str(payload.get("resend_of") or row.idempotency_key)
    key = f"{base}{RESEND_MARK}{n}"
    secret = json.loads(get_vault().decrypt_bytes(row.secret_enc)) if row.secret_enc else None
    ob.enqueue(conn, key=key, kind="sms", target=row.target, ticket_id=row.ticket_id, secret=secret,
               payload={**payload, "resend_of": base, "resend": n}, not_before=utcnow() + RESEND_AFTER)
    return key
