"""A cycle with failed sources completes but tells ops; it reports what the outbox still holds per kind."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.store.tables import outbox

pytestmark = pytest.mark.usefixtures("prefect_harness")


async def test_cycle_with_a_failed_source_raises_the_ops_alert_and_reports_the_backlog(flow_store, hub_sources,  # noqa: ANN001
                                                                                       monkeypatch) -> None:
    from flows.cycle import hub_cycle

    monkeypatch.setenv("HUB_CALLCENTER_APP_SECRET", "wrong-secret")  # auth failure: fails fast
    state = await hub_cycle(sources=["app", "sms", "callcenter"], return_state=True)
    assert state.is_completed()  # the rest of the cycle ran
    result = await state.result()
    assert result.failed_sources == ["callcenter"]
    assert result.alert == "queued"
    with flow_store.begin() as conn:
        ops = conn.execute(select(outbox.c.idempotency_key, outbox.c.payload).where(outbox.c.kind == "ops")).all()
    alert = [o for o in ops if o.idempotency_key.startswith("ops:cycle-sources-failed:")]
    assert len(alert) == 1 and list(alert[0].payload["failed"]) == ["callcenter"]
    assert "AuthError" in alert[0].payload["failed"]["callcenter"]
    # what still waits is reported per kind: the second push drained everything the cycle queued...
    assert result.backlog == [] and result.push[1].sent == result.push[1].claimed > 0
    # ...and the alert, queued after it, is what the next cycle's backlog starts with
    from hub.outbox.priority import backlog

    assert [(b.kind, b.waiting) for b in backlog(flow_store)] == [("ops", 1)]
