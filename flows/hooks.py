"""Flow state hooks: a failed run tells the ops target (outbox `ops` message + ERROR log)."""

from __future__ import annotations

from typing import Any

from core.logs import get_logger
from core.pii import scrub_text
from flows.runlogs import install_run_logging
from hub.store import get_store
from hub.store.outbox import enqueue

log = get_logger("hub.ops")
install_run_logging()  # every flow module imports this one: the hub's lines reach Prefect's run logs


def notify_ops_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Queue one ops notification per failed flow run (idempotent by run id)."""
    message = scrub_text(str(getattr(state, "message", "") or "failed"))
    log.error("flow %s run %s failed: %s", flow.name, flow_run.name, message)
    try:
        with get_store().begin() as conn:
            enqueue(conn, key=f"ops:flow-failed:{flow_run.id}", kind="ops", target="ops",
                    payload={"what": f"flow {flow.name} failed", "flow": flow.name, "run": flow_run.name,
                             "run_id": str(flow_run.id),
                             "message": message[:2000]})
    except Exception as exc:  # noqa: BLE001 - a failing hook must not hide the original failure
        log.error("could not queue the ops notification: %s", exc)
