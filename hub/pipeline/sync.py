"""The sync recipe: pull a source, normalise what is left, enrich and route — one function, one typed result.

`sync_once` is what the sync, backfill and cycle flows, `hub sync`, and the
benchmarks run for a source: pull from the committed cursor (each page landed and
normalised with its cursor, `hub.pipeline.pull`, then its tickets enriched and
routed at once, `PageRouter`), normalise whatever an earlier run left landed, then
enrich and route those, this run's tickets a failure kept from being routed page
by page, and those an earlier run normalised but never routed. A source that fails is reported
in its `SourceResult` (the pages it landed before failing are still routed); the
other sources carry on. `replay_once` re-maps quarantined records after a mapping
fix and routes the tickets it makes. Both hold the store lease of their sources
(`hub.store.sync_lease`): one sync of a source at a time, also where no Prefect limit applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import CursorModel
from connectors.portal.runtime import PortalRuntime
from connectors.registry import backfill_cursor, check_source, is_portal, source_keys
from core.errors import SourcesFailed, StoreUnavailable, SyncBusy, SyncDeadline
from core.logs import get_logger
from core.schema import to_utc, utcnow
from hub.outbox.ops_alert import raise_ops_alert
from hub.pipeline.enrich import EnrichStats, enrich_and_route
from hub.pipeline.normalise import NormaliseStats, normalise_pending, replay_quarantine
from hub.pipeline.pull import COMMITTED, PageEntry, PullFailed, PullReport, pull_source
from hub.pipeline.stranded import UnroutedReport, route_stranded, unrouted_report
from hub.recovery.config import get_recovery_config
from hub.store import Store
from hub.store.faults import is_store_fault, store_fault
from hub.store.ledger import StorePushLedger
from hub.store.sync_lease import hold_sync, hold_sync_async

log = get_logger(__name__)

#: what a sync shows per source (CLI table, flow artifact), in order
COLUMNS = ("source", "pulled", "new", "created", "updated", "quarantined", "routed", "unrouted", "failed",
           "error", "screenshot", "trace")


@dataclass
class SourceResult:
    """What one sync (or backfill) of one source did."""

    source: str
    pulled: int = 0
    new: int = 0
    pages: int = 0
    created: int = 0
    updated: int = 0
    quarantined: int = 0
    ignored: int = 0
    routed: int = 0
    #: complaints of this source still without a team past the alert bound after the run (config/recovery.yaml)
    unrouted: int = 0
    error: str | None = None
    error_kind: str | None = None
    screenshot: str | None = None
    trace: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the pull stopped on an error."""
        return self.error is not None

    def row(self) -> dict[str, str | int]:
        """The result as one table row (`COLUMNS`; 0 / "" where nothing applies)."""
        doc: dict[str, str | int] = {"source": self.source, "pulled": self.pulled, "new": self.new, "created": self.created,
               "updated": self.updated, "quarantined": self.quarantined, "routed": self.routed,
               "unrouted": self.unrouted, "failed": int(self.failed), "error": self.error or "",
               "screenshot": self.screenshot or "", "trace": self.trace or ""}
        return {c: doc[c] for c in COLUMNS}


@dataclass
class ReplayResult:
    """What a quarantine replay did: the normalise counts and how many new tickets were routed."""

    normalised: NormaliseStats
    routed: int = 0

    def summary(self) -> dict[str, int]:
        """The counts, for logs and the CLI."""
        n = self.normalised
        return {"seen": n.seen, "created": n.created, "updated": n.updated, "unchanged": n.unchanged,
                "quarantined": n.quarantined, "ignored": n.ignored, "routed": self.routed}


#: tickets routed between two returns to the event loop when routing after the pull (what
#: earlier runs left, a pull cut at its deadline): `sync_sources` runs the sources in one
#: loop, and a backlog routed in one go (minutes at 100k) froze the other sources' requests
#: in flight until their connections were dropped and their retry budgets spent
ROUTE_SLICE = 500


async def _route_in_slices(store: Store, ticket_ids: list[str], now: datetime | None) -> int:
    """`enrich_and_route` over these tickets, `ROUTE_SLICE` at a time, yielding to the event loop between."""
    routed = 0
    for i in range(0, len(ticket_ids), ROUTE_SLICE):
        routed += enrich_and_route(store, ticket_ids[i:i + ROUTE_SLICE], now=now).routed
        await asyncio.sleep(0)  # the other sources' pulls run here
    return routed


class PageRouter:
    """The pull's `on_page`: routes each page's tickets as soon as the page is landed and normalised.

    A handler sees the first complaints of a large backlog at once, not after the whole
    pull; and the routing is one page's work between two requests of the source, so the
    sources pulling beside it in one event loop take turns page by page. A routing
    failure (the store gone, a routing table that does not check) stops routing here:
    the tickets left are routed after the pull (`rest`), which reports the failure as
    before. A page is the batch: gathering pages into batches of 500 was measured slower
    on PostgreSQL (100k pipeline 215 vs 268 records/s, loop stalls growing to 5 s).
    """

    def __init__(self, store: Store, now: datetime | None):
        self.store, self.now = store, now
        self.routed = 0
        self.fault: Exception | None = None
        self._created = self._updated = 0  # how far into the report's id lists routing has gone

    def __call__(self, report: PullReport, _entry: PageEntry) -> None:
        """Route the tickets this page created or changed."""
        if self.fault is not None:
            return
        done = report.normalised
        fresh = list(dict.fromkeys(self.rest(done)))
        try:
            if fresh:
                self.routed += enrich_and_route(self.store, fresh, now=self.now).routed
        except Exception as exc:  # noqa: BLE001 - routed (and reported) after the pull instead
            self.fault = exc
            log.warning("%s: routing page by page stopped (%s: %s); the rest is routed after the pull",
                        report.source, type(exc).__name__, exc)
            return
        self._created, self._updated = len(done.created_ids), len(done.updated_ids)

    def rest(self, done: NormaliseStats) -> list[str]:
        """This run's created or changed ticket ids that were not routed page by page."""
        return [*done.created_ids[self._created:], *done.updated_ids[self._updated:]]


async def _route(store: Store, source: str, ids: list[str], now: datetime | None,
                 sweep: bool) -> tuple[NormaliseStats, int]:
    """Normalise what earlier runs left landed, route those and `ids` (this run's not routed yet), then every stranded one.

    `sweep`: stranded complaints of every source (else of this one; `sync_sources` sweeps
    all once after its sources finished). Returns the leftovers' counts and how many of
    this source's tickets were routed.
    """
    leftovers = normalise_pending(store, source=source)
    routed = await _route_in_slices(store, list(dict.fromkeys([*ids, *leftovers.changed_ids])), now)
    swept = route_stranded(store, source=None if sweep else source, now=now)
    return leftovers, routed + swept.per_source.get(source, 0)


def _mark_unrouted(store: Store, results: Sequence[SourceResult], now: datetime | None) -> UnroutedReport:
    """Put what stays unrouted past the bound on each result (the artifact's `unrouted` column)."""
    rep = unrouted_report(store, now=now)
    for r in results:
        r.unrouted = rep.per_source.get(r.source, 0)
    if rep.count:  # one alert per hour while it lasts (the key is the hour), not one per run
        hour = to_utc(now or utcnow()).strftime("%Y%m%d%H")
        raise_ops_alert(f"ops:unrouted:{hour}", rep.payload(), store=store)
    return rep


async def sync_once(store: Store, source: str, *, portal_runtime: PortalRuntime | None = None,
                    now: datetime | None = None, cursor: CursorModel | dict[str, Any] | None = COMMITTED,
                    move_cursor: bool = True, sweep: bool = True) -> SourceResult:
    """Pull → normalise → enrich/route one source; a failing pull is reported in the result, not raised.

    `cursor` / `move_cursor=False`: a backfill (see `backfill_once`). `now`: the hub's
    "as of" time for clocks (default the real clock). `sweep`: also route the stranded
    complaints of every other source (what a dead run left; see `hub.pipeline.stranded`).
    """
    check_source(source)
    result = SourceResult(source=source)
    try:  # one sync of a source at a time, whoever runs it (hub.store.sync_lease); held for the routing too
        async with hold_sync_async(store, [source]):
            return await _sync_held(store, source, result, portal_runtime=portal_runtime, now=now, cursor=cursor,
                                    move_cursor=move_cursor, sweep=sweep)
    except SyncBusy as exc:
        _failed(result, exc)
        return result
    except Exception as exc:
        if not is_store_fault(exc) and not isinstance(exc, StoreUnavailable):
            raise
        _failed(result, store_fault(exc, f"syncing {source}"))
        return result


async def _sync_held(store: Store, source: str, result: SourceResult, *, portal_runtime: PortalRuntime | None,
                     now: datetime | None, cursor: CursorModel | dict[str, Any] | None, move_cursor: bool,
                     sweep: bool) -> SourceResult:
    """`sync_once`'s body, under the source's store lease."""
    limit = get_recovery_config().deadlines.sync.total_seconds()
    so_far: dict[str, PullReport] = {}  # the pull's report as of its last landed page (kept if the deadline cuts it)

    router = PageRouter(store, now)

    def keep(r: PullReport, entry: PageEntry) -> None:
        so_far["report"] = r
        router(r, entry)

    try:
        report = await asyncio.wait_for(pull_source(store, source, cursor=cursor, move_cursor=move_cursor,
                                                    portal_runtime=portal_runtime, ledger=StorePushLedger(store, source),
                                                    normalise=True, on_page=keep), limit)
    except TimeoutError:  # the pages landed before it stay landed, are counted, and are routed below
        report = so_far.get("report") or PullReport(source=source)
        _failed(result, SyncDeadline(f"the pull of {source} passed its deadline of {limit:.0f} s "
                                     "(config/recovery.yaml deadlines.sync); the next run resumes from its cursor",
                                     source=source))
    except PullFailed as exc:  # its pages before the failure were landed and normalised: route them
        report = exc.report
        _failed(result, exc.cause)
    except Exception as exc:  # noqa: BLE001 - any fault of one source is reported; the others carry on
        report = PullReport(source=source)
        _failed(result, store_fault(exc, f"syncing {source}") if is_store_fault(exc) else exc)
    result.pulled, result.new, result.pages = report.records, report.new, report.pages
    try:
        leftovers, routed = await _route(store, source, router.rest(report.normalised), now, sweep)
    except Exception as exc:  # the store went away after the pull: counts so far are kept, the cause named
        if not is_store_fault(exc):
            raise
        fault = store_fault(exc, f"routing {source}")
        if result.error is None:
            _failed(result, fault)
        log.error("%s: %s", source, fault)
        leftovers, routed = NormaliseStats(), 0
    for part in (report.normalised, leftovers):
        result.created += part.created
        result.updated += part.updated
        result.quarantined += part.quarantined
        result.ignored += part.ignored
    result.routed = router.routed + routed
    if sweep:
        _mark_unrouted(store, [result], now)
    return result


def _failed(result: SourceResult, exc: BaseException) -> None:
    log.debug("%s failed", result.source, exc_info=exc)  # the one traceback of this failure, at DEBUG
    result.error, result.error_kind = f"{type(exc).__name__}: {exc}", type(exc).__name__
    result.screenshot = str(getattr(exc, "screenshot", None) or "") or None
    result.trace = str(getattr(exc, "trace", None) or "") or None


async def backfill_once(store: Store, source: str, since: datetime, *, now: datetime | None = None,
                        portal_runtime: PortalRuntime | None = None) -> SourceResult:
    """Re-pull `source` from `since` without moving its committed cursor (landing skips what is stored)."""
    check_source(source)
    return await sync_once(store, source, cursor=backfill_cursor(source, since), move_cursor=False, now=now,
                           portal_runtime=portal_runtime)


@asynccontextmanager
async def browser_for(sources: Sequence[str]) -> AsyncIterator[PortalRuntime | None]:
    """One browser for the run when a portal source is in it (None otherwise)."""
    if not any(is_portal(s) for s in sources):
        yield None
        return
    async with PortalRuntime() as rt:
        yield rt


async def sync_sources(store: Store, sources: Sequence[str] | None = None, *,
                       now: datetime | None = None) -> list[SourceResult]:
    """Every (or the given) source concurrently, one browser shared by the portals; never raises per source."""
    chosen = [check_source(s) for s in (sources or source_keys())]
    async with browser_for(chosen) as rt:
        results = await asyncio.gather(*(sync_once(store, s, portal_runtime=rt if is_portal(s) else None, now=now,
                                                   sweep=False) for s in chosen))
    finish_sweep(store, results, now=now)
    log.info("synced %s", ", ".join(f"{r.source}={r.new} new" for r in results))
    return list(results)


def finish_sweep(store: Store, results: Sequence[SourceResult], *, now: datetime | None = None) -> UnroutedReport:
    """After a multi-source run: route the stranded complaints of every source, then count what stays unrouted."""
    swept = route_stranded(store, now=now)
    for r in results:
        r.routed += swept.per_source.get(r.source, 0)
    return _mark_unrouted(store, results, now)


def raise_for_failures(results: Sequence[SourceResult]) -> None:
    """SourcesFailed naming every failed source and why (after all of them ran)."""
    failed = [r for r in results if r.failed]
    if failed:
        detail = "; ".join(f"{r.source}: {r.error}" for r in failed)
        raise SourcesFailed(f"{len(failed)} of {len(results)} source(s) failed: {detail}",
                            failed=[r.source for r in failed], total=len(results), rows=[r.row() for r in results])


def replay_once(store: Store, *, source: str | None = None, ids: Sequence[int] | None = None,
                now: datetime | None = None) -> ReplayResult:
    """Re-map open quarantined records (all, one source's, or the given ids) and route the new tickets."""
    if source is not None:
        check_source(source)
    # the replay writes tickets of every source it re-maps: no sync of those may run beside it
    with hold_sync(store, [source] if source else source_keys(enabled_only=False)):
        stats = replay_quarantine(store, ids=list(ids) if ids else None, source=source)
        routed = enrich_and_route(store, stats.changed_ids, now=now) if stats.changed_ids else EnrichStats()
        swept = route_stranded(store, now=now)
    return ReplayResult(normalised=stats, routed=routed.routed + swept.routed)


__all__ = ["COLUMNS", "ReplayResult", "SourceResult", "backfill_once", "browser_for",
           "PageRouter", "finish_sweep", "raise_for_failures", "replay_once", "sync_once", "sync_sources"]
