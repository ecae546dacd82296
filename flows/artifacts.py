"""Run artifacts: one table per sync so operators see what a run did at a glance."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import get_run_logger
from prefect.artifacts import acreate_table_artifact, create_markdown_artifact

from core.pii import scrub_text
from hub.pipeline.sync import SourceResult
from hub.store import get_store
from hub.store.outbox import count_undeliverable


def undeliverable_note() -> str:
    """A warning for the artifact when ops notices wait with no destination ("" when none do)."""
    try:
        with get_store().begin() as conn:
            n = count_undeliverable(conn)
    except Exception:  # noqa: BLE001 - the artifact must not fail on a count
        return ""
    if not n:
        return ""
    note = (f"{n} ops notification(s) undeliverable: no ops destination configured — set HUB_OPS_WEBHOOK "
            "(or an apprise URL in config/chase.yaml), then `hub outbox list --state undeliverable`")
    get_run_logger().error(note)
    return note


async def sync_table(results: Sequence[SourceResult], key: str, description: str) -> None:
    """A table artifact with one row per source (PII scrubbed from error texts).

    Ops notices that could not be delivered are counted in the description (and logged at ERROR).
    """
    table = []
    for r in results:
        row = r.row()
        row["error"] = scrub_text(str(row["error"])) if row["error"] else ""
        table.append(row)
    note = undeliverable_note()
    await acreate_table_artifact(key=key, table=table, description=f"{description}. ⚠ {note}" if note else description)


def markdown(key: str, text: str, description: str = "", *, scrub: bool = True) -> None:
    """A markdown artifact; `scrub=False` only for text built masked (reports with inline PNG data)."""
    create_markdown_artifact(key=key, markdown=scrub_text(text) if scrub else text, description=description)


async def outbox_table(backlog: Sequence[dict[str, object]], key: str, *, undelivered: int = 0,
                       resent: int = 0) -> None:
    """What the outbox still holds per kind after a cycle (highest priority first) and its oldest's age.

    `undelivered` / `resent`: SMS the gateway reported undelivered in this cycle (`hub.outbox.delivery`).
    """
    table = [dict(b) for b in backlog] or [{"kind": "-", "waiting": 0, "oldest_minutes": 0}]
    description = "outbox: waiting per kind after the cycle"
    if undelivered:
        description += (f". ⚠ {undelivered} SMS undelivered (gateway reports), {resent} resent — "
                        "`hub outbox list --delivery failed`")
    await acreate_table_artifact(key=key, table=table, description=description)
