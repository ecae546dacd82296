"""`hub prefect setup`: what Prefect needs besides `prefect deploy`, created idempotently.

- the process work pool of `prefect.yaml`;
- one global concurrency limit per source (`hub-sync-<source>`, limit 1; flows.concurrency);
- a Webhook block `hub-ops-webhook` for the ops destination (`HUB_OPS_WEBHOOK`, or the first
  webhook / 企业微信 entry of `config/chase.yaml` outbox.ops_destinations);
- automations on the hub's flows: a run Failed, a run Crashed (SIGKILL, out of memory, a
  lost worker — no hook of the run's own can report those), a run Late for longer than
  `--late-minutes`. Prefect's server sends them itself, so they arrive even when no worker
  is left to drain the hub's outbox.
Running it again updates what exists and creates what is missing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import typer

from cli.common import console, operator_errors
from core.errors import ConfigError
from core.secrets import resolve_plain

app = typer.Typer(help="Prefect: work pool, concurrency limits, alert automations.", no_args_is_help=True)

POOL = "hub-pool"
BLOCK = "hub-ops-webhook"
AUTOMATION_PREFIX = "complaint-hub: "
#: every state a Late run may move on to: seeing none of them in time means it stayed late
LEFT_LATE = {"prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.Completed",
             "prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.Cancelled",
             "prefect.flow-run.Cancelling"}


@dataclass
class SetupReport:
    """What one setup did, for the CLI's lines."""

    pool: str
    limits: list[str]
    block: str
    automations: dict[str, str]


def hub_flow_names() -> list[str]:
    """The names of the hub's flows (what the automations watch)."""
    from flows.cycle import hub_cycle
    from flows.ops import chase_overdue, daily_report, push_updates, replay_quarantine
    from flows.sync import backfill, sync_all, sync_source

    return sorted(f.name for f in (sync_source, sync_all, backfill, push_updates, chase_overdue,
                                   replay_quarantine, daily_report, hub_cycle))


def ops_webhook() -> tuple[str, str]:
    """(kind, URL) of the destination Prefect's automations call: `webhook` or `wecom`."""
    from hub.chase.config import get_chase_config

    for dest in get_chase_config().outbox.ops_destinations:
        url = resolve_plain(dest.url)
        if url and dest.type in ("webhook", "wecom") and url.startswith(("http://", "https://")):
            return dest.type, url
    raise ConfigError("no ops webhook for Prefect's alerts",
                      hint="set HUB_OPS_WEBHOOK (or a wecom bot URL in config/chase.yaml outbox.ops_destinations)")


def payload_template(kind: str, what: str) -> str:
    """The Jinja payload the server renders per alert (names and ids only: no state message, no PII)."""
    facts = {"flow": "{{ flow.name }}", "deployment": "{{ deployment.name }}", "run": "{{ flow_run.name }}",
             "run_id": "{{ flow_run.id }}", "state": "{{ flow_run.state.name }}"}
    if kind == "wecom":
        text = (f"[hub ops] {what}: flow {facts['flow']}/{facts['deployment']} run {facts['run']} "
                f"({facts['state']}); prefect flow-run logs {facts['run_id']}")
        return json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False)
    return json.dumps({"event": "ops", "what": what, **facts, "source": "prefect-automation",
                       "hint": f"prefect flow-run logs {facts['run_id']}"}, ensure_ascii=False)


def automations(block_id: Any, kind: str, flows: list[str], late_minutes: int) -> list[Any]:
    """The three automations (Failed, Crashed, long-Late) on the hub's flows."""
    from prefect.automations import Automation, CallWebhook, EventTrigger, Posture

    related = {"prefect.resource.role": "flow", "prefect.resource.name": flows}
    runs = {"prefect.resource.id": "prefect.flow-run.*"}

    def reactive(event: str) -> Any:
        return EventTrigger(expect={event}, match=runs, match_related=related, posture=Posture.Reactive,
                            threshold=1, within=timedelta(0))

    return [
        Automation(name=f"{AUTOMATION_PREFIX}run failed", description="A hub flow run ended Failed.",
                   trigger=reactive("prefect.flow-run.Failed"),
                   actions=[CallWebhook(block_document_id=block_id, payload=payload_template(kind, "flow run failed"))]),
        Automation(name=f"{AUTOMATION_PREFIX}run crashed",
                   description="A hub flow run crashed (killed, out of memory, infrastructure lost).",
                   trigger=reactive("prefect.flow-run.Crashed"),
                   actions=[CallWebhook(block_document_id=block_id,
                                        payload=payload_template(kind, "flow run crashed"))]),
        Automation(name=f"{AUTOMATION_PREFIX}run late", description=f"A hub flow run stayed Late for {late_minutes} min "
                   "(no worker, pool paused, or waiting for a concurrency slot).",
                   trigger=EventTrigger(after={"prefect.flow-run.Late"}, expect=LEFT_LATE, match=runs,
                                        match_related=related, for_each={"prefect.resource.id"},
                                        posture=Posture.Proactive, threshold=1,
                                        within=timedelta(minutes=late_minutes)),
                   actions=[CallWebhook(block_document_id=block_id,
                                        payload=payload_template(kind, f"flow run late > {late_minutes} min"))]),
    ]


async def _upsert_automation(auto: Any) -> str:
    from prefect.automations import Automation

    try:
        found = await Automation.aread(name=auto.name)
    except ValueError:  # not found
        await auto.acreate()
        return "created"
    auto.id = found.id
    await auto.aupdate()
    return "updated"


async def setup(late_minutes: int = 10, pool: str = POOL) -> SetupReport:
    """Create or update the pool, the per-source limits, the ops webhook block and the automations."""
    from prefect import get_client
    from prefect.blocks.webhook import Webhook
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    from connectors.registry import source_keys
    from flows.concurrency import ensure_limits

    kind, url = ops_webhook()
    async with get_client() as client:
        try:
            await client.create_work_pool(WorkPoolCreate(
                name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template()))
        except ObjectAlreadyExists:
            pass
    limits = await ensure_limits(source_keys(enabled_only=False))
    block = Webhook(method="POST", url=url, allow_private_urls=True,
                    headers={"Content-Type": "application/json", "X-Hub-Alert-Source": "prefect"})
    block_id = await block.save(BLOCK, overwrite=True)
    done = {}
    for auto in automations(block_id, kind, hub_flow_names(), late_minutes):
        done[auto.name] = await _upsert_automation(auto)
    return SetupReport(pool=pool, limits=limits, block=BLOCK, automations=done)


@app.command("setup")
@operator_errors
def setup_cmd(
    late_minutes: int = typer.Option(10, min=1, help="Alert when a run stays Late this many minutes."),
    pool: str = typer.Option(POOL, help="The process work pool of prefect.yaml."),
) -> None:
    """Create (or update) the work pool, per-source concurrency limits and the alert automations.

    Needs PREFECT_API_URL and an ops webhook (HUB_OPS_WEBHOOK); safe to run again.
    """
    report = asyncio.run(setup(late_minutes=late_minutes, pool=pool))
    console.print(f"work pool {report.pool}: ready")
    console.print(f"concurrency limits: {', '.join(report.limits)} (1 each)")
    console.print(f"webhook block {report.block}: saved")
    for name, what in report.automations.items():
        console.print(f"automation '{name}': {what}")
