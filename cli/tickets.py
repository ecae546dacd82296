"""`hub tickets …`: list and inspect tickets (PII always masked)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.common import (
    ALL_HELP,
    LIMIT_HELP,
    console,
    cut,
    emit_json,
    fetch_limit,
    operator_errors,
    source_argument,
)
from core.pii import scrub_text
from core.schema import to_local
from hub.store import get_store
from hub.store.tickets import get_events, get_ticket, list_tickets

app = typer.Typer(help="Tickets.", no_args_is_help=True)


def _fmt(ts: Any) -> str:
    return to_local(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


@app.command("list")
@operator_errors
def list_cmd(
    source: str = typer.Option(None, help="Only this source (a key of config/sources.yaml).", callback=source_argument),
    status: str = typer.Option(None, help="Only this status (new, assigned, in_progress, ...)."),
    team: str = typer.Option(None, help="Only this team."),
    overdue: bool = typer.Option(False, "--overdue", help="Only open tickets past their nearest deadline."),
    limit: int = typer.Option(100, help=LIMIT_HELP),
    everything: bool = typer.Option(False, "--all", help=ALL_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """List tickets, nearest deadline first."""
    with get_store().begin() as conn:
        rows = cut(list_tickets(conn, source=source, status=status, team=team, overdue=overdue,
                                 limit=fetch_limit(limit, everything)), limit, everything, "tickets")
    if as_json:
        emit_json([{
            "ticket_id": r.ticket_id, "source": r.source, "external_id": r.external_id, "status": r.status,
            "team": r.team, "handler": r.handler, "category": r.category, "urgency": r.urgency,
            "risk_level": r.risk_level, "received_at": r.received_at, "next_due_at": r.next_due_at,
            "case_id": r.case_id, "title": scrub_text((r.data.get("matter") or {}).get("title", "")),
            "customer": {k: (r.data.get("customer") or {}).get(k) for k in ("name", "phone")},
        } for r in rows])
        return
    table = Table(title=f"tickets ({len(rows)})")
    for col in ("ticket", "source", "status", "team", "handler", "urgency", "risk", "received", "due", "title"):
        table.add_column(col)
    for r in rows:
        title = scrub_text((r.data.get("matter") or {}).get("title", ""))
        table.add_row(r.ticket_id, r.source, r.status, r.team or "-", r.handler or "-", r.urgency or "-",
                      r.risk_level or "-", _fmt(r.received_at), _fmt(r.next_due_at), title[:30])
    console.print(table)


@app.command("show")
@operator_errors
def show_cmd(ticket_id: str, as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")) -> None:
    """Show one ticket: fields, clocks, explanations and its timeline."""
    with get_store().begin() as conn:
        t = get_ticket(conn, ticket_id)
        events = get_events(conn, ticket_id) if t else []
    if t is None:
        console.print(f"[red]no ticket {ticket_id}[/]")
        raise typer.Exit(1)
    if as_json:
        doc = t.model_dump(mode="json")  # PII masked by the field types
        doc["timeline"] = [e.model_dump(mode="json") for e in events]
        emit_json(doc)
        return
    c, m, j, h = t.customer, t.matter, t.judgement, t.handling
    console.print(f"[bold]{t.ticket_id}[/]  {t.source}:{t.external_id}  case={t.case_id or '-'}")
    console.print(f"customer: {c.name or '-'}  {c.phone or '-'}  {c.id_number or '-'}"
                  f"{'  [elderly]' if c.elderly else ''}{'  [VIP]' if c.vip else ''}")
    console.print(f"title: {scrub_text(m.title)}")
    console.print(f"content: {scrub_text(m.content[:400])}")
    if m.demands:
        console.print(f"demands: {scrub_text('; '.join(m.demands))}")
    if m.amount is not None:
        console.print(f"amount: ¥{m.amount}")
    console.print(f"judgement: {j.category.value if j.category else '-'}/{j.sub_category or '-'} "
                  f"urgency={j.urgency.value} risk={j.risk_level.value}({j.risk_score:.1f}) "
                  f"escalation={[e.value for e in j.escalation_intent]} repeats={j.repeat_count}")
    console.print(f"handling: status={h.status.value} team={h.team or '-'} handler={h.handler or '-'}"
                  f" first_handler={h.first_handler or '-'}")
    if t.clocks:
        ct = Table(title="clocks")
        for col in ("clock", "policy", "started", "due", "state"):
            ct.add_column(col)
        for k in t.clocks:
            ct.add_row(k.kind.value, k.policy, _fmt(k.started_at), _fmt(k.due_at), k.state.value)
        console.print(ct)
    if t.explanations:
        et = Table(title="why")
        for col in ("decision", "value", "reason", "matched"):
            et.add_column(col)
        for key, ex in t.explanations.items():
            et.add_row(key, ex.value, ex.reason, ", ".join(ex.matched)[:60])
        console.print(et)
    tl = Table(title="timeline")
    for col in ("at", "actor", "event", "detail"):
        tl.add_column(col)
    for e in events:
        detail = e.note or ", ".join(f"{k}={v}" for k, v in e.data.items())
        tl.add_row(_fmt(e.at), e.actor, e.kind, detail[:80])
    console.print(tl)


# `hub tickets update` lives in its own module (issue 7).
from cli.ticket_update import update_cmd as _update_cmd  # noqa: E402

app.command("update")(_update_cmd)
