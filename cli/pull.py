"""`hub pull SOURCE`: pull one source from its committed cursor and land the raw records.

Each page is landed with its cursor in one transaction, so a stop at any point
resumes after the last landed page, and running the command twice in a row
lands nothing new the second time (identical payload versions are ignored).
The work is `hub.pipeline.pull.pull_source()`, the same operation the flows, scripts and
benchmarks use (re-exported here for them).
Registered in `cli/__init__.py` as a single command: `app.command("pull")(pull)`.
"""

from __future__ import annotations

import asyncio
import json

import typer

from cli.common import SOURCE_HELP, console, emit_json, operator_errors, source_argument
from hub.pipeline.pull import PageEntry, PullReport, pull_source
from hub.store import get_store


@operator_errors
def pull(
    source: str = typer.Argument(..., help=SOURCE_HELP, callback=source_argument),
    max_pages: int = typer.Option(None, "--max-pages", help="Stop after this many pages (resumable)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Pull SOURCE from its committed cursor and land the raw records (prints pages, records, new, cursor)."""

    def show(report: PullReport, entry: PageEntry) -> None:
        if not as_json:
            console.print(f"page {entry.page}: {entry.records} records, {entry.new} new")

    report = asyncio.run(pull_source(get_store(), source, max_pages=max_pages, on_page=show))
    doc = {"source": report.source, "pages": report.pages, "records": report.records, "new": report.new,
           "cursor": report.cursor, "seconds": round(report.seconds, 3)}
    if as_json:
        emit_json(doc)
        return
    console.print(f"[bold]{report.source}[/]: pages={report.pages} records={report.records} new={report.new} "
                  f"({report.seconds:.2f}s)")
    console.print(f"cursor: {json.dumps(report.cursor, ensure_ascii=False)}", markup=False, highlight=False)


__all__ = ["PullReport", "pull", "pull_source"]
