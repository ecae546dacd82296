"""Incremental pulls without loss against the sandbox: shared timestamps, late arrivals, shifting offsets."""

from __future__ import annotations

from connectors.registry import make_connector
from core.schema import Status, StatusUpdate
from tests.connectors.api_adapters import sandbox_config
from tests.connectors.contract import pull_all, records_of, without_missing_ids


def _ids(pages) -> set[str]:
    return {r.external_id for r in records_of(pages)}


async def test_app_same_minute_updates_and_late_arrivals_are_not_lost(sandbox):
    cfg = sandbox_config(sandbox, "app", page_size=7)
    conn = make_connector("app", config=cfg)
    try:
        pages, cursor = await pull_all(conn)
        got = {r.external_id: r.payload for r in records_of(pages)}
        # Same simulated minute as the high-water mark: an update of the OLDEST record (smallest id,
        # sorts before the app's own next_cursor) and a brand-new record.
        oldest = min(got, key=lambda k: (got[k]["updated_at"], k))
        receipt = await conn.push(StatusUpdate(ticket_id="T1", source="app", external_id=oldest,
                                               status=Status.IN_PROGRESS, reply="正在核实",
                                               idempotency_key="inc-app-1"))
        assert not receipt.already_applied
        late = sandbox.inject("app", fields={"title": "迟到的投诉"})
        pages2, cursor2 = await pull_all(conn, cursor)
        again = {r.external_id: r.payload for r in records_of(pages2)}
        assert late in again
        assert again[oldest]["status"] == "replied" and again[oldest]["reply"] == "正在核实"
        assert cursor2["run"] is None and cursor2["hwm"] >= cursor["hwm"]
    finally:
        await conn.aclose()


async def test_callcenter_offsets_shifting_under_new_arrivals_lose_nothing(sandbox):
    cfg = sandbox_config(sandbox, "callcenter", page_size=2)
    expected = {r["order_no"] if "order_no" in r else r["external_id"] for r in _payloads(sandbox, "callcenter")}
    conn = make_connector("callcenter", config=cfg)
    try:
        first, cursor = await pull_all(conn, max_pages=2)
        assert cursor["run"]["position"] == 3
        new = [ext for _s, ext in sandbox.generate(3, source="callcenter")]  # pushes every order 3 places down
        new = without_missing_ids(sandbox, "callcenter", "order_no", new)
        rest, cursor = await pull_all(conn, cursor)
        ids = _ids(first + rest)
        assert expected <= ids, f"lost under shifting offsets: {sorted(expected - ids)[:5]}"
        versions = [(r.external_id, r.payload_hash) for r in records_of(rest)]
        assert len(versions) == len(set(versions)), "repeats across shifted pages must be deduped"
        nxt, _ = await pull_all(conn, cursor)
        assert set(new) <= _ids(nxt), "orders that arrived during the run come with the next run"
    finally:
        await conn.aclose()


async def test_duplicate_delivery_is_deduped_within_a_run(sandbox):
    sandbox.set_faults("app", duplicate_rate=1.0)  # every item delivered twice
    conn = make_connector("app", config=sandbox_config(sandbox, "app", page_size=10))
    try:
        pages, _ = await pull_all(conn)
    finally:
        await conn.aclose()
    versions = [(r.external_id, r.payload_hash) for r in records_of(pages)]
    assert len(versions) == len(set(versions))
    assert sum(p.stats.get("duplicates_skipped", 0) for p in pages[-1:]) > 0


def _payloads(sb, source):
    out = []
    for item in sb.records(source):
        payload = item["payload"] if "payload" in item and "external_id" in item else item
        if payload.get("order_no"):
            out.append(payload)
    return out


async def test_app_cursor_forgotten_by_the_source_restarts_the_run(sandbox):
    conn = make_connector("app", config=sandbox_config(sandbox, "app", page_size=50))
    try:
        pages, cursor = await pull_all(conn, {"hwm": None, "run": {"since": None, "cursor": "not-a-cursor",
                                                                    "max_seen": None}})
    finally:
        await conn.aclose()
    assert {p["id"] for p in sandbox.records("app") if p.get("id")} <= _ids(pages)
    assert cursor["run"] is None and cursor["hwm"]


async def test_backfill_cursor_rereads_from_since(sandbox):
    from datetime import timedelta

    from connectors.registry import backfill_cursor

    conn = make_connector("callcenter", config=sandbox_config(sandbox, "callcenter", page_size=50))
    app = make_connector("app", config=sandbox_config(sandbox, "app", page_size=50))
    try:
        since = sandbox.now() - timedelta(hours=12)
        pages, _ = await pull_all(conn, backfill_cursor("callcenter", since))
        recent = {p["order_no"] for p in sandbox.records("callcenter")
                  if p.get("order_no") and p.get("updated", "") >= since.strftime("%Y-%m-%d %H:%M:%S")}
        assert recent and recent <= _ids(pages)
        everything, _ = await pull_all(conn, None)
        assert len(_ids(pages)) < len(_ids(everything)), "a backfill from `since` reads less than everything"
        app_pages, _ = await pull_all(app, backfill_cursor("app", since))
        assert all(r.payload["updated_at"] >= since.isoformat()[:16] for r in records_of(app_pages)
                   if isinstance(r.payload.get("updated_at"), str))
    finally:
        await conn.aclose()
        await app.aclose()
