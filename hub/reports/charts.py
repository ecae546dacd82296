"""Report charts as PNG (matplotlib, Agg backend) with a CJK font so Chinese labels render.

The font comes from the system (Debian `fonts-noto-cjk`); without one, Chinese
would print as empty boxes, so `cjk_font()` fails with a clear ConfigError
instead of producing an unreadable chart.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to files only

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from core.errors import ConfigError  # noqa: E402
from hub import labels as L
from hub.teams import team_name  # noqa: E402

#: families tried in order; the first installed one wins
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "Source Han Sans SC",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN")
COLORS = {"good": "#1a7f37", "warn": "#d4a72c", "bad": "#b42318", "bar": "#0b5cad", "muted": "#8c959f"}


@functools.cache
def cjk_font() -> str:
    """Name of an installed font family that covers Chinese; ConfigError when there is none."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in installed:
            return fam
    # fonts installed after matplotlib built its cache: look on disk once more
    for path in font_manager.findSystemFonts():
        if "CJK" in Path(path).name or "wqy" in path.lower():
            font_manager.fontManager.addfont(path)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in installed:
            return fam
    raise ConfigError("no CJK font found for report charts: Chinese would render as empty boxes",
                      hint="install one: apt-get install fonts-noto-cjk")


def _style() -> None:
    plt.rcParams.update({"font.family": "sans-serif", "font.sans-serif": [cjk_font(), "DejaVu Sans"],
                         "axes.unicode_minus": False, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.titlesize": 13, "axes.titleweight": "bold", "font.size": 10})


def _barh(ax: Any, data: dict[str, int], title: str, color: str = COLORS["bar"],
          highlight: set[str] | None = None) -> None:
    items = list(data.items())[:10][::-1]
    ax.set_title(title, loc="left")
    if not items:
        ax.text(0.5, 0.5, "本期无数据", ha="center", va="center", transform=ax.transAxes, color=COLORS["muted"])
        ax.set_axis_off()
        return
    names = [k for k, _ in items]
    vals = [v for _, v in items]
    cols = [COLORS["bad"] if highlight and k in highlight else color for k in names]
    bars = ax.barh(names, vals, color=cols)
    ax.bar_label(bars, padding=3, fontsize=9)
    ax.set_xlim(0, max(vals) * 1.2 + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="y", labelsize=9)


def _kpis(ax: Any, kpi: dict[str, Any]) -> None:
    # (label, key, target, higher is better)
    rows = [("首次响应及时率", "first_response_rate", 0.95, True), ("办结按时率", "resolution_sla_rate", 0.90, True),
            ("满意率", "satisfaction_rate", 0.85, True), ("重复投诉率", "repeat_rate", 0.10, False)]
    ax.set_title("核心指标（虚线为目标）", loc="left")
    names, vals, cols, texts = [], [], [], []
    for name, key, target, up in rows[::-1]:
        rate = kpi[key]["rate"]
        names.append(name)
        vals.append((rate or 0) * 100)
        ok = rate is not None and (rate >= target if up else rate <= target)
        cols.append(COLORS["muted"] if rate is None else COLORS["good"] if ok else COLORS["bad"])
        texts.append("无数据" if rate is None else f"{rate * 100:.1f}%（{kpi[key]['good']}/{kpi[key]['total']}）")
    bars = ax.barh(names, vals, color=cols)
    ax.bar_label(bars, labels=texts, padding=3, fontsize=9)
    for i, (_, _, target, _) in enumerate(rows[::-1]):
        ax.plot([target * 100] * 2, [i - 0.4, i + 0.4], ls="--", color="#1f2328", lw=1)
    ax.set_xlim(0, 135)
    ax.set_xlabel("%")


def _trend(ax: Any, trend: list[dict[str, Any]], previous: list[dict[str, Any]], hourly: bool) -> None:
    ax.set_title("每小时受理量（灰线：上期）" if hourly else "每日受理量（灰线：上期）", loc="left")
    xs = [b["bucket"] for b in trend]
    ax.bar(range(len(xs)), [b["count"] for b in trend], color=COLORS["bar"], label="本期")
    if previous and len(previous) == len(trend):
        ax.plot(range(len(xs)), [b["count"] for b in previous], color=COLORS["muted"], marker=".", label="上期")
    step = 3 if hourly else 1
    ax.set_xticks(range(0, len(xs), step), [xs[i] for i in range(0, len(xs), step)], fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def dashboard(tables: dict[str, Any], title: str, path: Path, *, hourly: bool) -> Path:
    """One picture of the period: volumes, KPIs, trend, keywords (rising ones in red)."""
    _style()
    fig, axes = plt.subplots(2, 3, figsize=(16, 9), dpi=100)
    try:
        tot = tables["totals"]
        change = "" if tot["change"] is None else f"，较上期{tot['change'] * 100:+.0f}%"
        fig.suptitle(f"{title}    受理 {tot['received']} 件（上期 {tot['previous']}{change}）· 办结 {tot['resolved']} 件 · "
                     f"超时未结 {len(tables['overdue'])} 件 · 群体事件 {len(tables['incidents'])} 起",
                     fontsize=16, fontweight="bold", x=0.01, ha="left")
        _barh(axes[0][0], {L.source_label(k): v for k, v in tables["by_source"].items()}, "按来源")
        _barh(axes[0][1], {L.label(L.CATEGORY, k).replace("unclassified", "未分类"): v
                           for k, v in tables["by_category"].items()}, "按类别")
        _barh(axes[0][2], {team_name(k) if k != "unrouted" else "未分派": v for k, v in tables["by_team"].items()},
              "按处理团队")
        _kpis(axes[1][0], tables["kpi"])
        _trend(axes[1][1], tables["trend"], tables.get("trend_previous", []), hourly)
        rising = {r["keyword"] for r in tables["rising"]}
        _barh(axes[1][2], {k["keyword"]: k["count"] for k in tables["keywords"]},
              "热点关键词（红色：较上期上升）", highlight=rising)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
