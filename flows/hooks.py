"""Flow state hooks: a failed or crashed run tells the ops target (outbox `ops` message, or direct
when the store is down; ERROR log)."""

from __future__ import annotations

from typing import Any

from core.logs import get_logger
from core.pii import scrub_text
from flows.runlogs import install_run_logging
from hub.outbox.ops_alert import raise_ops_alert

log = get_logger("hub.ops")
install_run_logging()  # every flow module imports this one: the hub's lines reach Prefect's run logs


def notify_ops_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Queue one ops notification per failed or crashed flow run (idempotent by run id).

    Used as `on_failure` and `on_crashed` of every flow. A run killed outright (SIGKILL, out
    of memory) runs no hook at all: `hub prefect setup`'s automations report those. When the
    store is what failed, the message goes straight to the ops destinations (hub.outbox.ops_alert).
    """
    how = "crashed" if getattr(state, "is_crashed", lambda: False)() else "failed"
    message = scrub_text(str(getattr(state, "message", "") or how))
    log.error("flow %s run %s %s: %s", flow.name, flow_run.name, how, message)
    try:
        raise_ops_alert(f"ops:flow-failed:{flow_run.id}",
                        {"what": f"flow {flow.name} {how}", "flow": flow.name, "state": how, "run": flow_run.name,
                         "run_id": str(flow_run.id), "message": message[:2000]})
    except Exception as exc:  # noqa: BLE001 - a failing hook must not hide the original failure
        log.error("could not raise the ops notification: %s", exc)
