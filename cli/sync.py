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
from rich.markup import escape
from rich.table import Table

from cli.common import SOURCE_HELP, console, emit_json, operator_errors, source_argument
from cli.prefect_server import temporary_prefect_server
from core.errors import SourcesFailed
from hub.pipeline.sync import COLUMNS, SourceResult

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

#: the table's columns; errors are printed in full below it, one per line, never cut in a cell
SHOWN = tuple(c for c in COLUMNS if c not in ("failed", "error", "screenshot", "trace"))
#: exit codes: 0 all well, 1 the run failed (every source), 2 operator error, 3 partly failed (some sources)
EXIT_FAILED, EXIT_PARTLY = 1, 3


def _table(rows: Sequence[dict[str, str | int]], title: str) -> Table:
    table = Table(title=title)
    for col in SHOWN:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in SHOWN))
    return table


def _print_errors(rows: Sequence[dict[str, str | int]]) -> None:
    """Each failed source's whole error on lines of its own (evidence paths too)."""
    for row in rows:
        if row.get("error"):
            console.print(f"[bold red]error[/] {escape(str(row['source']))}: {escape(str(row['error']))}",
                          soft_wrap=True)
            for what in ("screenshot", "trace"):
                if row.get(what):
                    console.print(f"  {what}: {escape(str(row[what]))}", soft_wrap=True)


def _exit_code(rows: Sequence[dict[str, str | int]], failed_run: bool) -> int:
    """0, EXIT_PARTLY when some sources failed, EXIT_FAILED when all did (or the run failed without rows)."""
    bad = sum(1 for r in rows if r.get("error"))
    if not bad and not failed_run:
        return 0
    return EXIT_PARTLY if 0 < bad < len(rows) else EXIT_FAILED


@operator_errors
def sync(
    source: str = typer.Argument(None, help=SOURCE_HELP, callback=source_argument),
    all_sources: bool = typer.Option(False, "--all", help="All configured sources in parallel."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Pull, land, normalise and route one source (or all) once; print what happened.

    Exit code 0: every source synced; 3: some sources failed (the others synced); 1: the run failed.
    """
    from flows.sync import sync_all, sync_source

    if not all_sources and not source:
        raise typer.BadParameter("give a SOURCE or --all")
    async def run() -> State[list[SourceResult]]:
        """Run the chosen sync flow and return its final Prefect state (a failure included)."""
        return await (sync_all(return_state=True) if all_sources else sync_source(source, return_state=True))

    with temporary_prefect_server():
        state = asyncio.run(run())
    rows = _rows(state)
    code = _exit_code(rows, state.is_failed())
    if as_json:
        emit_json({"state": state.type.value, "exit_code": code, "sources": rows})
    else:
        console.print(_table(rows, f"sync — {state.name}"))
        _print_errors(rows)
    if code:
        raise typer.Exit(code)


@operator_errors
def cycle(as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout.")) -> None:
    """One full hub cycle: sync all → route → push → chase → push; print the summary.

    Exit code 0: all well; 3: some sources failed (the rest of the cycle ran; ops was told); 1: the cycle failed.
    """
    from flows.cycle import CycleResult, hub_cycle

    async def run() -> State[CycleResult]:
        """Run one hub cycle flow and return its final Prefect state (a failure included)."""
        return await hub_cycle(return_state=True)

    with temporary_prefect_server():
        state = asyncio.run(run())
    result = None if state.is_failed() else state.result(raise_on_failure=False)
    rows = [r.row() for r in result.sources] if isinstance(result, CycleResult) else []
    code = _exit_code(rows, state.is_failed() or not isinstance(result, CycleResult))
    if as_json:
        doc = asdict(result) if isinstance(result, CycleResult) else {}
        emit_json({"state": state.type.value, "exit_code": code, **doc})
    else:
        if isinstance(result, CycleResult):
            console.print(_table(rows, f"hub cycle — {state.name}"))
            _print_errors(rows)
            pushed = sum(p.sent for p in result.push)
            deferred = sum(p.deferred for p in result.push)
            console.print(f"pushed {pushed}" + (f", deferred {deferred} (down: {', '.join(result.push[-1].down)})"
                                                 if deferred else ""))
            _print_backlog(result.backlog)
            console.print(f"chase: {asdict(result.chase)}")
            console.print(f"surveys: {asdict(result.surveys)}")
            if result.alert:
                console.print(f"ops alert: {result.alert}")
        if state.is_failed():
            console.print(f"[red]{escape(state.message or 'failed')}[/]", soft_wrap=True)
    if code:
        raise typer.Exit(code)


def _print_backlog(backlog: Sequence[dict[str, object]]) -> None:
    """What the outbox still holds per kind, highest priority first, with its oldest row's age."""
    if not backlog:
        console.print("outbox: nothing waiting")
        return
    console.print("outbox waiting: " + ", ".join(f"{b['kind']} {b['waiting']} (oldest {b['oldest_minutes']} min)"
                                                  for b in backlog))


def _rows(state: State[list[SourceResult]]) -> list[dict[str, str | int]]:
    """Rows of a finished run; a run failed by its sources keeps every source's counts."""
    value = state.result(raise_on_failure=False)
    if state.is_failed():
        if isinstance(value, SourcesFailed) and value.rows:
            return value.rows
        return [{"source": "-", "error": state.message or "failed"}]
    return [r.row() for r in value if isinstance(r, SourceResult)] if isinstance(value, list) else []


def demo() -> None:
    """Run the demo (same as `make demo`): sandbox + two hub cycles + summary."""
    from cli.demo import main

    raise typer.Exit(main())
