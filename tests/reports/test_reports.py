"""Daily and weekly reports built from seeded tickets: the numbers, the files, the Chinese chart."""

from __future__ import annotations

import shutil
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.schema import SHANGHAI, ClockState, Status, Urgency
from hub.reports import build_report, period_window
from hub.store.tables import incidents, surveys
from tests.api.seed import PHONE, make_ticket, seed

END = datetime(2026, 11, 20, 0, 0, tzinfo=SHANGHAI)  # daily window: 11-19 00:00 – 11-20 00:00 (local)
DAY = END - timedelta(hours=12)  # noon of the reported day
PREV = DAY - timedelta(days=1)


def _seed(store) -> dict[str, str]:  # noqa: ANN001
    met = dict(first_state=ClockState.MET, stopped_at=DAY - timedelta(hours=2), status=Status.RESOLVED)
    cur = [
        # three card thefts today (none yesterday): a rising topic
        make_ticket("R-1", team="security", title="信用卡被盗刷", source="gov12315", now=DAY,
                    received_at=DAY - timedelta(hours=3), category="info_security", urgency=Urgency.URGENT, **met),
        make_ticket("R-2", team="security", title="账户被盗刷五千元", source="app", now=DAY,
                    received_at=DAY - timedelta(hours=3), category="info_security", **met),
        make_ticket("R-3", team="security", title="又被盗刷了", source="app", now=DAY, repeat_count=1,
                    received_at=DAY - timedelta(hours=2), category="info_security",
                    first_state=ClockState.BREACHED, due_in=timedelta(hours=-1)),
        make_ticket("R-4", team="cards", title="年费乱收费", source="blackcat", now=DAY,
                    received_at=DAY - timedelta(hours=5), **met),
        make_ticket("R-5", team="cards", title="<script>x</script>年费", source="callcenter", now=DAY,
                    received_at=DAY - timedelta(hours=4), due_in=timedelta(hours=-2), repeat_count=2),
        make_ticket("R-6", team="service", title="客服态度差", source="sms", now=DAY, category="service",
                    received_at=DAY - timedelta(hours=1), due_in=timedelta(days=3)),
    ]
    prev = [make_ticket(f"R-P{i}", team="cards", title="年费乱收费", source="app", now=PREV,
                        received_at=PREV, due_in=timedelta(days=30)) for i in range(2)]
    ids = seed(store, cur + prev)
    with store.begin() as conn:
        conn.execute(surveys.insert(), [
            {"ticket_id": ids[i], "phone_hash": f"h{i}", "sent_at": DAY - timedelta(hours=1), "state": "answered",
             "answer": ans, "answered_at": DAY} for i, ans in
            ((0, "satisfied"), (1, "satisfied"), (3, "satisfied"), (2, "dissatisfied"))])
        conn.execute(incidents.insert().values(
            incident_id="INC-1", signature="app:login", title="手机银行无法登录", first_at=DAY - timedelta(hours=2),
            last_at=DAY, ticket_count=37, team="digital", state="open", data={}))
    return dict(zip(["r1", "r2", "r3", "r4", "r5", "r6"], ids, strict=False))


def test_daily_report_numbers_files_and_chart(store, tmp_path: Path, artifacts_dir: Path) -> None:  # noqa: ANN001
    ids = _seed(store)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = build_report(store, "daily", end=END, out_dir=tmp_path)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing  # every Chinese glyph had a font: no tofu boxes
    t = res.tables
    assert res.start == period_window("daily", END).start and t["totals"]["received"] == 6
    assert t["totals"]["previous"] == 2
    assert t["by_source"] == {"app": 2, "gov12315": 1, "blackcat": 1, "callcenter": 1, "sms": 1}
    assert t["by_team"] == {"security": 3, "cards": 2, "service": 1}
    assert t["by_category"]["info_security"] == 3
    k = t["kpi"]
    # first response decided today: met; R-3 breached; R-5 running past due → 3/5
    assert (k["first_response_rate"]["good"], k["first_response_rate"]["total"]) == (3, 5)
    assert k["satisfaction_rate"]["rate"] == 0.75
    assert (k["repeat_rate"]["good"], k["repeat_rate"]["total"]) == (2, 6)
    overdue = {o["ticket_id"] for o in t["overdue"]}
    assert {ids["r3"], ids["r5"]} <= overdue and ids["r6"] not in overdue
    assert all(PHONE not in str(o) for o in t["overdue"])
    rising = [r["keyword"] for r in t["rising"]]
    assert any("盗刷" in kw for kw in rising), rising  # 0 yesterday → 3 today
    assert not any("年费" in kw for kw in rising), rising  # 2 yesterday → 2 today: flat, not rising
    assert t["incidents"][0]["ticket_count"] == 37
    assert len(t["trend"]) == 24 and sum(b["count"] for b in t["trend"]) == 6

    md = res.markdown_path.read_text(encoding="utf-8")
    assert "投诉日报 2026-11-19" in md and "![" in md and res.images[0].name in md
    assert "首次响应及时率 | 60.0%（3/5）" in md and "满意率 | 75.0%（3/4）" in md
    html = res.html_path.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in html and "<script>" not in html  # complaint text escaped
    png = res.images[0]
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    shutil.copy(png, artifacts_dir / "report-daily.png")
    inline = res.inline_markdown()
    assert "](data:image/png;base64,iVBORw0KGgo" in inline and f"]({png.name})" not in inline


def test_weekly_report(sqlite_store, tmp_path: Path, artifacts_dir: Path) -> None:  # noqa: ANN001
    _seed(sqlite_store)
    res = build_report(sqlite_store, "weekly", end=END, out_dir=tmp_path)
    assert res.end - res.start == timedelta(days=7)
    assert res.tables["totals"]["received"] == 8 and len(res.tables["trend"]) == 7
    assert [b["count"] for b in res.tables["trend"]][-2:] == [2, 6]
    assert "投诉周报" in res.markdown_path.read_text(encoding="utf-8")
    shutil.copy(res.images[0], artifacts_dir / "report-weekly.png")


def test_bad_period_is_refused(sqlite_store) -> None:  # noqa: ANN001
    with pytest.raises(ValueError):
        build_report(sqlite_store, "monthly")  # type: ignore[arg-type]
