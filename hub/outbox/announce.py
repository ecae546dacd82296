"""Outbox rows that announce a handling change, written in the caller's transaction.

- `status_update` to the ticket's source (the connector maps hub statuses to the
  source's vocabulary), idempotency key `status:<ticket>:<seq>:<status>` — the
  sequence number counts earlier announcements, so a replay of the same change
  names the same row and a later resolve (after a reopen) gets a new one;
- `sms` to the customer when the source has no channel of its own (e.g. SMS
  complaints): cause + solution + advice in one message;
- `dispatch` to a team (transfer), `reminder` to a lead (extension request).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from core.pii import get_vault
from core.schema import Status, Ticket
from hub.chase.config import get_chase_config
from hub.store import outbox as ob
from hub.store.tables import contact_optouts, outbox


def _seq(conn: Connection, prefix: str) -> int:
    """How many rows with this key prefix exist: the next announcement's number."""
    return conn.execute(select(func.count()).select_from(outbox).where(
        outbox.c.idempotency_key.like(f"{prefix}%"))).scalar_one() + 1


def opted_out(conn: Connection, t: Ticket) -> bool:
    """Has the customer unsubscribed from SMS?"""
    h = t.customer.phone_hash or (get_vault().hash(t.customer.phone) if t.customer.phone else None)
    return h is not None and conn.execute(select(contact_optouts.c.phone_hash).where(
        contact_optouts.c.phone_hash == h)).first() is not None


def sms_text(t: Ticket, reply: str | None) -> str:
    """Cause + solution + advice for a customer without another channel (the reply; never a note)."""
    body = (reply or "").strip() or "您的投诉已处理完毕"
    return f"您的投诉（编号{t.ticket_id}）处理结果：{body}。如有疑问请致电客服。"


def enqueue_sms(conn: Connection, t: Ticket, *, key: str, text: str, purpose: str,
                template: str = "SMS_RESULT", params: dict[str, Any] | None = None) -> bool:
    """An SMS to the ticket's customer (skipped when no phone or unsubscribed)."""
    if not t.customer.phone or opted_out(conn, t):
        return False
    return ob.enqueue(conn, key=key, kind="sms", target="sms", ticket_id=t.ticket_id,
                      payload={"purpose": purpose, "template": template,
                               "params": params or {"ticket": t.ticket_id, "result": text[:200]},
                               "text": text, "ticket_id": t.ticket_id, "external_id": t.external_id,
                               "status": t.handling.status.value},
                      secret={"phone": t.customer.phone.reveal()})


def announce_status(conn: Connection, t: Ticket, *, reply: str | None = None,
                    settled: bool | None = None, method: str | None = None, force: bool = False) -> str | None:
    """Queue the push-back of the ticket's current status; returns the idempotency key (None: nothing).

    Only the customer `reply` travels: internal notes have no way into the outbox (DESIGN rule 6).
    """
    cfg = get_chase_config().push
    status = t.handling.status
    if not force and status.value not in cfg.statuses and reply is None:
        return None
    if t.source in cfg.sms_sources:
        if status not in (Status.RESOLVED, Status.CLOSED) and reply is None:
            return None
        prefix = f"sms-result:{t.ticket_id}:"
        key = f"{prefix}{_seq(conn, prefix)}:{status.value}"
        return key if enqueue_sms(conn, t, key=key, text=sms_text(t, reply), purpose="result") else None
    prefix = f"status:{t.ticket_id}:"
    key = f"{prefix}{_seq(conn, prefix)}:{status.value}"
    ob.enqueue(conn, key=key, kind="status_update", target=t.source, ticket_id=t.ticket_id,
               payload={"ticket_id": t.ticket_id, "source": t.source, "external_id": t.external_id,
                        "status": status.value, "reply": reply, "settled": settled,
                        "method": method})
    return key


def announce_dispatch(conn: Connection, t: Ticket, team: str, *, reason: str = "") -> str:
    """Tell a team a ticket is theirs (after routing or a transfer)."""
    prefix = f"dispatch:{t.ticket_id}:{team}:"
    key = f"{prefix}{_seq(conn, prefix)}"
    ob.enqueue(conn, key=key, kind="dispatch", target=f"team:{team}", ticket_id=t.ticket_id,
               payload={"ticket_id": t.ticket_id, "team": team, "reason": reason})
    return key


def announce_to_lead(conn: Connection, t: Ticket, *, level: str, recipients: list[str],
                     extra: dict[str, Any]) -> str:
    """A reminder-kind message to named people of the ticket's team (e.g. an extension request)."""
    prefix = f"{level}:{t.ticket_id}:"
    key = f"{prefix}{_seq(conn, prefix)}"
    ob.enqueue(conn, key=key, kind="reminder", target=f"team:{t.handling.team}" if t.handling.team else "ops", ticket_id=t.ticket_id,
               payload={"ticket_id": t.ticket_id, "team": t.handling.team, "level": level,
                        "recipients": recipients, **extra})
    return key
