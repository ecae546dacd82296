"""Operational flows: push (outbox), chase (催办), quarantine replay, reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from prefect import flow
from pydantic import Field

from core.settings import get_settings
from flows.artifacts import markdown
from flows.hooks import notify_ops_on_failure
from flows.params import LocalTime, OutboxKind, Period, SourceKey
from flows.tasks import chase_task, drain_task, replay_task, route_stranded_task, surveys_task
from hub.chase.reminders import ChaseStats
from hub.handling.replies import SurveyStats
from hub.outbox.leases import local_worker_id
from hub.outbox.worker import DrainStats
from hub.pipeline.stranded import StrandedStats
from hub.pipeline.sync import ReplayResult
from hub.store import get_store

if TYPE_CHECKING:  # hub.reports loads matplotlib (~0.3 s): only the report flow pays for it
    from hub.reports import ReportResult


def worker_id() -> str:
    """Identifies this process in outbox claims (host:pid; a dead one's claims are released, hub.outbox.leases)."""
    return local_worker_id()


@dataclass
class ChaseResult:
    """What one chase-overdue run did."""

    chase: ChaseStats
    surveys: SurveyStats
    stranded: StrandedStats


@flow(name="push-updates", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
async def push_updates(kinds: list[OutboxKind] | None = None,
                       limit: Annotated[int, Field(ge=1, le=10000)] = 500) -> DrainStats:
    """Send due outbox rows: push-backs to sources, dispatch to teams, reminders, SMS.

    Safe to run on several workers at once (claims never overlap). Complaints a dead
    run left without a team are routed first, so their dispatches go out in this run.

    Args:
        kinds: Only these message kinds; empty means all of them.
        limit: At most this many rows in this run (1–10000).
    """
    route_stranded_task()
    return await drain_task(worker_id(), kinds=list(kinds) if kinds else None, limit=limit)


@flow(name="chase-overdue", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
def chase_overdue(now: LocalTime | None = None) -> ChaseResult:
    """Warn, remind and escalate on clocks near or past due; handle survey replies.

    Complaints a dead run left without a team are routed first: they get their clocks
    (and are chased) in this run instead of waiting for the next sync of their source.

    Args:
        now: The "as of" time (local unless it carries an offset); empty means the real clock.
    """
    stranded = route_stranded_task(now=now)
    return ChaseResult(chase=chase_task(now=now), surveys=surveys_task(now=now), stranded=stranded)


@flow(name="replay-quarantine", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
def replay_quarantine(source: SourceKey | None = None, ids: list[int] | None = None) -> ReplayResult:
    """Re-map quarantined records (all, one source's, or the given ids) and route the new tickets.

    Args:
        source: Only this source's records (a key of config/sources.yaml); empty means every source.
        ids: Only these quarantine ids (see `hub quarantine list`); empty means all open ones.
    """
    return replay_task(source=source, ids=ids)


@flow(name="daily-report", on_failure=[notify_ops_on_failure], on_crashed=[notify_ops_on_failure])
def daily_report(period: Period = "daily", end: LocalTime | None = None, out_dir: str | None = None) -> ReportResult:
    """Build the daily (or weekly) report: file + Prefect markdown artifact with charts.

    Args:
        period: daily or weekly.
        end: End of the period (local time unless it carries an offset); empty means now.
        out_dir: Where the files go; empty means var/reports under HUB_HOME.
    """
    from hub.reports import build_report

    out = Path(out_dir) if out_dir else get_settings().home / "reports"
    result = build_report(get_store(), period=period, end=end, out_dir=out)
    # Inline the PNG charts so the Prefect UI shows them (file links would not resolve there).
    markdown(key=f"{period}-report", text=result.inline_markdown(),
             description=f"{period} complaint report ({result.markdown_path})", scrub=False)
    return result
