"""`hub sync` and `hub cycle`: run the flows once, locally, and print the run summary.

These start Prefect's local (ephemeral) API unless PREFECT_API_URL points at a
server; the runs then show up in that server's UI like scheduled ones.
"""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from cli.common import console, emit_json, operator_errors
from core.schema import Source

COLUMNS = ("source", "pulled", "new", "created", "updated", "quarantined", "routed", "pushed", "error")


def _table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r.get(c, "") if c in ("source", "error") else r.get(c, 0)) for c in COLUMNS))
    return table


@operator_errors
def sync(
    source: str = typer.Argument(None, help="Source key (gov12315, blackcat, app, sms, callcenter)."),
    all_sources: bool = typer.Option(False, "--all", help="All five sources in parallel."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Pull, land, normalise and route one source (or all) once; print what happened."""
    from flows.sync import sync_all, sync_source

    if not all_sources and not source:
        raise typer.BadParameter("give a SOURCE or --all")
    if all_sources:
        state = asyncio.run(sync_all(return_state=True))
    else:
        state = asyncio.run(sync_source(Source(source).value, return_state=True))
    rows = _rows_from_state(state)
    if as_json:
        emit_json({"state": state.type.value, "sources": rows})
    else:
        console.print(_table(rows, f"sync — {state.name}"))
    if state.is_failed():
        raise typer.Exit(1)


@operator_errors
def cycle(as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout.")) -> None:
    """One full hub cycle: sync all → route → push → chase → push; print the summary."""
    from flows.cycle import hub_cycle

    state = asyncio.run(hub_cycle(return_state=True))
    result = state.result(raise_on_failure=False) if not state.is_failed() else {}
    rows = result.get("sources", []) if isinstance(result, dict) else []
    if as_json:
        emit_json({"state": state.type.value, **(result if isinstance(result, dict) else {})})
        return
    console.print(_table(rows, f"hub cycle — {state.name}"))
    if isinstance(result, dict):
        chase = result.get("chase", {})
        console.print(f"chase: {chase}")
        console.print(f"surveys: {result.get('surveys', {})}")
    if state.is_failed():
        console.print(f"[red]{state.message}[/]")
        raise typer.Exit(1)


def _rows_from_state(state) -> list[dict]:  # noqa: ANN001
    """Rows from a finished run; a failed run's message names the failed sources."""
    if state.is_failed():
        return [{"source": "-", "error": state.message or "failed"}]
    value = state.result(raise_on_failure=False)
    return value if isinstance(value, list) else []


def demo() -> None:
    """Run the demo (same as `make demo`): sandbox + two hub cycles + summary."""
    from cli.demo import main

    raise typer.Exit(main())
