"""Prefect tasks: one per source sync or per batch step, never one per complaint.

Each task wraps one domain function (`hub.pipeline.sync`, `hub.outbox.worker`,
`hub.chase.reminders`, `hub.handling.replies`) and returns its typed result. They
take plain parameters (source keys, lists of ids, times) so runs read well in the
UI. `NO_CACHE`: every run must really talk to the sources and the store.
"""

from __future__ import annotations

import time
from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from connectors.portal.runtime import PortalRuntime
from connectors.registry import source_keys
from flows.concurrency import one_sync_at_a_time, one_sync_at_a_time_sync
from hub.chase.reminders import ChaseStats, chase
from hub.handling.replies import SurveyStats, expire_surveys, process_replies, surveys_deadline
from hub.outbox.worker import DrainStats, drain_outbox
from hub.pipeline.stranded import StrandedStats, route_stranded
from hub.pipeline.sync import ReplayResult, SourceResult, backfill_once, finish_sweep, replay_once, sync_once
from hub.store import get_store


@task(name="sync-source", cache_policy=NO_CACHE, retries=0)
async def sync_source_task(source: str, portal_runtime: PortalRuntime | None = None,
                           now: datetime | None = None, sweep: bool = True) -> SourceResult:
    """Pull one source from its cursor, land and normalise every page, then enrich and route (batched).

    Holds the source's `hub-sync-<source>` slot (flows.concurrency): one sync of a source at a time.
    `sweep=False`: route only this source's stranded complaints (the caller sweeps all once, `sweep_task`).
    """
    async with one_sync_at_a_time(source):
        t0 = time.monotonic()
        result = await sync_once(get_store(), source, portal_runtime=portal_runtime, now=now, sweep=sweep)
    _log_source(result, time.monotonic() - t0)
    return result


@task(name="route-stranded", cache_policy=NO_CACHE)
def sweep_task(results: list[SourceResult], now: datetime | None = None) -> list[SourceResult]:
    """Route every source's stranded complaints; count what stays unrouted past the bound (on the results)."""
    rep = finish_sweep(get_store(), results, now=now)
    if rep.count:
        get_run_logger().error("%d complaint(s) without a team past %.0f min: %s", rep.count,
                               rep.bound_seconds / 60, rep.per_source)
    return results


@task(name="route-stranded-any", cache_policy=NO_CACHE)
def route_stranded_task(now: datetime | None = None) -> StrandedStats:
    """Route the complaints a dead run left without a team (any source), so push and chase runs finish them too.

    A push or chase run may be the first to start after a sync died between
    normalising and routing; waiting for the next sync of that source would leave
    those tickets with no team, no dispatch and no clock in the meantime.
    """
    stats = route_stranded(get_store(), now=now)
    if stats.routed or stats.left:
        (get_run_logger().warning if stats.left else get_run_logger().info)(
            "stranded complaints: %d routed (%s), %d still without a team", stats.routed,
            ", ".join(f"{k}={v}" for k, v in sorted(stats.per_source.items())) or "-", stats.left)
    return stats


@task(name="backfill-source", cache_policy=NO_CACHE, retries=0)
async def backfill_task(source: str, since: datetime, portal_runtime: PortalRuntime | None = None) -> SourceResult:
    """Re-pull one source from `since` without moving its committed cursor; normalise and route."""
    async with one_sync_at_a_time(source):
        t0 = time.monotonic()
        result = await backfill_once(get_store(), source, since, portal_runtime=portal_runtime)
    _log_source(result, time.monotonic() - t0)
    return result


@task(name="replay-quarantine", cache_policy=NO_CACHE)
def replay_task(source: str | None = None, ids: list[int] | None = None) -> ReplayResult:
    """Re-map quarantined records with the current mappings and route the new tickets."""
    with one_sync_at_a_time_sync(*([source] if source else source_keys(enabled_only=False))):
        result = replay_once(get_store(), source=source, ids=ids)
    get_run_logger().info("replayed: %s", result.summary())
    return result


@task(name="drain-outbox", cache_policy=NO_CACHE)
async def drain_task(worker_id: str, kinds: list[str] | None = None, limit: int = 500,
                     now: datetime | None = None) -> DrainStats:
    """Send due outbox rows (dispatch, reminders, push-backs, SMS)."""
    t0 = time.monotonic()
    s = await drain_outbox(get_store(), worker_id, limit=limit, kinds=kinds, now=now)
    log = get_run_logger()
    (log.error if s.dead or s.undeliverable else log.warning if s.undelivered else log.info)(
        "outbox: %d claimed, %d sent, %d failed, %d dead, %d undeliverable (%s); SMS delivery reports: "
        "%d delivered, %d undelivered (%d resent) in %.1f s", s.claimed, s.sent, s.failed, s.dead, s.undeliverable,
        ", ".join(f"{k}={v}" for k, v in sorted(s.by_kind.items())) or "-", s.delivered, s.undelivered, s.resent,
        time.monotonic() - t0)
    return s


@task(name="chase", cache_policy=NO_CACHE)
def chase_task(now: datetime | None = None) -> ChaseStats:
    """Warnings, breaches and escalations for clocks that need attention now."""
    return chase(get_store(), now=now)


@task(name="surveys", cache_policy=NO_CACHE)
def surveys_task(now: datetime | None = None) -> SurveyStats:
    """Process survey replies and unsubscribes; close surveys nobody answered."""
    ends = surveys_deadline()  # one deadline for the whole pass (config/recovery.yaml deadlines.surveys)
    stats = process_replies(get_store(), now=now, deadline=ends)
    stats.expired += expire_surveys(get_store(), now=now, deadline=ends, stats=stats)
    return stats


def _log_source(r: SourceResult, seconds: float) -> None:
    """One line an operator can read: source, pages, records, new, quarantined, routed, time."""
    log = get_run_logger()
    line = (f"{r.source}: {r.pages} page(s), {r.pulled} record(s), {r.new} new, {r.created} created, "
            f"{r.updated} updated, {r.quarantined} quarantined, {r.routed} routed in {seconds:.1f} s")
    if r.failed:
        log.error("%s — FAILED: %s", line, r.error)
    else:
        log.info("%s", line)
