"""Prefect tasks: one per source pull or per batch step, never one per complaint.

Tasks call into hub/ and connectors/; they take plain parameters (source keys,
lists of ids) so runs are readable in the UI. `NO_CACHE`: every run must
really talk to the sources and the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from core.schema import Source
from hub.store import get_store


@task(name="pull-source", cache_policy=NO_CACHE, retries=0)
async def pull_source(source: str, *, cursor: Any = ..., move_cursor: bool = True,
                      portal_runtime: Any = None) -> dict[str, Any]:
    """Pull one source from its cursor; land and normalise every page (page + cursor per transaction)."""
    from hub.pipeline.pull import pull_source as run
    from hub.store.ledger import StorePushLedger

    store = get_store()
    report = await run(store, Source(source), cursor=cursor, move_cursor=move_cursor,
                       portal_runtime=portal_runtime, ledger=StorePushLedger(store, source), normalise=True)
    get_run_logger().info("%s: %d pages, %d records, %d new", source, report.pages, report.records, report.new)
    return report.as_dict()


@task(name="normalise", cache_policy=NO_CACHE)
def normalise(source: str | None = None) -> dict[str, Any]:
    """Map raw records still waiting (landed but not normalised) into tickets or quarantine, in batches.

    The pull normalises its own pages; this picks up whatever an earlier run left landed,
    and names (`stranded_ids`) the tickets an earlier run normalised but never routed.
    """
    from hub.pipeline.enrich import stranded_ids
    from hub.pipeline.normalise import normalise_pending

    doc = _as_dict(normalise_pending(get_store(), source=source))
    doc["stranded_ids"] = stranded_ids(get_store(), source)
    return doc


@task(name="enrich-and-route", cache_policy=NO_CACHE)
def enrich_and_route(ticket_ids: list[str], now: datetime | None = None) -> dict[str, Any]:
    """Classify, judge urgency and risk, route and start clocks for these tickets (batched)."""
    from hub.pipeline.enrich import enrich_and_route as run

    if not ticket_ids:
        return {"tickets": 0}
    return _as_dict(run(get_store(), ticket_ids, now=now))


@task(name="drain-outbox", cache_policy=NO_CACHE)
async def drain_outbox(worker_id: str, kinds: list[str] | None = None, limit: int = 500,
                       now: datetime | None = None) -> dict[str, Any]:
    """Send due outbox rows (dispatch, reminders, push-backs, SMS) until none is due."""
    from hub.outbox.worker import drain_outbox as run

    return _as_dict(await run(get_store(), worker_id, limit=limit, kinds=kinds, now=now))


@task(name="chase", cache_policy=NO_CACHE)
def chase(now: datetime | None = None) -> dict[str, Any]:
    """Warnings, breaches and escalations for clocks that need attention now."""
    from hub.chase.reminders import chase as run

    return _as_dict(run(get_store(), now=now))


@task(name="surveys", cache_policy=NO_CACHE)
def surveys(now: datetime | None = None) -> dict[str, Any]:
    """Process survey replies and unsubscribes; close surveys nobody answered."""
    from hub.handling.replies import expire_surveys, process_replies

    stats = _as_dict(process_replies(get_store(), now=now))
    stats["expired"] = stats.get("expired", 0) + expire_surveys(get_store(), now=now)
    return stats


@task(name="replay-quarantine", cache_policy=NO_CACHE)
def replay(source: str | None = None, ids: list[int] | None = None) -> dict[str, Any]:
    """Re-map quarantined records with the current mappings."""
    from hub.pipeline.normalise import replay_quarantine

    return _as_dict(replay_quarantine(get_store(), ids=ids, source=source))


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj):
        return asdict(obj)
    return {"result": str(obj)}
