"""What operators see in Prefect: undeliverable alerts counted on the sync artifact, hub logs in run logs."""

from __future__ import annotations

import pytest

from hub.outbox.worker import drain_outbox
from hub.store import outbox as ob

pytestmark = pytest.mark.usefixtures("prefect_harness")


async def _artifact_description(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            limit=1)
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
