"""PULL: walk a source page by page and land each page with its cursor.

The one implementation behind `hub pull`, the sync recipe (`hub.pipeline.sync`),
backfill and the benchmarks. It knows connectors and the store, not Prefect. Each
page is landed in its own transaction together with the cursor after it, so a crash
loses nothing and a rerun resumes after the last landed page; landing the same
payload version twice is a no-op, so running twice in a row lands nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError

from connectors.base import Connector, CursorModel, PushLedger
from connectors.config import SourceConfig, SourcesConfig
from connectors.portal.runtime import PortalRuntime
from connectors.registry import is_portal, make_connector
from core.errors import HubError, PortalChangedError
from core.logs import get_logger
from core.schema import Source
from hub.pipeline.ingest import ingest_in
from hub.pipeline.normalise import NormaliseStats
from hub.store import Store
from hub.store.faults import store_fault
from hub.store.landing import LandResult, get_cursor, land_in, set_cursor
from hub.store.sync_lease import hold_sync_async

log = get_logger(__name__)

#: "use the committed cursor" (None is a cursor too: from the beginning)
COMMITTED: Any = object()


@dataclass
class PageEntry:
    """One landed page, for progress output."""

    page: int
    records: int
    new: int
    cursor: dict[str, Any]


@dataclass
class PullReport:
    """What one pull of one source did (printed by the CLI, tabled by the flows)."""

    source: str
    pages: int = 0
    records: int = 0
    new: int = 0
    cursor: dict[str, Any] | None = None
    seconds: float = 0.0
    page_log: list[PageEntry] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None  # class name of the HubError, for operators
    screenshot: str | None = None  # portal failures: where the evidence is
    trace: str | None = None
    extra: dict[str, float] = field(default_factory=dict)  # connector page stats, summed
    #: with `normalise=True`: NORMALISE's counts and the created/updated ticket ids
    normalised: NormaliseStats = field(default_factory=NormaliseStats)

    @property
    def rate(self) -> float:
        """Records per second over the whole pull (landing included)."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


class PullFailed(HubError):
    """A pull stopped on a hub error; the pages landed before it stay landed (and normalised).

    `cause` is the error that stopped it, `report` what the pull did until then.
    """

    def __init__(self, cause: HubError, report: PullReport):
        super().__init__(str(cause), source=cause.source, status_code=cause.status_code)
        self.cause = cause
        self.report = report

    def __str__(self) -> str:
        return self.message


async def pull_source(store: Store, source: str, *, config: SourceConfig | SourcesConfig | None = None,
                      connector: Connector | None = None, cursor: CursorModel | dict[str, Any] | None = COMMITTED,
                      move_cursor: bool = True, max_pages: int | None = None,
                      portal_runtime: PortalRuntime | None = None, ledger: PushLedger | None = None,
                      normalise: bool = False,
                      on_page: Callable[[PullReport, PageEntry], None] | None = None) -> PullReport:
    """Pull `source` from its committed cursor (or `cursor`), landing page by page.

    `connector`: an open connector to use (else one is built from `config`; for the
    portals a `PortalRuntime` is started unless `portal_runtime` is given).
    `move_cursor=False` (backfill): land the records, leave the committed cursor alone.
    `max_pages`: stop after that many pages (the cursor stays resumable).
    `normalise=True` (the sync recipe): each page is landed *and* normalised in its
    transaction (`hub.pipeline.ingest.ingest_in`), its ticket ids on `report.normalised`.
    `on_page(report, entry)`: called after each landed page (the CLI prints).
    A HubError stops the pull as `PullFailed` (its report attached) after the error is put on
    the source's `sync_state.last_error`; pages landed before it stay landed. The source's store
    lease (`hub.store.sync_lease`) is held throughout: another pull of it waits its turn.
    """
    key = Source(source)
    # one sync of a source at a time, whoever runs it (Prefect's limit or not: hub.store.sync_lease)
    async with hold_sync_async(store, [key]):
        return await _pull(store, key, config=config, connector=connector, cursor=cursor, move_cursor=move_cursor,
                           max_pages=max_pages, portal_runtime=portal_runtime, ledger=ledger, normalise=normalise,
                           on_page=on_page)


async def _pull(store: Store, key: Source, *, config: SourceConfig | SourcesConfig | None,
                connector: Connector | None, cursor: CursorModel | dict[str, Any] | None, move_cursor: bool,
                max_pages: int | None, portal_runtime: PortalRuntime | None, ledger: PushLedger | None,
                normalise: bool, on_page: Callable[[PullReport, PageEntry], None] | None) -> PullReport:
    """`pull_source`'s body, under the source's store lease."""
    if cursor is COMMITTED:
        try:
            with store.begin() as conn:
                cursor = get_cursor(conn, key)
        except OperationalError as exc:  # a fresh database without tables, a full disk, the database down
            raise store_fault(exc, f"reading the cursor of {key}") from None
    report = PullReport(source=key, cursor=cursor.to_json() if isinstance(cursor, CursorModel) else cursor)
    started = time.perf_counter()
    own_runtime: PortalRuntime | None = None
    if connector is None and portal_runtime is None and is_portal(key, config):
        own_runtime = await PortalRuntime().start()
        portal_runtime = own_runtime
    stats = report.normalised
    conn_obj = connector or make_connector(key, config=config, portal_runtime=portal_runtime, ledger=ledger)
    try:
        async for page in conn_obj.pull(cursor):
            page_cursor = page.cursor.to_json()
            with store.begin() as conn:
                target = page_cursor if move_cursor else get_cursor(conn, key)
                result: LandResult = (ingest_in(conn, key, page.records, target, stats=stats) if normalise
                                      else land_in(conn, key, page.records, target))
            report.pages += 1
            report.records += result.seen
            report.new += result.new
            report.cursor = page_cursor
            for k, v in page.stats.items():
                report.extra[k] = report.extra.get(k, 0) + v
            entry = PageEntry(page=report.pages, records=result.seen, new=result.new, cursor=page_cursor)
            report.page_log.append(entry)
            if on_page is not None:
                on_page(report, entry)
            if max_pages is not None and report.pages >= max_pages:
                break
    except HubError as exc:
        report.error, report.error_kind = str(exc), type(exc).__name__
        if isinstance(exc, PortalChangedError):
            report.screenshot = str(exc.screenshot) if exc.screenshot else None
            report.trace = str(exc.trace) if exc.trace else None
        with store.begin() as conn:  # keep the committed cursor, remember why the run stopped
            set_cursor(conn, key, get_cursor(conn, key), error=str(exc)[:2000])
        raise PullFailed(exc, report) from exc
    finally:
        if connector is None:
            await conn_obj.aclose()
        if own_runtime is not None:
            await own_runtime.aclose()
        report.seconds = time.perf_counter() - started
        if normalise:
            stats.report_unknown()
        log.info("pulled %s: pages=%d records=%d new=%d in %.2fs", key, report.pages, report.records,
                 report.new, report.seconds)
    return report
