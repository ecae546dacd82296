"""The push worker: drain the outbox, deliver each row by kind, record the outcome.

Kinds: `dispatch` / `reminder` → the team's destinations (teams.yaml); `ops` → the
operator destinations (chase.yaml); `status_update` → the source connector's `push`;
`sms` → the SMS connector. Delivery is at-least-once; effects are once because every
row carries an idempotency key the receiver (webhook header, source Idempotency-Key,
SMS push ledger) recognises. A failure is retried with jittered exponential backoff;
after `max_attempts` (or at once for a non-retryable error) the row is `dead` and the
operator is told (ERROR log + an `ops` outbox row). An ops notice with no destination
that delivers it (none configured, or every URL unset) is `undeliverable`, never `sent`:
an ERROR line names the variable to set, and the next sync's artifact counts such rows.
After a drain that may concern SMS, the gateways' delivery reports are read and recorded on
the rows (`hub.outbox.delivery`): delivered, or failed (flagged; resent when a resend can help).
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import bindparam, select, update

from connectors.base import Connector, DeliveryReporter, PushLedger, TextSender
from connectors.portal.runtime import PortalRuntime
from connectors.registry import make_connector
from core.errors import HubError, TransientError, Undeliverable
from core.logs import get_logger
from core.pii import Phone, get_vault, mask_phone
from core.schema import Source, Status, StatusUpdate, utcnow
from core.tls import verifying_context
from hub.chase.config import get_chase_config
from hub.outbox.delivery import DeliveryStats, awaiting_sources, consume_reports
from hub.outbox.dispatch import Message, deliver, dispatch_message, ops_message, reminder_message
from hub.outbox.leases import release_dead_claims
from hub.outbox.pacing import Pace, release_untried
from hub.outbox.priority import backlog, claim_by_priority
from hub.store import outbox as ob
from hub.store.db import Store
from hub.store.ledger import StorePushLedger
from hub.store.summaries import TicketFacts, ticket_facts
from hub.store.tables import contact_optouts, outbox
from hub.teams import get_teams

log = get_logger(__name__)
TEAM_KINDS = ("dispatch", "reminder", "ops")
CONCURRENCY = 16  # parallel webhook/bot deliveries per drain; connector pushes stay sequential


@dataclass
class DrainStats:
    """What one drain did."""

    claimed: int = 0
    #: rows a dead worker on this host had claimed, released before claiming (`hub.outbox.leases`)
    released: int = 0
    sent: int = 0
    #: rows deliberately not sent (an SMS to a customer who unsubscribed): state `skipped`, reason in the receipt
    skipped: int = 0
    failed: int = 0
    dead: int = 0
    #: ops notices with no destination that delivers them (state `undeliverable`)
    undeliverable: int = 0
    #: claimed but not tried in this pass (its deadline, or their source was down): back to pending
    deferred: int = 0
    #: sources whose breaker opened in this pass (a transient failure: the rest of their rows wait)
    down: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: after the pass: per kind what still waits and its oldest's age (`hub.outbox.priority.backlog`)
    backlog: list[dict[str, Any]] = field(default_factory=list)
    #: SMS delivery reports recorded after the pass (`hub.outbox.delivery`)
    delivered: int = 0
    #: SMS the gateway reported undelivered (flagged on the ticket; `resent` of them queued again)
    undelivered: int = 0
    resent: int = 0


def _mark_sent(store: Store, msg_id: int, receipt: dict[str, Any]) -> None:
    # One transaction per row: a worker that dies mid-batch leaves only its in-flight row to retry.
    with store.begin() as conn:
        ob.mark_sent(conn, msg_id, receipt)


def _mark_skipped(store: Store, msg_id: int, receipt: dict[str, Any]) -> None:
    """A row the hub chose not to send: `skipped`, with why in the receipt (it never counts as sent)."""
    with store.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == msg_id).values(
            state="skipped", sent_at=None, last_error=f"skipped: {receipt.get('skipped')}",
            receipt=json.loads(json.dumps(receipt, default=str, ensure_ascii=False))))


def _mark_sent_many(store: Store, done: list[tuple[int, dict[str, Any]]]) -> None:
    if not done:
        return
    now = utcnow()
    rows = [{"b_id": i, "b_receipt": json.loads(json.dumps(r, default=str, ensure_ascii=False))} for i, r in done]
    with store.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == bindparam("b_id")).values(
            state="sent", sent_at=now, last_error=None, receipt=bindparam("b_receipt")), rows)


def _mark_failed(store: Store, msg: ob.OutboxMessage, exc: BaseException, now: datetime) -> str:
    """Backoff (jittered, exponential) or dead; a dead row tells the operator."""
    cfg = get_chase_config().outbox
    retryable = isinstance(exc, TransientError) or not isinstance(exc, HubError)
    dead = not retryable or msg.attempts >= cfg.max_attempts
    base, cap = cfg.backoff_base.total_seconds(), cfg.backoff_cap.total_seconds()
    delay = random.uniform(base / 2, min(cap, base * 2 ** max(0, msg.attempts - 1)))
    if isinstance(exc, TransientError) and exc.retry_after:
        delay = max(delay, exc.retry_after)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with store.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == msg.id).values(
            state="dead" if dead else "failed", last_error=error, claimed_by=None,
            next_attempt_at=now + timedelta(seconds=delay)))
        if dead:
            log.error("outbox row %s (%s → %s, ticket %s) is dead after %s attempt(s): %s",
                      msg.id, msg.kind, msg.target, msg.ticket_id, msg.attempts, error)
            if msg.kind != "ops":  # an ops notice that dies is only logged: no notice loops
                ob.enqueue(conn, key=f"ops:dead:{msg.id}:{msg.attempts}", kind="ops", target="ops",
                           ticket_id=msg.ticket_id,
                           payload={"what": "outbox row dead", "outbox_id": msg.id, "kind": msg.kind,
                                    "target": msg.target, "ticket_id": msg.ticket_id,
                                    "attempts": msg.attempts, "error": error,
                                    "hint": f"fix the cause, then: hub outbox retry {msg.id}"})
    return "dead" if dead else "failed"


def _mark_undeliverable(store: Store, msg: ob.OutboxMessage, exc: Undeliverable) -> None:
    """Park a message that has nowhere to go (not retried, not `sent`) and say so at ERROR."""
    with store.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == msg.id).values(
            state="undeliverable", last_error=str(exc)[:2000], claimed_by=None))
    log.error("outbox row %s (%s: %s) is undeliverable: %s", msg.id, msg.kind,
              msg.payload.get("what", "notice"), exc)


def _delivered(receipts: list[dict[str, Any]]) -> bool:
    """Did at least one destination really take the message (not skipped for want of a URL)?"""
    return any("skipped" not in r for r in receipts)


def _opted_out(store: Store, phone: str) -> bool:
    h = get_vault().hash(phone)
    with store.begin() as conn:
        return conn.execute(select(contact_optouts.c.phone_hash).where(
            contact_optouts.c.phone_hash == h)).first() is not None


def _load_tickets(store: Store, ids: list[str]) -> dict[str, TicketFacts]:
    """What team messages show of their tickets; one unreadable ticket must not stop the others' delivery."""
    if not ids:
        return {}
    try:
        with store.begin() as conn:
            return ticket_facts(conn, ids)
    except Exception as exc:  # noqa: BLE001
        log.warning("loading tickets for a drain batch failed (%s); loading one by one", type(exc).__name__)
    out: dict[str, Any] = {}
    for tid in set(ids):
        try:
            with store.begin() as conn:
                out.update(ticket_facts(conn, [tid]))
        except Exception:  # noqa: BLE001 - the message is sent without ticket details
            log.warning("ticket %s unreadable; its messages go out with ids only", tid)
    return out


class ConnectorFactory(Protocol):
    """How the worker gets a source's connector (`connectors.registry.make_connector` by default)."""

    def __call__(self, source: str, *, ledger: PushLedger | None = None,
                 portal_runtime: PortalRuntime | None = None) -> Connector: ...


class _Connectors:
    """One connector per source per drain, created on first use and closed at the end."""

    def __init__(self, store: Store, factory: ConnectorFactory | None, portal_runtime: PortalRuntime | None):
        self.store, self.portal_runtime = store, portal_runtime
        self.factory: ConnectorFactory = factory or make_connector
        self.made: dict[str, Connector] = {}

    async def get(self, source: str) -> Connector:
        if source not in self.made:
            self.made[source] = self.factory(source, ledger=StorePushLedger(self.store, source),
                                             portal_runtime=self.portal_runtime)
        return self.made[source]

    async def aclose(self) -> None:
        for c in self.made.values():
            try:
                await c.aclose()
            except Exception as exc:  # noqa: BLE001 - closing must not hide the drain's outcome
                log.warning("closing connector failed: %s", exc)


def _status_update(msg: ob.OutboxMessage) -> StatusUpdate:
    p = dict(msg.payload)
    phone = (msg.secret or {}).get("phone")
    return StatusUpdate(ticket_id=p["ticket_id"], source=Source(p.get("source") or msg.target),
                        external_id=p["external_id"], status=Status(p["status"]),
                        reply=p.get("reply"), settled=p.get("settled"), method=p.get("method"),
                        customer_phone=Phone(phone) if phone else None,
                        idempotency_key=msg.idempotency_key, extra=p.get("extra") or {})


async def _send_sms(connectors: _Connectors, store: Store, msg: ob.OutboxMessage) -> dict[str, Any]:
    phone = (msg.secret or {}).get("phone")
    if not phone:
        raise HubError("sms row without a phone number")
    if _opted_out(store, phone):
        return {"skipped": "unsubscribed", "mobile": mask_phone(phone)}
    conn = await connectors.get(msg.target)  # the SMS channel's source (announce writes its key as the target)
    p = msg.payload
    if isinstance(conn, TextSender):  # a gateway that sends a template by itself (connectors.sms)
        res = await conn.send(phone, p.get("template") or "SMS_RESULT", p.get("params") or {}, msg.idempotency_key)
    else:  # the generic shape: a StatusUpdate whose reply is the text for the customer
        res = await conn.push(StatusUpdate(
            ticket_id=msg.ticket_id or "-", source=msg.target,
            external_id=p.get("external_id") or msg.ticket_id or "-",
            status=Status(p.get("status", "in_progress")), reply=p.get("text"), customer_phone=Phone(phone),
            idempotency_key=msg.idempotency_key,
            extra={"template_code": p.get("template"), "params": p.get("params") or {}}))
    return res.model_dump(mode="json")


async def _push(connectors: _Connectors, store: Store, msg: ob.OutboxMessage) -> dict[str, Any]:
    """One connector push-back (status update or SMS); its receipt."""
    if msg.kind == "status_update":
        upd = _status_update(msg)
        rec = await (await connectors.get(upd.source)).push(upd)
        return rec.model_dump(mode="json")
    if msg.kind == "sms":
        return await _send_sms(connectors, store, msg)
    raise HubError(f"unknown outbox kind {msg.kind!r}")


async def _send_team(client: httpx.AsyncClient, msg: ob.OutboxMessage,
                     tickets: dict[str, TicketFacts]) -> dict[str, Any]:
    t = tickets.get(msg.ticket_id) if msg.ticket_id else None
    team_id = msg.payload.get("team") or (msg.target.removeprefix("team:") if msg.target != "ops" else None)
    if msg.kind == "reminder":
        m: Message = reminder_message(t, msg.payload)
    elif msg.kind == "dispatch":
        m = dispatch_message(t) if t else Message(title="dispatch", text=json.dumps(msg.payload, ensure_ascii=False),
                                                  doc={"event": "dispatch", **msg.payload})
    else:
        m = ops_message(msg.payload)
    # ops notices, and reminders for a ticket without a team, go to the operator's destinations
    to_ops = not team_id or msg.kind == "ops"
    dests = get_chase_config().outbox.ops_destinations if to_ops or not team_id else \
        get_teams().team(team_id).destinations
    receipts = await deliver(client, dests, m, msg.idempotency_key)
    if to_ops and not _delivered(receipts):
        raise Undeliverable("no ops destination configured",
                            hint="set HUB_OPS_WEBHOOK (or an apprise URL in config/chase.yaml outbox.ops_destinations),"
                                 " then `hub outbox retry ID`")
    return {"destinations": receipts}


async def drain_outbox(store: Store, worker_id: str, *, limit: int = 200, kinds: list[str] | None = None,
                       now: datetime | None = None, connector_factory: ConnectorFactory | None = None,
                       portal_runtime: PortalRuntime | None = None, http_client: httpx.AsyncClient | None = None) -> DrainStats:
    """Claim up to `limit` due rows, customer-facing kinds first, and deliver them; returns counts by outcome.

    Kinds are claimed by priority and quota (`hub.outbox.priority`); push-backs to
    sources and SMS are sent before team messages. `stats.backlog` says what still
    waits per kind afterwards. `connector_factory(source, ledger=..., portal_runtime=...)`
    defaults to `connectors.registry.make_connector`. Safe to run in several processes at once.
    """
    now = now or utcnow()
    stats = DrainStats()
    try:
        await _drain(store, worker_id, stats, limit=limit, kinds=kinds, now=now, connector_factory=connector_factory,
                     portal_runtime=portal_runtime, http_client=http_client)
        if kinds is None or "sms" in kinds:
            await _delivery_reports(store, stats, connector_factory)
    finally:
        stats.backlog = [b.as_dict() for b in backlog(store, now=now)]
    return stats


async def _delivery_reports(store: Store, stats: DrainStats, factory: ConnectorFactory | None) -> None:
    """Record the delivery reports of every SMS source with sends still unreported; one failing source is logged."""
    sources = awaiting_sources(store)
    if not sources:
        return
    connectors = _Connectors(store, factory, None)
    total = DeliveryStats()
    try:
        for source in sources:
            try:
                conn = await connectors.get(source)
                if isinstance(conn, DeliveryReporter):
                    total.add(await consume_reports(store, source, conn))
            except Exception as exc:  # noqa: BLE001 - the sends are recorded; reports are read next drain
                log.warning("reading %s delivery reports failed: %s: %s", source, type(exc).__name__, exc)
                stats.errors.append(f"delivery reports of {source}: {type(exc).__name__}: {exc}"[:300])
    finally:
        await connectors.aclose()
    stats.delivered, stats.undelivered, stats.resent = total.delivered, total.undelivered, total.resent


async def _drain(store: Store, worker_id: str, stats: DrainStats, *, limit: int, kinds: list[str] | None,
                 now: datetime, connector_factory: ConnectorFactory | None, portal_runtime: PortalRuntime | None,
                 http_client: httpx.AsyncClient | None) -> None:
    stats.released = release_dead_claims(store, now=now)
    msgs = claim_by_priority(store, worker_id, limit=limit, now=now, kinds=kinds)
    stats.claimed = len(msgs)
    if not msgs:
        return
    ids = [m.ticket_id for m in msgs if m.ticket_id and m.kind in ("dispatch", "reminder")]
    tickets = _load_tickets(store, ids)
    connectors = _Connectors(store, connector_factory, portal_runtime)
    client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(10.0), verify=verifying_context())
    sem = asyncio.Semaphore(CONCURRENCY)

    sent_batch: list[tuple[int, dict[str, Any]]] = []

    def record(msg: ob.OutboxMessage, receipt: dict[str, Any] | None, exc: BaseException | None,
               batch: bool = False) -> None:
        """Count one message's outcome; mark it sent (now or with the batch) or failed/dead."""
        if exc is None and receipt and receipt.get("skipped"):  # nothing was sent: say so, never "sent"
            _mark_skipped(store, msg.id, receipt)
            stats.skipped += 1
            return
        if exc is None:
            if batch:
                sent_batch.append((msg.id, receipt or {}))
            else:
                _mark_sent(store, msg.id, receipt or {})
            stats.sent += 1
            stats.by_kind[msg.kind] = stats.by_kind.get(msg.kind, 0) + 1
            return
        if isinstance(exc, Undeliverable):
            _mark_undeliverable(store, msg, exc)
            stats.undeliverable += 1
            stats.errors.append(f"{msg.id}: {exc}"[:300])
            return
        state = _mark_failed(store, msg, exc, now)
        stats.errors.append(f"{msg.id}: {type(exc).__name__}: {exc}"[:300])
        if state == "dead":
            stats.dead += 1
        else:
            stats.failed += 1

    async def team_one(msg: ob.OutboxMessage) -> None:
        """Deliver one team message (dispatch, reminder, ops) within the concurrency limit."""
        async with sem:
            try:
                receipt = await _send_team(client, msg, tickets)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
                record(msg, None, exc)
                return
            record(msg, receipt, None, batch=True)

    try:
        # Customer- and regulator-facing pushes first; their effects land at a source, so each
        # is marked on its own. Team messages follow, marked together (receivers dedupe on the
        # idempotency key, so a crash before that commit costs a resend, not a double effect).
        pace, untried = Pace(), []
        for msg in (m for m in msgs if m.kind not in TEAM_KINDS):
            dest = str(msg.payload.get("source") or msg.target)
            if pace.why_not(dest):
                untried.append(msg)
                continue
            try:
                receipt = await asyncio.wait_for(_push(connectors, store, msg), pace.budget())
            except TimeoutError:
                slow = TransientError(f"push to {dest} took longer than {pace.push_one:.0f} s", source=dest,
                                      outcome_unknown=True)
                record(msg, None, slow)
                pace.trip(dest, str(slow))
                continue
            except Exception as exc:  # noqa: BLE001
                record(msg, None, exc)
                if isinstance(exc, TransientError):
                    pace.trip(dest, str(exc))
                continue
            record(msg, receipt, None)
        stats.deferred = release_untried(store, untried, now, set(pace.down))
        stats.down = sorted(pace.down)
        await asyncio.gather(*(team_one(m) for m in msgs if m.kind in TEAM_KINDS))
        _mark_sent_many(store, sent_batch)
    finally:
        await connectors.aclose()
        if http_client is None:
            await client.aclose()
