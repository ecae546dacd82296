"""Sync flows: one source, all sources in parallel, and backfill of a time window.

Each flow composes `flows.tasks` (one task per source, running `hub.pipeline.sync`)
and publishes the per-source table artifact; a run in which a source failed ends
Failed after the other sources finished, its artifact saying which and why.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import flow, get_run_logger

from connectors.registry import check_source, is_portal, source_keys
from flows.artifacts import sync_table
from flows.hooks import notify_ops_on_failure
from flows.params import LocalTime, SourceKey, check_since
from flows.tasks import backfill_task, sweep_task, sync_source_task
from hub.pipeline.sync import SourceResult, browser_for, raise_for_failures


async def _finish(results: list[SourceResult], key: str) -> list[SourceResult]:
    await sync_table(results, key=key, description="pulled/new/updated/quarantined/routed per source")
    raise_for_failures(results)
    return results


@flow(name="sync-source", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
async def sync_source(source: SourceKey) -> list[SourceResult]:
    """Pull one source from its cursor, land, normalise and route what is new.

    Args:
        source: The source to pull: a key declared in config/sources.yaml.
    """
    check_source(source)
    async with browser_for([source]) as rt:
        result = await sync_source_task(source, portal_runtime=rt)
    return await _finish([result], key=f"sync-{source}")


async def sync_all_sources(sources: list[str] | None = None, now: datetime | None = None) -> list[SourceResult]:
    """Every source concurrently, one task each (one browser shared by the portals); never raises per source."""
    chosen = [check_source(s) for s in (sources or source_keys())]
    async with browser_for(chosen) as rt:
        results = await asyncio.gather(*(sync_source_task(s, portal_runtime=rt if is_portal(s) else None, now=now,
                                                          sweep=False) for s in chosen))
    results = sweep_task(list(results), now=now)
    get_run_logger().info("synced %s", ", ".join(f"{r.source}={r.new} new" for r in results))
    return list(results)


@flow(name="sync-all", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
async def sync_all(sources: list[SourceKey] | None = None) -> list[SourceResult]:
    """All sources in parallel; one failing source never stops the others.

    The run ends Failed (after all sources finished) if any source failed, and its
    artifact says which and why.

    Args:
        sources: Only these sources (keys of config/sources.yaml); empty means every enabled source.
    """
    return await _finish(await sync_all_sources(sources), key="sync-all")


@flow(name="backfill", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
async def backfill(source: SourceKey, since: LocalTime) -> SourceResult:
    """Re-pull `source` from `since` without moving its committed cursor.

    Landing skips versions already stored, so a backfill only adds what was missed.

    Args:
        source: The source to re-pull: a key declared in config/sources.yaml.
        since: Re-pull records from this time on: an ISO date or date-time, local time
            (Asia/Shanghai) unless it carries an offset; not in the future, at most 400 days back.
    """
    check_source(source)
    since = check_since(since)
    async with browser_for([source]) as rt:
        result = await backfill_task(source, since, portal_runtime=rt)
    await _finish([result], key=f"backfill-{source}")
    return result
