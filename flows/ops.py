"""Operational flows: push (outbox), chase (催办), quarantine replay, reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prefect import flow

from core.settings import get_settings
from flows.artifacts import markdown
from flows.hooks import notify_ops_on_failure
from flows.tasks import chase_task, drain_task, replay_task, surveys_task
from hub.chase.reminders import ChaseStats
from hub.handling.replies import SurveyStats
from hub.outbox.leases import local_worker_id
from hub.outbox.worker import DrainStats
from hub.pipeline.sync import ReplayResult
from hub.reports import Period, ReportResult, build_report
from hub.store import get_store


def worker_id() -> str:
    """Identifies this process in outbox claims (host:pid; a dead one's claims are released, hub.outbox.leases)."""
    return local_worker_id()


@dataclass
class ChaseResult:
    """What one chase-overdue run did."""

    chase: ChaseStats
    surveys: SurveyStats


@flow(name="push-updates", on_failure=[notify_ops_on_failure])
async def push_updates(kinds: list[str] | None = None, limit: int = 500) -> DrainStats:
    """Send due outbox rows: push-backs to sources, dispatch to teams, reminders, SMS.

    Safe to run on several workers at once (claims never overlap). `kinds` limits
    the message kinds (dispatch, reminder, status_update, sms, ops).
    """
    return await drain_task(worker_id(), kinds=kinds, limit=limit)


@flow(name="chase-overdue", on_failure=[notify_ops_on_failure])
def chase_overdue(now: datetime | None = None) -> ChaseResult:
    """Warn, remind and escalate on clocks near or past due; handle survey replies."""
    return ChaseResult(chase=chase_task(now=now), surveys=surveys_task(now=now))


@flow(name="replay-quarantine", on_failure=[notify_ops_on_failure])
def replay_quarantine(source: str | None = None, ids: list[int] | None = None) -> ReplayResult:
    """Re-map quarantined records (all, one source's, or the given ids) and route the new tickets."""
    return replay_task(source=source, ids=ids)


@flow(name="daily-report", on_failure=[notify_ops_on_failure])
def daily_report(period: Period = "daily", end: datetime | None = None, out_dir: str | None = None) -> ReportResult:
    """Build the daily (or weekly) report: file + Prefect markdown artifact with charts.

    Parameters: `period` — daily | weekly; `end` — end of the period (default now);
    `out_dir` — where the files go (default var/reports).
    """
    out = Path(out_dir) if out_dir else get_settings().home / "reports"
    result = build_report(get_store(), period=period, end=end, out_dir=out)
    # Inline the PNG charts so the Prefect UI shows them (file links would not resolve there).
    markdown(key=f"{period}-report", text=result.inline_markdown(),
             description=f"{period} complaint report ({result.markdown_path})", scrub=False)
    return result
