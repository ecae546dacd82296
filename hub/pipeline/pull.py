"""SYNC: pull a source page by page and land each page with its cursor.

The one implementation behind `hub pull`, the sync flows, backfill and the
benchmarks. It knows connectors and the store, not Prefect. Each page is landed
in its own transaction together with the cursor after it, so a crash loses
nothing and a rerun resumes after the last landed page; landing the same
payload version twice is a no-op, so running twice in a row lands nothing new.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError

from core.errors import ConfigError, HubError, PortalChangedError
from core.logs import get_logger
from core.schema import Source
from hub.pipeline.ingest import ingest_in
from hub.pipeline.normalise import NormaliseStats
from hub.store import Store
from hub.store.landing import get_cursor, land_in, set_cursor

log = get_logger(__name__)


@dataclass
class PullReport:
    """What one pull of one source did (printed by the CLI, tabled by the flows)."""

    source: str
    pages: int = 0
    records: int = 0
    new: int = 0
    cursor: Any = None
    seconds: float = 0.0
    page_log: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None  # class name of the HubError, for operators
    screenshot: str | None = None  # portal failures: where the evidence is
    trace: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # connector page stats, summed
    #: with `normalise=True`: NORMALISE's counts and created/updated ticket ids (`NormaliseStats.as_dict`)
    normalised: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Records per second over the whole pull (landing included)."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["pulled"] = self.records
        doc.pop("page_log")
        return doc


async def pull_source(store: Store, source: Source | str, *, config: Any = None, connector: Any = None,
                      cursor: Any = ..., move_cursor: bool = True, max_pages: int | None = None,
                      portal_runtime: Any = None, ledger: Any = None, normalise: bool = False,
                      on_page: Callable[[PullReport, dict[str, Any]], None] | None = None) -> PullReport:
    """Pull `source` from its committed cursor (or `cursor`), landing page by page.

    `connector`: an open connector to use (else one is built from `config`; for the
    portals a `PortalRuntime` is started unless `portal_runtime` is given).
    `move_cursor=False` (backfill): land the records, leave the committed cursor alone.
    `max_pages`: stop after that many pages (the cursor stays resumable).
    `normalise=True` (the sync flows): each page is landed *and* normalised in its
    transaction (`hub.pipeline.ingest.ingest_in`), its ticket ids on `report.normalised`.
    `on_page(report, entry)`: called after each landed page (the CLI prints).
    A HubError is re-raised after its details are put on the report and the
    source's `sync_state.last_error`; pages landed before it stay landed.
    """
    from connectors.registry import PORTALS, make_connector  # noqa: PLC0415 - keep CLI start-up light

    key = Source(source)
    if cursor is ...:
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
    stats = NormaliseStats()
    land = functools.partial(ingest_in, stats=stats) if normalise else land_in
    own = connector is None
    conn_obj = connector or make_connector(key, config=config, portal_runtime=portal_runtime, ledger=ledger)
    try:
        async for page in conn_obj.pull(cursor):
            with store.begin() as conn:
                target = page.cursor if move_cursor else get_cursor(conn, key)
                result = land(conn, key, page.records, target)
            report.pages += 1
            report.records += result.seen
            report.new += result.new
            report.cursor = page.cursor
            for k, v in page.stats.items():
                if isinstance(v, int | float):
                    report.extra[k] = report.extra.get(k, 0) + v
            entry = {"page": report.pages, "records": result.seen, "new": result.new, "cursor": page.cursor}
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
        exc.pull_report = report  # type: ignore[attr-defined] # pages before the failure were normalised
        raise
    finally:
        if own:
            await conn_obj.aclose()
        if runtime_cm is not None:
            await runtime_cm.aclose()
        report.seconds = time.perf_counter() - started
        if normalise:
            report.normalised = stats.as_dict()
            stats.report_unknown()
        log.info("pulled %s: pages=%d records=%d new=%d in %.2fs", key.value, report.pages, report.records,
                 report.new, report.seconds)
    return report
