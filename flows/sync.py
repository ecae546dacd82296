"""Sync flows: one source, all sources in parallel, and backfill of a time window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from core.schema import Source
from flows import tasks
from flows.artifacts import sync_table
from flows.hooks import notify_ops_on_failure

PORTALS = {Source.GOV12315.value, Source.BLACKCAT.value}


_NORM_COUNTS = ("created", "updated", "quarantined", "ignored")


def _ids(*norms: dict[str, Any]) -> list[str]:
    keys = ("created_ids", "updated_ids", "stranded_ids")
    return list(dict.fromkeys(i for n in norms for key in keys for i in n.get(key, [])))


def _counts(*norms: dict[str, Any]) -> dict[str, int]:
    return {k: sum(n.get(k, 0) for n in norms) for k in _NORM_COUNTS}


async def _sync_one(source: str, portal_runtime: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Pull → normalise → enrich/route for one source; errors are returned, not raised."""
    row: dict[str, Any] = {"source": source}
    pulled: dict[str, Any] = {}
    try:
        pulled = await tasks.pull_source(source, portal_runtime=portal_runtime)
        row.update(pulled=pulled["pulled"], new=pulled["new"], pages=pulled["pages"])
    except Exception as exc:  # noqa: BLE001 - reported per source; others carry on
        report = getattr(exc, "pull_report", None)  # its pages before the failure were normalised
        pulled = {"normalised": report.normalised} if report is not None else {}
        row.update(failed=1, error=f"{type(exc).__name__}: {exc}",
                   screenshot=str(getattr(exc, "screenshot", "") or ""),
                   trace=str(getattr(exc, "trace", "") or ""))
    # The pull normalised its pages; normalise whatever else is landed (an earlier, failed run's).
    # A failed pull's pages landed before the failure were normalised with them.
    done = pulled.get("normalised") or {}
    norm = tasks.normalise(source)
    row.update(_counts(done, norm))
    routed = tasks.enrich_and_route(_ids(done, norm), now=now)
    row["routed"] = routed.get("routed", 0)
    return row


@asynccontextmanager
async def portal_runtime(needed: bool) -> AsyncIterator[Any]:
    """One browser for the run when a portal source is in it (None otherwise)."""
    if not needed:
        yield None
        return
    from connectors.portal.runtime import PortalRuntime  # Playwright only when a portal is synced

    async with PortalRuntime() as rt:
        yield rt


class SourcesFailed(RuntimeError):
    """Raised at the end of a run in which some sources failed (after the others finished)."""


async def _finish(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    await sync_table(rows, key=key, description="pulled/new/updated/quarantined/routed per source")
    failed = [r for r in rows if r.get("failed")]
    if failed:
        detail = "; ".join(f"{r['source']}: {r['error']}" for r in failed)
        raise SourcesFailed(f"{len(failed)} source(s) failed: {detail}")
    return rows


@flow(name="sync-source", on_failure=[notify_ops_on_failure])
async def sync_source(source: str) -> list[dict[str, Any]]:
    """Pull one source from its cursor, land, normalise and route what is new.

    Parameters: `source` — gov12315, blackcat, app, sms or callcenter.
    """
    source = Source(source).value
    async with portal_runtime(source in PORTALS) as rt:
        row = await _sync_one(source, rt)
    return await _finish([row], key=f"sync-{source}")


async def sync_all_sources(sources: list[str] | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every source concurrently (one browser shared by the two portals); never raises per source."""
    chosen = [Source(s).value for s in (sources or [s.value for s in Source])]
    async with portal_runtime(any(s in PORTALS for s in chosen)) as rt:
        rows = await asyncio.gather(*(_sync_one(s, rt if s in PORTALS else None, now) for s in chosen))
    get_run_logger().info("synced %s", ", ".join(f"{r['source']}={r.get('new', 0)} new" for r in rows))
    return list(rows)


@flow(name="sync-all", on_failure=[notify_ops_on_failure])
async def sync_all(sources: list[str] | None = None) -> list[dict[str, Any]]:
    """All sources in parallel; one failing source never stops the others.

    The run ends Failed (after all sources finished) if any source failed, and its
    artifact says which and why. Parameters: `sources` — subset of source keys.
    """
    return await _finish(await sync_all_sources(sources), key="sync-all")


@flow(name="backfill", on_failure=[notify_ops_on_failure])
async def backfill(source: str, since: datetime, until: datetime | None = None) -> dict[str, Any]:
    """Re-pull `source` from `since` (to `until`) without moving its committed cursor.

    Landing skips versions already stored, so a backfill only adds what was missed.
    """
    from connectors.registry import backfill_cursor

    source = Source(source).value
    cursor = backfill_cursor(Source(source), since, until)
    async with portal_runtime(source in PORTALS) as rt:
        pulled = await tasks.pull_source(source, cursor=cursor, move_cursor=False, portal_runtime=rt)
    done = pulled.get("normalised") or {}
    norm = tasks.normalise(source)
    routed = tasks.enrich_and_route(_ids(done, norm))
    row = {"source": source, "pulled": pulled["pulled"], "new": pulled["new"], **_counts(done, norm),
           "routed": routed.get("routed", 0)}
    await _finish([row], key=f"backfill-{source}")
    return row
