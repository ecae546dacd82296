"""Operational flows: push (outbox), chase (催办), quarantine replay, reports."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows import tasks
from flows.artifacts import markdown
from flows.hooks import notify_ops_on_failure


def worker_id() -> str:
    """Identifies this process in outbox claims (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@flow(name="push-updates", on_failure=[notify_ops_on_failure])
async def push_updates(kinds: list[str] | None = None, limit: int = 500) -> dict[str, Any]:
    """Send due outbox rows: push-backs to sources, dispatch to teams, reminders, SMS.

    Safe to run on several workers at once (claims never overlap). `kinds` limits
    the message kinds (dispatch, reminder, status_update, sms, ops).
    """
    return await tasks.drain_outbox(worker_id(), kinds=kinds, limit=limit)


@flow(name="chase-overdue", on_failure=[notify_ops_on_failure])
def chase_overdue(now: datetime | None = None) -> dict[str, Any]:
    """Warn, remind and escalate on clocks near or past due; handle survey replies."""
    chased = tasks.chase(now=now)
    surveyed = tasks.surveys(now=now)
    return {"chase": chased, "surveys": surveyed}


@flow(name="replay-quarantine", on_failure=[notify_ops_on_failure])
def replay_quarantine(source: str | None = None, ids: list[int] | None = None) -> dict[str, Any]:
    """Re-map quarantined records (all, one source's, or the given ids) and route the new tickets."""
    result = tasks.replay(source=source, ids=ids)
    new_ids = list(result.get("created_ids", [])) + list(result.get("updated_ids", []))
    result["routed"] = tasks.enrich_and_route(new_ids).get("routed", 0)
    get_run_logger().info("replayed: %s", {k: v for k, v in result.items() if not k.endswith("_ids")})
    return {k: v for k, v in result.items() if not k.endswith("_ids")}


@flow(name="daily-report", on_failure=[notify_ops_on_failure])
def daily_report(period: str = "daily", end: datetime | None = None, out_dir: str | None = None) -> dict[str, Any]:
    """Build the daily (or weekly) report: file + Prefect markdown artifact with charts.

    Parameters: `period` — daily | weekly; `end` — end of the period (default now);
    `out_dir` — where the files go (default var/reports).
    """
    from core.settings import get_settings
    from hub.reports import build_report
    from hub.store import get_store

    out = Path(out_dir) if out_dir else get_settings().home / "reports"
    result = build_report(get_store(), period=period, end=end, out_dir=out)  # type: ignore[arg-type]
    md_path = Path(result.markdown_path)
    # Inline the PNG charts so the Prefect UI shows them (file links would not resolve there).
    markdown(key=f"{period}-report", text=result.inline_markdown(),
             description=f"{period} complaint report ({md_path})", scrub=False)
    return {"markdown": str(md_path), "html": str(result.html_path), "images": [str(p) for p in result.images]}
