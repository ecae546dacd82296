"""PII scan: a full hub cycle with DEBUG logging leaks no raw phone or ID number anywhere.

One `hub-cycle` (all five sources, both portals in Chromium) runs as a real Prefect
flow against a sandbox; a back-office resolve and a second cycle follow so push-backs,
SMS and surveys go out too. Then every place the hub writes to is scanned for the
sandbox's raw phone and ID numbers: log records (ours and Prefect's, as stored on the
Prefect server), Prefect artifacts, report files, outbox payloads, webhook bodies a
local receiver got, `hub tickets list/show --json` and the API's answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prefect import flow
from sqlalchemy import select
from typer.testing import CliRunner

from flows.cycle import CycleResult
from tests.fixtures.hub_config import clear_config_caches
from tests.hardening.pii_scan import Scan, raw_numbers
from tests.outbox.helpers import webhook_receiver


@flow(name="pii-scan-cycle")
async def _cycle_flow(now: datetime) -> CycleResult:
    from flows.cycle import run_cycle

    logging.getLogger("hub").debug("cycle starts at %s", now)
    return await run_cycle(None, now=now)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        self.lines.append((record.name, text))


@pytest.fixture
def env(sandbox_factory, sqlite_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:  # noqa: ANN001
    from hub.store import db

    sb = sandbox_factory(seed=5, backlog=25, rate=30, survey_reply_prob=1.0, malformed_rate=0.05)
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(sb.urls))
    with webhook_receiver() as rec:
        monkeypatch.setenv("HUB_SOURCE_URLS", str(urls))
        monkeypatch.setenv("HUB_TEAM_CARDS_WEBHOOK", rec.url)
        clear_config_caches()
        db.use_store(sqlite_store)
        yield sb, sqlite_store, rec
        db.use_store(None)
    clear_config_caches()


async def _prefect_texts(run_ids: list[Any], scan: Scan) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    n = 0
    async with get_client() as client:
        logs: list[Any] = []
        while True:  # the server pages logs by at most 200
            page = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=run_ids)),
                                          limit=200, offset=len(logs))
            logs += page
            if len(page) < 200:
                break
        for lg in logs:
            scan.add(f"prefect log ({lg.name})", lg.message)
        arts = await client.read_artifacts(limit=200)
        for a in arts:
            scan.add(f"prefect artifact {a.key}", {"data": a.data, "description": a.description})
        n = len(logs) + len(arts)
    return n


@pytest.mark.timeout(600)
async def test_full_cycle_leaks_no_raw_pii(env, prefect_harness, tmp_path: Path) -> None:  # noqa: ANN001
    from cli import app as cli_app
    from core.logs import install_pii_filter
    from core.schema import Status
    from hub.backoffice.auth import create_token
    from hub.handling.actions import change_status
    from hub.reports import build_report
    from hub.store.tables import outbox, tickets
    from web.app import create_app

    sb, store, rec = env
    cap = _Capture()
    cap.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(cap)
    root.setLevel(logging.DEBUG)
    install_pii_filter()  # what `setup_logging` does in production: the scrubber on root's handlers
    try:
        t0 = sb.now()
        s1 = await _cycle_flow(t0, return_state=True)
        first = await s1.result()
        with store.begin() as conn:
            for tid in conn.execute(select(tickets.c.ticket_id).where(tickets.c.status == "assigned")
                                    .limit(5)).scalars():
                change_status(conn, tid, Status.RESOLVED, actor="handler:test", now=t0 + timedelta(minutes=20),
                              note="已联系客户 13800000000 处理", reply="已处理，感谢反馈", settled=True,
                              method="电话协商")
        sb.advance(minutes=180)
        s2 = await _cycle_flow(sb.now(), return_state=True)
        second = await s2.result()
    finally:
        root.removeHandler(cap)
        root.setLevel(old_level)

    numbers = raw_numbers(sb)
    assert len(numbers) > 50, "the sandbox should have generated phones and ID numbers"
    probe = Scan(numbers)  # the scanner itself must see a planted number, spaced or not
    sample = sorted(n for n in numbers if n.isdigit() and len(n) == 11)[0]
    probe.add("probe", f"客户电话 {sample[:3]} {sample[3:7]} {sample[7:]}。")
    assert probe.hits(), "scanner misses a spaced phone"
    scan = Scan(numbers)
    for name, line in cap.lines:
        scan.add(f"log record ({name})", line)
    n_prefect = await _prefect_texts([s1.state_details.flow_run_id, s2.state_details.flow_run_id], scan)
    scan.add("cycle results", [asdict(first), asdict(second)])

    report = build_report(store, "daily", end=sb.now().astimezone(), out_dir=tmp_path / "reports")
    for p in (report.markdown_path, report.html_path):
        scan.add(f"report {p.name}", p.read_text(encoding="utf-8"))
    with store.begin() as conn:
        rows = conn.execute(select(outbox.c.kind, outbox.c.payload, outbox.c.receipt, outbox.c.last_error)).all()
        ids = list(conn.execute(select(tickets.c.ticket_id).order_by(tickets.c.ticket_id)).scalars())
        team_of = dict(conn.execute(select(tickets.c.ticket_id, tickets.c.team)).all())
    for r in rows:
        scan.add(f"outbox {r.kind}", [r.payload, r.receipt, r.last_error])
    for body in rec.bodies:
        scan.add("webhook body", body)

    runner = CliRunner()
    out = runner.invoke(cli_app, ["tickets", "list", "--json"])
    assert out.exit_code == 0, out.output
    scan.add("hub tickets list --json", out.output)
    for tid in ids[:40]:
        out = runner.invoke(cli_app, ["tickets", "show", tid, "--json"])
        assert out.exit_code == 0, out.output
        scan.add(f"hub tickets show {tid} --json", out.output)

    with store.begin() as conn:
        token = create_token(conn, team="cards", role="handler", name="zhang.wei")
    with TestClient(create_app(store)) as c:
        h = {"Authorization": f"Bearer {token}"}
        q = c.get("/api/v1/queue", params={"limit": 500}, headers=h)
        assert q.status_code == 200
        scan.add("api queue", q.text)
        for tid in [t for t in ids if team_of.get(t) == "cards"][:20]:
            d = c.get(f"/api/v1/tickets/{tid}", headers=h)
            assert d.status_code == 200, d.text
            scan.add(f"api ticket {tid}", d.text)

    hits = scan.hits()
    print(f"\nPII scan: {len(numbers)} raw numbers × {len(scan.texts)} texts ({len(cap.lines)} log records, "
          f"{n_prefect} Prefect logs/artifacts, {len(rows)} outbox rows, {len(rec.bodies)} webhook bodies, "
          f"{len(ids)} tickets)")
    assert len(ids) > 20 and rows and cap.lines, "the cycle should have produced tickets, outbox rows and logs"
    assert not hits, "raw PII found:\n" + "\n".join(f"  {w}: {n}" for w, n in sorted(set(hits))[:50])
