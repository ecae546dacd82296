"""`hub pull SOURCE`: pull one source from its committed cursor and land the raw records.

Each page is landed with its cursor in one transaction, so a stop at any point
resumes after the last landed page, and running the command twice in a row
lands nothing new the second time (identical payload versions are ignored).
`pull_source()` is the same operation for flows, scripts and benchmarks.
Registered in `hub/cli/__init__.py` as a single command: `app.command("pull")(pull)`.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import typer
from sqlalchemy.exc import OperationalError

from hub.cli.common import console, emit_json, operator_errors
from hub.errors import ConfigError, HubError
from hub.schema import Source
from hub.store import Store, get_store
from hub.store.landing import get_cursor, land, set_cursor


@dataclass
class PullReport:
    source: str
    pages: int = 0
    records: int = 0
    new: int = 0
    cursor: Any = None
    seconds: float = 0.0
    page_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Records per second over the whole pull (landing included)."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


async def pull_source(store: Store, source: Source | str, *, config: Any = None, connector: Any = None,
                      max_pages: int | None = None, portal_runtime: Any = None,
                      on_page: Any = None) -> PullReport:
    """Pull `source` from its committed cursor, landing page by page; return the counts.

    `connector`: an open connector to use (else one is built from `config`; for the
    portals a `PortalRuntime` is started unless `portal_runtime` is given).
    `max_pages`: stop after that many pages (the cursor stays resumable).
    `on_page(report, page_entry)`: called after each landed page (the CLI prints).
    """
    from connectors.registry import PORTALS, make_connector  # noqa: PLC0415 - keep CLI start-up light

    key = Source(source)
    try:
        with store.begin() as conn:
            cursor = get_cursor(conn, key)
    except OperationalError as exc:  # e.g. a fresh database without tables
        raise ConfigError(f"cannot read the cursor of {key.value}: {str(exc).splitlines()[0][:200]}",
                          hint="run `hub db upgrade` first") from None
    report = PullReport(source=key.value, cursor=cursor)
    started = time.perf_counter()
    runtime_cm = None
    if connector is None and key in PORTALS and portal_runtime is None:
        from connectors.portal.runtime import PortalRuntime  # noqa: PLC0415 - Playwright only for portals

        runtime_cm = PortalRuntime()
        portal_runtime = await runtime_cm.start()
    own = connector is None
    conn_obj = connector or make_connector(key, config=config, portal_runtime=portal_runtime)
    try:
        async for page in conn_obj.pull(cursor):
            result = land(store, key, page.records, page.cursor)
            report.pages += 1
            report.records += result.seen
            report.new += result.new
            report.cursor = page.cursor
            entry = {"page": report.pages, "records": result.seen, "new": result.new, "cursor": page.cursor}
            report.page_log.append(entry)
            if on_page is not None:
                on_page(report, entry)
            if max_pages is not None and report.pages >= max_pages:
                break
    except HubError as exc:
        with store.begin() as conn:  # keep the committed cursor, remember why the run stopped
            set_cursor(conn, key, get_cursor(conn, key), error=str(exc)[:2000])
        raise
    finally:
        if own:
            await conn_obj.aclose()
        if runtime_cm is not None:
            await runtime_cm.aclose()
        report.seconds = time.perf_counter() - started
    return report


@operator_errors
def pull(
    source: str = typer.Argument(..., help="gov12315, blackcat, app, sms or callcenter"),
    max_pages: int = typer.Option(None, "--max-pages", help="Stop after this many pages (resumable)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Pull SOURCE from its committed cursor and land the raw records (prints pages, records, new, cursor)."""
    try:
        key = Source(source)
    except ValueError:
        raise typer.BadParameter(f"unknown source {source!r}; one of {', '.join(s.value for s in Source)}") from None

    def show(report: PullReport, entry: dict[str, Any]) -> None:
        if not as_json:
            console.print(f"page {entry['page']}: {entry['records']} records, {entry['new']} new")

    report = asyncio.run(pull_source(get_store(), key, max_pages=max_pages, on_page=show))
    doc = {"source": report.source, "pages": report.pages, "records": report.records, "new": report.new,
           "cursor": report.cursor, "seconds": round(report.seconds, 3)}
    if as_json:
        emit_json(doc)
        return
    console.print(f"[bold]{report.source}[/]: pages={report.pages} records={report.records} new={report.new} "
                  f"({report.seconds:.2f}s)")
    console.print(f"cursor: {json.dumps(report.cursor, ensure_ascii=False)}", markup=False, highlight=False)


__all__ = ["PullReport", "pull", "pull_source"]
