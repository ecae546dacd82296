"""A 12315 supplement (【补充】) to an older complaint lands, with runs stopped half-way in between.

Why they were missed (issue 20): the 12315 list shows a case's registration time and
status, and a supplement changes neither; the incremental pull re-reads a row only when
its list version (the status) changes, so the new text was never fetched - with or
without kills. Now every complete run also re-reads a slice of the open cases
(`Gov12315Connector.REFRESH_EVERY`), and open cases stay listed for 15 days.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.gov12315 import Gov12315Connector
from connectors.portal.watermark import PortalCursor, Row, RunPlan
from tests.connectors.portal_support import portal_config, pull_all, runtime_for

OPEN = ("待处理", "处理中")
RUNS = 4  # complete runs within which every open case must have been re-read


def test_every_open_row_is_reread_within_refresh_every_runs_and_final_ones_never() -> None:
    rows = [Row(id=f"R{i:03d}", time="2026-11-20 10:00:00", version="待处理") for i in range(40)]
    done = Row(id="R999", time="2026-11-20 10:00:00", version="已办结")
    cursor = PortalCursor.at(None, {r.id: (r.time, r.version) for r in [*rows, done]}, complete=True)
    reread: set[str] = set()
    for _ in range(4):
        plan = RunPlan(cursor, overlap=timedelta(minutes=10), revisit=timedelta(days=15), refresh_every=4,
                       final=frozenset({"已办结"}))
        picked = {r.id for r in [*rows, done] if plan.wants(r)}
        assert 0 < len(picked) < len(rows)  # a slice per run, not everything every time
        assert done.id not in picked
        reread |= picked
        cursor = plan.final_cursor()
    assert reread == {r.id for r in rows}  # every open row within 4 complete runs
    # a run stopped half-way does not move the slice on: the next run re-reads the same rows
    plan = RunPlan(cursor, overlap=timedelta(minutes=10), revisit=timedelta(days=15), refresh_every=4)
    assert plan.page_cursor().runs == cursor.runs


def _supplement_open_cases(sb) -> dict[str, str]:  # noqa: ANN001
    """Add a 【补充】 to every open case at the source (the status stays); {reg_no: new content}."""
    out = {}
    with sb.state.lock:
        for rec in sb.state.listing("gov12315"):
            p = rec.payload
            if p.get("status") in OPEN and p.get("reg_no"):
                p["content"] += "【补充】问题仍未解决，请尽快处理。"
                sb.state.touch(rec)
                out[p["reg_no"]] = p["content"]
    return out


@pytest.mark.browser
async def test_supplements_to_old_cases_land_with_stopped_runs_in_between(sandbox_factory, browser,  # noqa: ANN001
                                                                          tmp_path) -> None:
    sb = sandbox_factory(malformed_rate=0.0, rate=0)
    sb.generate(30, source="gov12315")
    rt = runtime_for(browser, tmp_path)
    conn = Gov12315Connector(portal_config(sb, "gov12315"), runtime=rt)
    _, cursor, _ = await pull_all(conn)  # everything landed once
    sb.advance(minutes=24 * 60)  # a day later the cases are old, and complainants add to them
    want = _supplement_open_cases(sb)
    assert len(want) >= 10
    landed: dict[str, str] = {}
    for _ in range(RUNS):
        got, _, _ = await pull_all(conn, cursor, stop_after=1)  # a run killed after its first page
        landed.update({r.external_id: r.payload["content"] for r in got})
        got, cursor, _ = await pull_all(conn, cursor)  # then a complete rerun from the committed cursor
        landed.update({r.external_id: r.payload["content"] for r in got})
    missed = [k for k, v in want.items() if landed.get(k) != v]
    assert missed == [], f"{len(missed)} of {len(want)} supplements never landed: {missed[:5]}"
    assert Gov12315Connector.REFRESH_EVERY == RUNS
    await conn.aclose()
    await rt.aclose()
