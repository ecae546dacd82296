"""`hub outbox …`: list outbound messages, retry a failed/dead one, drain once."""

from __future__ import annotations

import asyncio
import os
import socket

import typer
from rich.table import Table
from sqlalchemy import Connection, func, select, update

from cli.common import ALL_HELP, LIMIT_HELP, console, cut, emit_json, fetch_limit, operator_errors
from core.errors import ConfigError
from core.pii import scrub_text
from core.schema import to_local, utcnow
from hub.outbox.worker import drain_outbox
from hub.store import get_store
from hub.store.tables import outbox

app = typer.Typer(help="Outbox: dispatches, reminders, status updates and SMS waiting to be sent.",
                  no_args_is_help=True)
STATES = ("pending", "sending", "sent", "skipped", "failed", "dead", "undeliverable")
DELIVERY = ("delivered", "failed", "none")


def _undelivered_figure(conn: Connection) -> str:
    """The ops figure under the listing: SMS the gateway reported undelivered, and how many were resent."""
    failed = conn.execute(select(func.count()).select_from(outbox).where(
        outbox.c.kind == "sms", outbox.c.delivery == "failed")).scalar_one()
    resent = conn.execute(select(func.count()).select_from(outbox).where(
        outbox.c.kind == "sms", outbox.c.idempotency_key.like("%~resend%"))).scalar_one()
    return f"SMS undelivered (gateway reports): {failed}; resent {resent}" if failed else ""


@app.command("list")
@operator_errors
def list_cmd(
    state: str = typer.Option(None, "--state", help=f"Only this state ({', '.join(STATES)})."),
    kind: str = typer.Option(None, "--kind", help="Only this kind (dispatch, reminder, status_update, sms, ops)."),
    ticket: str = typer.Option(None, "--ticket", help="Only this ticket."),
    delivery: str = typer.Option(None, "--delivery",
                                 help="SMS only: by delivery report (delivered, failed, none = no report yet)."),
    limit: int = typer.Option(100, help=LIMIT_HELP),
    everything: bool = typer.Option(False, "--all", help=ALL_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """List outbox rows (payloads are stored masked; phones never shown)."""
    if state and state not in STATES:
        raise ConfigError(f"unknown state {state!r}; use one of {', '.join(STATES)}")
    if delivery and delivery not in DELIVERY:
        raise ConfigError(f"unknown delivery {delivery!r}; use one of {', '.join(DELIVERY)}")
    q = select(outbox.c.id, outbox.c.idempotency_key, outbox.c.kind, outbox.c.target, outbox.c.ticket_id,
               outbox.c.state, outbox.c.attempts, outbox.c.next_attempt_at, outbox.c.sent_at,
               outbox.c.last_error, outbox.c.created_at, outbox.c.receipt, outbox.c.delivery,
               outbox.c.delivery_at, outbox.c.delivery_status)
    if state:
        q = q.where(outbox.c.state == state)
    if kind:
        q = q.where(outbox.c.kind == kind)
    if ticket:
        q = q.where(outbox.c.ticket_id == ticket)
    if delivery:
        q = q.where(outbox.c.kind == "sms", outbox.c.state == "sent", outbox.c.delivery.is_(None)) \
            if delivery == "none" else q.where(outbox.c.kind == "sms", outbox.c.delivery == delivery)
    with get_store().begin() as conn:
        rows = cut(list(conn.execute(q.order_by(outbox.c.id.desc()).limit(fetch_limit(limit, everything))).all()),
                   limit, everything, "rows")
        figure = _undelivered_figure(conn)
    if as_json:
        emit_json([{"id": r.id, "key": r.idempotency_key, "kind": r.kind, "target": r.target,
                    "ticket_id": r.ticket_id, "state": r.state, "attempts": r.attempts,
                    "next_attempt_at": r.next_attempt_at, "sent_at": r.sent_at, "created_at": r.created_at,
                    "last_error": scrub_text(r.last_error) if r.last_error else None, "receipt": r.receipt,
                    "delivery": r.delivery, "delivery_at": r.delivery_at, "delivery_status": r.delivery_status}
                   for r in rows])
        return
    table = Table(title=f"outbox ({len(rows)})")
    for col in ("id", "kind", "target", "ticket", "state", "tries", "next / sent", "delivery", "error"):
        table.add_column(col)
    for r in rows:
        when = r.sent_at if r.state == "sent" else r.next_attempt_at
        table.add_row(str(r.id), r.kind, r.target, r.ticket_id or "-", r.state, str(r.attempts),
                      to_local(when).strftime("%m-%d %H:%M:%S") if when else "-",
                      f"{r.delivery} {r.delivery_status or ''}".strip() if r.delivery else "-",
                      scrub_text(r.last_error or "")[:50])
    console.print(table)
    if figure:
        console.print(f"[bold red]{figure}[/] — `hub outbox list --delivery failed`; each is on its ticket's timeline")


@app.command("retry")
@operator_errors
def retry_cmd(msg_id: int = typer.Argument(..., help="Outbox row id (see `hub outbox list`).")) -> None:
    """Send a failed, dead or undeliverable row again now, with a fresh attempt budget (same idempotency key)."""
    with get_store().begin() as conn:
        row = conn.execute(select(outbox.c.state).where(outbox.c.id == msg_id)).first()
        if row is None:
            raise ConfigError(f"no outbox row {msg_id}")
        if row.state not in ("failed", "dead", "undeliverable"):
            raise ConfigError(f"outbox row {msg_id} is {row.state}; only failed, dead or undeliverable rows are retried")
        conn.execute(update(outbox).where(outbox.c.id == msg_id).values(
            state="pending", attempts=0, next_attempt_at=utcnow(), claimed_by=None))
    console.print(f"outbox row {msg_id}: pending again (the push worker sends it on its next run)")


@app.command("drain")
@operator_errors
def drain_cmd(limit: int = typer.Option(200, help="At most this many rows."),
              kind: list[str] = typer.Option(None, "--kind", help="Only these kinds."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Send due rows once (the scheduled push flow does the same)."""
    worker = f"cli:{socket.gethostname()}:{os.getpid()}"
    stats = asyncio.run(drain_outbox(get_store(), worker, limit=limit, kinds=kind or None))
    doc = {"claimed": stats.claimed, "sent": stats.sent, "failed": stats.failed, "dead": stats.dead,
           "undeliverable": stats.undeliverable, "sms_delivered": stats.delivered,
           "sms_undelivered": stats.undelivered, "sms_resent": stats.resent, "by_kind": stats.by_kind, "errors": [scrub_text(e) for e in stats.errors[:20]]}
    if as_json:
        emit_json(doc)
    else:
        console.print(doc)
