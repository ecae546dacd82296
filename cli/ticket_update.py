"""`hub tickets update ID --status … --note …`: a status change from the command line."""

from __future__ import annotations

import typer

from cli.common import console, emit_json, operator_errors
from core.schema import Status
from hub.handling.actions import change_status
from hub.store import get_store


@operator_errors
def update_cmd(
    ticket_id: str = typer.Argument(..., help="Ticket id (T…)."),
    status: Status = typer.Option(..., "--status", help="New status."),
    note: str = typer.Option("", "--note", help="Internal handling note (stays in the hub, never sent)."),
    reply: str = typer.Option(None, "--reply", help="Text shown to the customer at the source (12315 协商过程)."),
    settled: bool = typer.Option(None, "--settled/--not-settled", help="12315: 和解成功 / 和解不成."),
    method: str = typer.Option(None, "--method", help="12315 协商方式, e.g. 电话协商."),
    actor: str = typer.Option("operator:cli", "--actor", help="Who makes the change (timeline)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Change a ticket's status; the push-back to its source is queued in the same transaction."""
    with get_store().begin() as conn:
        t = change_status(conn, ticket_id, status, actor=actor, note=note, reply=reply, settled=settled,
                          method=method)
    if as_json:
        emit_json({"ticket_id": t.ticket_id, "status": t.handling.status.value, "team": t.handling.team})
    else:
        console.print(f"{t.ticket_id}: {t.handling.status.value}")
