"""Daily and weekly complaint reports: tables, a PNG dashboard, Markdown and HTML files.

`build_report(store, "daily")` covers the previous local (Asia/Shanghai) day;
`"weekly"` the seven days before. The Prefect flow `flows.ops.daily_report`
wraps it and publishes the Markdown as an artifact.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from core.schema import SHANGHAI, to_local, to_utc, utcnow
from core.settings import get_settings
from hub.reports import charts, render
from hub.reports.metrics import Window, compute
from hub.store.db import Store

Period = Literal["daily", "weekly"]
SPAN: dict[str, timedelta] = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
TITLE = {"daily": "投诉日报", "weekly": "投诉周报"}


@dataclass
class ReportResult:
    """Where the report went and the numbers in it (`tables`: plain dicts and lists)."""

    period: str
    start: datetime
    end: datetime
    title: str
    markdown_path: Path
    html_path: Path
    images: list[Path]
    tables: dict[str, Any] = field(default_factory=dict)

    @property
    def image_paths(self) -> list[Path]:
        return self.images

    def inline_markdown(self) -> str:
        """The Markdown with its PNGs embedded as data URIs (for a Prefect artifact, which
        cannot load files that sit beside the report)."""
        text = self.markdown_path.read_text(encoding="utf-8")
        for img in self.images:
            data = base64.b64encode(img.read_bytes()).decode()
            text = text.replace(f"]({img.name})", f"](data:image/png;base64,{data})")
        return text


def period_window(period: Period, end: datetime | None = None) -> Window:
    """[end - span, end); `end` defaults to the most recent local midnight (a full day or week)."""
    if period not in SPAN:
        raise ValueError(f"period must be daily or weekly, not {period!r}")
    if end is None:
        local = to_local(utcnow())
        end = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(SHANGHAI)
    end = to_utc(end)
    return Window(end - SPAN[period], end)


def build_report(store: Store, period: Period = "daily", end: datetime | None = None,
                 out_dir: Path | None = None) -> ReportResult:
    """Compute the report for the period ending at `end` and write PNG, Markdown and HTML to `out_dir`."""
    w = period_window(period, end)
    charts.cjk_font()  # fail before any work when Chinese cannot be drawn
    with store.begin() as conn:
        tables = compute(conn, w, hourly_trend=period == "daily")
    last_day = to_local(w.end - timedelta(seconds=1))
    stamp = last_day.strftime("%Y%m%d")
    if period == "daily":
        title = f"{TITLE[period]} {last_day:%Y-%m-%d}"
    else:
        title = f"{TITLE[period]} {to_local(w.start):%Y-%m-%d} 至 {last_day:%Y-%m-%d}"
    out = Path(out_dir) if out_dir else get_settings().home / "reports"
    out.mkdir(parents=True, exist_ok=True)
    base = f"report-{period}-{stamp}"
    png = charts.dashboard(tables, title, out / f"{base}.png", hourly=period == "daily")
    md_path, html_path = out / f"{base}.md", out / f"{base}.html"
    md_path.write_text(render.markdown(tables, title, [png]), encoding="utf-8")
    html_path.write_text(render.html(tables, title, [png]), encoding="utf-8")
    return ReportResult(period=period, start=w.start, end=w.end, title=title, markdown_path=md_path,
                        html_path=html_path, images=[png], tables=tables)


__all__ = ["ReportResult", "build_report", "period_window"]
