"""Run artifacts: one table per sync so operators see what a run did at a glance."""

from __future__ import annotations

from collections.abc import Sequence

from prefect.artifacts import acreate_table_artifact, create_markdown_artifact

from core.pii import scrub_text
from hub.pipeline.sync import SourceResult


async def sync_table(results: Sequence[SourceResult], key: str, description: str) -> None:
    """A table artifact with one row per source (PII scrubbed from error texts)."""
    table = []
    for r in results:
        row = r.row()
        row["error"] = scrub_text(str(row["error"])) if row["error"] else ""
        table.append(row)
    await acreate_table_artifact(key=key, table=table, description=description)


def markdown(key: str, text: str, description: str = "", *, scrub: bool = True) -> None:
    """A markdown artifact; `scrub=False` only for text built masked (reports with inline PNG data)."""
    create_markdown_artifact(key=key, markdown=scrub_text(text) if scrub else text, description=description)


async def outbox_table(backlog: Sequence[dict[str, object]], key: str) -> None:
    """What the outbox still holds per kind after a cycle (highest priority first) and its oldest's age."""
    table = [dict(b) for b in backlog] or [{"kind": "-", "waiting": 0, "oldest_minutes": 0}]
    await acreate_table_artifact(key=key, table=table, description="outbox: waiting per kind after the cycle")
