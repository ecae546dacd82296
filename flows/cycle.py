"""`hub_cycle`: one full turn of the hub — sync all → route → push → chase → push."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prefect import flow

from flows.artifacts import sync_table
from flows.hooks import notify_ops_on_failure
from flows.ops import worker_id
from flows.params import LocalTime, SourceKey
from flows.sync import sync_all_sources
from flows.tasks import chase_task, drain_task, surveys_task
from hub.chase.reminders import ChaseStats
from hub.handling.replies import SurveyStats
from hub.outbox.worker import DrainStats
from hub.pipeline.sync import SourceResult


@dataclass
class CycleResult:
    """What one hub cycle did: per source, both pushes, the chase and the survey pass."""

    sources: list[SourceResult]
    push: list[DrainStats] = field(default_factory=list)
    chase: ChaseStats = field(default_factory=ChaseStats)
    surveys: SurveyStats = field(default_factory=SurveyStats)


async def run_cycle(sources: list[str] | None = None, now: datetime | None = None) -> CycleResult:
    """The cycle's body (also used by the demo and tests inside a flow run)."""
    results = await sync_all_sources(sources, now=now)
    pushed = await drain_task(worker_id(), now=now)
    chased = chase_task(now=now)
    # Survey answers: 不满意 reopens to the original handler with a new clock (hub.handling.actions.reopen).
    surveyed = surveys_task(now=now)
    pushed2 = await drain_task(worker_id(), now=now)
    await sync_table(results, key="hub-cycle", description="one hub cycle, per source")
    return CycleResult(sources=results, push=[pushed, pushed2], chase=chased, surveys=surveyed)


@flow(name="hub-cycle", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
async def hub_cycle(sources: list[SourceKey] | None = None, now: LocalTime | None = None) -> CycleResult:
    """Sync every source, route, push, chase and push again; report per source.

    A failing source is reported in the result and artifact; the rest of the cycle runs.

    Args:
        sources: Only these sources (keys of config/sources.yaml); empty means every enabled source.
        now: The hub's "as of" time for clocks and chasing (local time unless it carries an
            offset); empty means the real clock (the demo passes the sandbox's).
    """
    return await run_cycle(sources, now=now)
