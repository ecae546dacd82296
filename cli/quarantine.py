"""`hub quarantine list | show | replay`: records that could not be mapped (PII masked)."""

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
from core.pii import mask_id_number, mask_name, mask_phone, scrub_text
from core.schema import to_local
from hub.pipeline.sync import replay_once
from hub.store import get_store
from hub.store import quarantine as q
from hub.store.landing import load_raw

app = typer.Typer(help="Quarantined records: inspect and replay after a mapping fix.", no_args_is_help=True)

_NAME_KEYS = {"complainant", "customer_name", "name", "user_nick"}
_PHONE_KEYS = {"phone", "mobile", "caller"}
_ID_KEYS = {"id_number", "id_no"}


def mask_payload(value: Any, key: str | None = None) -> Any:
    """A raw payload with personal data masked: names, phones and IDs by key, numbers in text."""
    if isinstance(value, dict):
        return {k: mask_payload(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_payload(v, key) for v in value]
    if isinstance(value, str | int) and not isinstance(value, bool):
        s = str(value)
        if key in _NAME_KEYS:
            return mask_name(s)
        if key in _PHONE_KEYS:
            return mask_phone(s)
        if key in _ID_KEYS:
            return mask_id_number(s)
        return scrub_text(s) if isinstance(value, str) else value
    return value


def _row(r: Any) -> dict[str, Any]:
    return {"id": r.id, "raw_id": r.raw_id, "source": r.source, "external_id": r.external_id,
            "field": r.field, "reason": scrub_text(r.reason), "mapping_version": r.mapping_version,
            "state": r.state, "attempts": r.attempts, "created_at": r.created_at, "resolved_at": r.resolved_at}


@app.command("list")
@operator_errors
def list_cmd(
    source: str = typer.Option(None, help="Only this source.", callback=source_argument),
    state: str = typer.Option("open", help="open | replayed | discarded"),
    limit: int = typer.Option(100, help=LIMIT_HELP),
    everything: bool = typer.Option(False, "--all", help=ALL_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """List quarantined records with the failing field and reason."""
    with get_store().begin() as conn:
        rows = cut(q.list_open(conn, source=source, limit=fetch_limit(limit, everything), state=state), limit,
                   everything, "records")
    if as_json:
        emit_json([_row(r) for r in rows])
        return
    table = Table(title=f"quarantine ({state}): {len(rows)}")
    for col in ("id", "source", "external id", "field", "reason", "mapping", "tries", "since"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.id), r.source, r.external_id, r.field or "-", scrub_text(r.reason)[:60],
                      r.mapping_version or "-", str(r.attempts), to_local(r.created_at).strftime("%m-%d %H:%M"))
    console.print(table)


@app.command("show")
@operator_errors
def show_cmd(qid: int = typer.Argument(..., help="Quarantine id (from `hub quarantine list`)."),
             as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")) -> None:
    """Show one quarantined record: reason and its raw payload (PII masked)."""
    with get_store().begin() as conn:
        r = q.get(conn, qid)
        raw = load_raw(conn, r.raw_id) if r is not None else None
    if r is None or raw is None:
        console.print(f"[red]no quarantine entry {qid}[/]")
        raise typer.Exit(1)
    doc = _row(r) | {"payload": mask_payload(raw.payload), "payload_hash": raw.payload_hash,
                     "fetched_at": raw.fetched_at}
    if as_json:
        emit_json(doc)
        return
    console.print(f"[bold]#{r.id}[/] {r.source}:{r.external_id}  state={r.state}  attempts={r.attempts}")
    console.print(f"field: {r.field or '-'}\nreason: {scrub_text(r.reason)}\nmapping: {r.mapping_version or '-'}")
    console.print_json(data=doc["payload"], default=str)


@app.command("replay")
@operator_errors
def replay_cmd(
    source: str = typer.Option(None, help="Only this source.", callback=source_argument),
    ids: list[int] = typer.Option(None, "--id", help="Quarantine id(s); repeat the option for several."),
    as_json: bool = typer.Option(False, "--json", help="Counts as JSON."),
) -> None:
    """Re-map open quarantined records with the current mappings; those that map become tickets, routed at once.

    The same as the `replay-quarantine` flow (`hub.pipeline.sync.replay_once`), run locally.
    """
    result = replay_once(get_store(), source=source, ids=ids or None)
    doc = result.summary()
    if as_json:
        emit_json(doc)
        return
    console.print(f"replayed {doc['seen']}: created {doc['created']}, updated {doc['updated']}, "
                  f"unchanged {doc['unchanged']}, ignored {doc['ignored']}, still quarantined {doc['quarantined']}, "
                  f"routed {doc['routed']}")
