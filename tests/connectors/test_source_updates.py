"""A change to an old complaint lands at every API source, with a run stopped half-way in between.

Issue 20 item 2 for the sources other than 12315 (whose supplements have their own
test in Chromium, tests/connectors/test_portal_supplements.py): the customer adds to
a complaint the hub already holds; the next run is stopped after its first page (as a
SIGKILL after a committed page would leave it); the run after must bring the ticket's
text up to date. The SMS uplink has no such case: an MO message never changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from hub.pipeline.pull import pull_source
from hub.pipeline.sync import sync_once
from hub.store.tables import tickets
from hub.store.tickets import get_ticket
from sandbox.systems import SYSTEMS
from tests.fixtures.hub_config import clear_config_caches

SUPPLEMENT = "【补充】问题仍未解决，请尽快处理。"


@pytest.mark.parametrize("source", ["app", "callcenter"])
async def test_a_change_to_an_old_complaint_lands_after_a_run_stopped_half_way(
        source: str, sandbox_factory, sqlite_store, hub_config: Path, tmp_path: Path,  # noqa: ANN001
        monkeypatch: pytest.MonkeyPatch) -> None:
    sb = sandbox_factory(seed=21, backlog=0, rate=0, malformed_rate=0.0)
    sb.generate(30, source=source)
    sb.advance(minutes=180)
    sb.generate(5, source=source)  # the high-water mark of the first sync is hours after the old complaints
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps(sb.urls))
    monkeypatch.setenv("HUB_SOURCE_URLS", str(urls))
    path = hub_config / "sources.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["sources"][source]["page_size"] = 5  # several pages, so a run can stop half-way
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    clear_config_caches()
    first = await sync_once(sqlite_store, source, sweep=False)
    assert not first.failed and first.created >= 30, first

    sb.advance(minutes=180)  # hours later: the old complaints are far outside the re-read overlap
    content_key, id_key = SYSTEMS[source].keys.content, SYSTEMS[source].keys.id
    with sb.state.lock:  # the customer adds to the five oldest complaints
        old = sb.state.listing(source)[:5]
        for rec in old:
            rec.payload[content_key] += SUPPLEMENT
            sb.state.touch(rec)
    changed = [str(rec.payload[id_key]) for rec in old]
    sb.generate(12, source=source)  # and new complaints arrive meanwhile

    stopped = await pull_source(sqlite_store, source, max_pages=1, normalise=True)  # killed after one page
    assert stopped.pages == 1
    again = await sync_once(sqlite_store, source, sweep=False)
    assert not again.failed, again
    assert again.pulled <= 5 + 12  # no re-read of everything: the old ones came back by their change
    with sqlite_store.begin() as conn:
        ids = dict(conn.execute(select(tickets.c.external_id, tickets.c.ticket_id).where(
            tickets.c.source == source, tickets.c.external_id.in_(changed))).all())
        texts = {ext: get_ticket(conn, tid).matter.content for ext, tid in ids.items()}
    assert sorted(texts) == sorted(changed)
    missed = [ext for ext, text in texts.items() if SUPPLEMENT not in (text or "")]
    assert not missed, f"{len(missed)} change(s) to old complaints never landed: {missed}"
