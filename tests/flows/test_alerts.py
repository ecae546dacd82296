"""What operators see in Prefect: undeliverable alerts counted on the sync artifact, hub logs in run logs."""

from __future__ import annotations

import pytest

from hub.outbox.worker import drain_outbox
from hub.store import outbox as ob

pytestmark = pytest.mark.usefixtures("prefect_harness")


async def _artifact_description(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
    return found[0].description or ""


async def test_undeliverable_ops_notice_is_counted_on_the_next_sync_artifact(flow_store, hub_sources,
                                                                             monkeypatch) -> None:  # noqa: ANN001
    from flows.sync import sync_source

    monkeypatch.delenv("HUB_OPS_WEBHOOK", raising=False)
    with flow_store.begin() as conn:
        ob.enqueue(conn, key="ops:flow-failed:x", kind="ops", target="ops", payload={"what": "flow x failed"})
    assert (await drain_outbox(flow_store, "w", kinds=["ops"])).undeliverable == 1
    await sync_source("app")
    desc = await _artifact_description("sync-app")
    assert "1 ops notification(s) undeliverable" in desc and "HUB_OPS_WEBHOOK" in desc


async def _run_logs(flow_run_id) -> list[tuple[str, int, str]]:  # noqa: ANN001
    """(logger name, level, message) of a run's logs, once Prefect's log worker has shipped them."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    async with get_client() as client:
        for _ in range(20):
            logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            if any(lg.name.startswith("hub") for lg in logs):
                break
            await asyncio.sleep(0.5)
    return [(lg.name, lg.level, lg.message) for lg in logs]


async def test_hub_log_lines_and_one_readable_task_line_reach_the_run_logs(flow_store, hub_sources) -> None:  # noqa: ANN001
    from flows.sync import sync_source

    state = await sync_source("app", return_state=True)
    (result,) = await state.result()
    logs = await _run_logs(state.state_details.flow_run_id)
    names = {n for n, _, _ in logs}
    assert "hub.pipeline.pull" in names, names  # the hub's own logger, not only Prefect's
    task_lines = [m for n, _, m in logs if n == "prefect.task_runs" and "page(s)" in m]
    assert len(task_lines) == 1, task_lines
    line = task_lines[0]
    assert line.startswith("app: ") and f"{result.pulled} record(s)" in line and f"{result.new} new" in line
    assert f"{result.quarantined} quarantined" in line and f"{result.routed} routed in" in line
    if result.quarantined:
        assert any(n == "hub.pipeline.normalise" and "quarantined" in m for n, _, m in logs)


async def test_hub_logs_in_a_run_are_scrubbed_and_follow_the_configured_level() -> None:
    import logging

    from prefect import flow

    from core.logs import get_logger
    from flows.runlogs import install_run_logging

    log = get_logger("hub.test_runlogs")

    @flow(name="runlogs-probe")
    def probe() -> None:
        log.warning("客户 13812345678 投诉未送达")
        log.debug("debug detail")

    try:
        install_run_logging("INFO")
        state = probe(return_state=True)
        logs = await _run_logs(state.state_details.flow_run_id)
        mine = [(lvl, m) for n, lvl, m in logs if n == "hub.test_runlogs"]
        assert mine == [(logging.WARNING, "客户 138****5678 投诉未送达")]
        install_run_logging("DEBUG")
        state = probe(return_state=True)
        logs = await _run_logs(state.state_details.flow_run_id)
        assert [m for n, _, m in logs if n == "hub.test_runlogs"][-1] == "debug detail"
    finally:
        install_run_logging()


def test_every_hub_flow_queues_the_ops_message_on_failure_and_on_crash() -> None:
    from cli.prefect_setup import hub_flow_names
    from flows.cycle import hub_cycle
    from flows.hooks import notify_ops_on_failure
    from flows.ops import chase_overdue, daily_report, push_updates, replay_quarantine
    from flows.sync import backfill, sync_all, sync_source

    flows = (sync_source, sync_all, backfill, push_updates, chase_overdue, replay_quarantine, daily_report, hub_cycle)
    assert sorted(f.name for f in flows) == hub_flow_names()
    for f in flows:
        assert notify_ops_on_failure in f.on_crashed_hooks, f.name
        assert notify_ops_on_failure in f.on_failure_hooks, f.name


def test_a_crashed_state_queues_a_crashed_ops_message(flow_store) -> None:  # noqa: ANN001
    from uuid import uuid4

    from prefect.client.schemas.objects import FlowRun
    from prefect.states import Crashed
    from sqlalchemy import select

    from flows.hooks import notify_ops_on_failure
    from flows.sync import sync_source
    from hub.store.tables import outbox

    run = FlowRun(name="brave-fox", flow_id=uuid4())
    notify_ops_on_failure(sync_source, run, Crashed(message="Execution was aborted by an interrupt signal"))
    notify_ops_on_failure(sync_source, run, Crashed(message="again"))  # a second report of the same run
    with flow_store.begin() as conn:
        rows = conn.execute(select(outbox.c.idempotency_key, outbox.c.payload).where(outbox.c.kind == "ops")).all()
    assert len(rows) == 1 and rows[0].payload["what"] == "flow sync-source crashed"
    assert rows[0].payload["state"] == "crashed" and rows[0].idempotency_key == f"ops:flow-failed:{run.id}"
