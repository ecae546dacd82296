"""Flow state hooks: a failed run tells the ops target (outbox `ops` message, or direct when the store is down; ERROR log)."""

from __future__ import annotations

from typing import Any

from core.logs import get_logger
from core.pii import scrub_text
from hub.outbox.ops_alert import raise_ops_alert

log = get_logger("hub.ops")


def notify_ops_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Queue one ops notification per failed flow run (idempotent by run id)."""
    message = scrub_text(str(getattr(state, "message", "") or "failed"))
    log.error("flow %s run %s failed: %s", flow.name, flow_run.name, message)
    try:  # queued; when the store is what failed, straight to the ops destinations (hub.outbox.ops_alert)
        raise_ops_alert(f"ops:flow-failed:{flow_run.id}",
                        {"what": f"flow {flow.name} failed", "flow": flow.name, "run": flow_run.name,
                         "run_id": str(flow_run.id), "message": message[:2000]})
    except Exception as exc:  # noqa: BLE001 - a failing hook must not hide the original failure
        log.error("could not raise the ops notification: %s", exc)
