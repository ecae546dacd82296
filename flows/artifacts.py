"""Run artifacts: one table per sync so operators see what a run did at a glance."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import acreate_table_artifact, create_markdown_artifact

from core.pii import scrub_text

COLUMNS = ["source", "pulled", "new", "created", "updated", "quarantined", "routed", "pushed", "failed", "error",
           "screenshot", "trace"]


async def sync_table(rows: list[dict[str, Any]], key: str, description: str) -> None:
    """A table artifact with one row per source (PII scrubbed from error texts)."""
    table = [{c: (scrub_text(str(r.get(c))) if c == "error" and r.get(c) else r.get(c, 0 if c not in
              ("error", "screenshot", "trace") else "")) for c in COLUMNS} for r in rows]
    await acreate_table_artifact(key=key, table=table, description=description)


def markdown(key: str, text: str, description: str = "", *, scrub: bool = True) -> None:
    """A markdown artifact; `scrub=False` only for text built masked (reports with inline PNG data)."""
    create_markdown_artifact(key=key, markdown=scrub_text(text) if scrub else text, description=description)
