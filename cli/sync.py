"""`hub sync` and `hub cycle`: run the flows once, locally, and print the run summary.

These start Prefect's local (ephemeral) API unless PREFECT_API_URL points at a
server; the runs then show up in that server's UI like scheduled ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from cli.common import SOURCE_HELP, console, emit_json, operator_errors, source_argument
from hub.pipeline.sync import COLUMNS, SourceResult

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

SHOWN = tuple(c for c in COLUMNS if c not in ("failed", "screenshot", "trace"))


def _table(rows: Sequence[dict[str, str | int]], title: str) -> Table:
    table = Table(title=title)
    for col in SHOWN:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in SHOWN))
    return table


@operator_errors
def sync(
    source: str = typer.Argument(None, help=SOURCE_HELP, callback=source_argument),
    all_sources: bool = typer.Option(False, "--all", help="All configured sources in parallel."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Pull, land, normalise and route one source (or all) once; print what happened."""
    from flows.sync import sync_all, sync_source

    if not all_sources and not source:
        raise typer.BadParameter("give a SOURCE or --all")
    async def run() -> State[list[SourceResult]]:
        """Run the chosen sync flow and return its final Prefect state (a failure included)."""
        return await (sync_all(return_state=True) if all_sources else sync_source(source, return_state=True))

    state = asyncio.run(run())
    rows = _rows(state)
    if as_json:
        emit_json({"state": state.type.value, "sources": rows})
    else:
        console.print(_table(rows, f"sync — {state.name}"))
    if state.is_failed():
        raise typer.Exit(1)


@operator_errors
def cycle(as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout.")) -> None:
    """One full hub cycle: sync all → route → push → chase → push; print the summary."""
    from flows.cycle import CycleResult, hub_cycle

    async def run() -> State[CycleResult]:
        """Run one hub cycle flow and return its final Prefect state (a failure included)."""
        return await hub_cycle(return_state=True)

    state = asyncio.run(run())
    result = None if state.is_failed() else state.result(raise_on_failure=False)
    if as_json:
        doc = asdict(result) if isinstance(result, CycleResult) else {}
        emit_json({"state": state.type.value, **doc})
        return
    if isinstance(result, CycleResult):
        console.print(_table([r.row() for r in result.sources], f"hub cycle — {state.name}"))
        console.print(f"chase: {asdict(result.chase)}")
        console.print(f"surveys: {asdict(result.surveys)}")
    if state.is_failed():
        console.print(f"[red]{state.message}[/]")
        raise typer.Exit(1)


def _rows(state: State[list[SourceResult]]) -> list[dict[str, str | int]]:
    """Rows of a finished run; a failed run's message names the failed sources."""
    if state.is_failed():
        return [{"source": "-", "error": state.message or "failed"}]
    value = state.result(raise_on_failure=False)
    return [r.row() for r in value if isinstance(r, SourceResult)] if isinstance(value, list) else []


def demo() -> None:
    """Run the demo (same as `make demo`): sandbox + two hub cycles + summary."""
    from cli.demo import main

    raise typer.Exit(main())
