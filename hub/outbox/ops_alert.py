"""An ops alert that survives the store: queued in the outbox, or sent straight to the ops destinations.

An ops notification normally goes through the outbox like every effect. But when the
store itself is the failure (database down, disk full) it cannot be queued there, and
it used to be lost. `raise_ops_alert` tries the outbox; when that fails it logs the
alert at ERROR and delivers it at once to `outbox.ops_destinations` (config/chase.yaml),
with the same idempotency key, so a receiver that later also gets the queued copy
recognises it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

import httpx

from core.logs import get_logger
from core.pii import scrub_text
from core.tls import verifying_context
from hub.chase.config import get_chase_config
from hub.outbox.dispatch import deliver, ops_message
from hub.store import outbox as ob
from hub.store.db import Store, get_store

log = get_logger("hub.ops")
Outcome = Literal["queued", "direct", "logged"]


def raise_ops_alert(key: str, payload: dict[str, Any], *, store: Store | None = None,
                    ticket_id: str | None = None) -> Outcome:
    """Queue the ops notification; if the store cannot take it, deliver it directly. Returns what happened."""
    try:
        with (store or get_store()).begin() as conn:
            ob.enqueue(conn, key=key, kind="ops", target="ops", payload=payload, ticket_id=ticket_id)
        return "queued"
    except Exception as exc:  # noqa: BLE001 - the store is what failed: the alert must still get out
        log.error("ops alert %s could not be queued (%s: %s); sending it straight to the ops destinations: %s", key,
                  type(exc).__name__, scrub_text(str(exc).splitlines()[0] if str(exc) else "")[:200],
                  scrub_text(str(payload))[:2000])
    try:
        receipts = send_direct(key, payload)
    except Exception as exc:  # noqa: BLE001 - nothing else to try: the ERROR log above is the alert
        log.error("ops alert %s could not be delivered directly either: %s: %s", key, type(exc).__name__, exc)
        return "logged"
    sent = [r for r in receipts if not r.get("skipped")]
    if not sent:
        log.error("ops alert %s: no ops destination is configured (config/chase.yaml outbox.ops_destinations)", key)
        return "logged"
    return "direct"


def send_direct(key: str, payload: dict[str, Any], timeout: float = 10.0) -> list[dict[str, Any]]:
    """Deliver one ops message to the ops destinations now (in its own thread and event loop); the receipts."""
    dests = get_chase_config().outbox.ops_destinations
    out: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    async def go() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=verifying_context()) as client:
            out.append(await deliver(client, dests, ops_message(payload), key))

    def run() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    # a thread of its own: the caller may be inside a running event loop (a flow hook, an async CLI)
    worker = threading.Thread(target=run, name="ops-alert", daemon=True)
    worker.start()
    worker.join(timeout * 3)
    if errors:
        raise errors[0]
    if not out:
        raise TimeoutError(f"ops alert {key}: no answer from the ops destinations within {timeout * 3:.0f} s")
    return out[0]
