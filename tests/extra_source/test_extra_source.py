"""A new source needs no edit outside its own files: the kiosk source, declared in this folder, runs
the shared connector contract, a full sync (pull, normalise, judge, route), a push-back through the
outbox, and a Prefect sync flow — with the project's own config and mappings copied, plus two files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.base import Connector
from connectors.config import current_sources
from connectors.registry import make_connector, sources
from core.configfile import reload_config
from core.schema import RawRecord, Status, StatusUpdate
from core.settings import PROJECT_ROOT
from tests.connectors.contract import ConnectorContract, ContractAdapter
from tests.extra_source.server import KioskServer

HERE = Path(__file__).resolve().parent


@pytest.fixture
def kiosk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KioskServer]:
    """The kiosk system running, and the hub configured for it the way an operator would do it."""
    server = KioskServer()
    url = server.start()
    config, mappings = tmp_path / "config", tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "config", config)
    shutil.copytree(PROJECT_ROOT / "mappings", mappings)
    with (config / "sources.yaml").open("a", encoding="utf-8") as fh:  # 1. the config section
        fh.write("\n" + (HERE / "sources.yaml").read_text(encoding="utf-8"))
    shutil.copy(HERE / "mapping.yaml", mappings / "kiosk.yaml")  # 2. the mapping
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({"kiosk": url}))
    monkeypatch.setenv("HUB_CONFIG_DIR", str(config))
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("HUB_SOURCE_URLS", str(urls))
    reload_config()
    yield server
    server.stop()
    monkeypatch.delenv("HUB_CONFIG_DIR")
    monkeypatch.delenv("HUB_MAPPINGS_DIR")
    monkeypatch.delenv("HUB_SOURCE_URLS")
    reload_config()


@pytest.fixture
def sandbox(kiosk_env: KioskServer) -> KioskServer:
    """The contract suite's `sandbox`: here, the kiosk system."""
    return kiosk_env


class KioskAdapter(ContractAdapter):
    source = "kiosk"
    id_key = "ticket_no"
    small_page_size = 5

    async def connect(self, sb: Any, request: pytest.FixtureRequest, *, ledger: Any = None,
                      bad_credentials: bool = False, page_size: int | None = None) -> Connector:
        cfg = current_sources()["kiosk"]
        update: dict[str, Any] = {"page_size": page_size} if page_size else {}
        if bad_credentials:
            update["credentials"] = {"api_key": "env:HUB_TEST_UNSET_SECRET|wrong-key"}
        return make_connector("kiosk", config=cfg.model_copy(update=update), ledger=ledger)

    def make_update(self, sb: Any, record: RawRecord) -> StatusUpdate | None:
        return StatusUpdate(ticket_id="T-KIOSK", source="kiosk", external_id=record.external_id,
                            status=Status.RESOLVED, reply="已为您退卡", idempotency_key=f"kiosk-{record.external_id}")


class TestKioskContract(ConnectorContract):
    adapter = KioskAdapter()


def test_the_declaration_reaches_registry_labels_and_cli(kiosk_env: KioskServer) -> None:
    from cli.common import source_argument
    from hub.labels import source_label

    kiosk = next(s for s in sources() if s.key == "kiosk")
    assert (kiosk.kind, kiosk.label, kiosk.connector.__name__) == ("api", "自助终端", "KioskConnector")
    assert source_label("kiosk") == "自助终端"
    assert source_argument("kiosk") == "kiosk"


async def test_sync_routes_and_pushes_back_the_new_source(kiosk_env: KioskServer, sqlite_store: Any) -> None:
    from hub.handling.actions import change_status
    from hub.outbox.worker import drain_outbox
    from hub.pipeline.sync import sync_once
    from hub.store.tables import outbox, tickets

    store = sqlite_store
    result = await sync_once(store, "kiosk")
    assert not result.failed, result.error
    assert result.pulled == result.new == result.created == len(kiosk_env.items) > 0
    with store.begin() as conn:
        rows = conn.execute(select(tickets.c.ticket_id, tickets.c.team, tickets.c.kind)
                            .where(tickets.c.source == "kiosk")).all()
        dispatched = conn.execute(select(func.count()).select_from(outbox)
                                  .where(outbox.c.kind == "dispatch")).scalar()
    complaints = [r for r in rows if r.kind == "complaint"]
    assert complaints and all(r.team for r in complaints), "every kiosk complaint is routed to a team"
    assert result.routed == len(complaints) and dispatched == len(complaints)
    again = await sync_once(store, "kiosk")
    assert again.new == 0 and again.created == 0

    with store.begin() as conn:
        change_status(conn, complaints[0].ticket_id, Status.RESOLVED, actor="handler:test", note="已退卡",
                      reply="您好，卡片已退回")
    for _ in range(2):  # a rerun of the push sends nothing twice
        await drain_outbox(store, "w", kinds=["status_update"])
    writes = kiosk_env.writes("kiosk")
    assert len(writes) == 1 and writes[0]["data"] == {"state": "closed", "reply": "您好，卡片已退回"}


@pytest.mark.usefixtures("prefect_harness")
async def test_the_sync_flow_runs_the_new_source(kiosk_env: KioskServer, sqlite_store: Any) -> None:
    from flows.sync import sync_source
    from hub.store import db

    db.use_store(sqlite_store)
    try:
        (result,) = await sync_source("kiosk")
    finally:
        db.use_store(None)
    assert result.source == "kiosk" and result.created == len(kiosk_env.items) and result.routed > 0
