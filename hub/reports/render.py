"""Report text: Markdown (for files and the Prefect artifact) and a standalone HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from core.schema import to_local
from hub import labels as L
from hub.judge.config import get_taxonomy
from hub.judge.words import line_zh
from hub.teams import team_name


def pct(r: dict[str, Any]) -> str:
    """A rate (`good`, `total`, `rate`) as `12.3%（good/total）`, or 无数据 when there is none."""
    return "无数据" if r["rate"] is None else f"{r['rate'] * 100:.1f}%（{r['good']}/{r['total']}）"


def _t(v: Any) -> str:
    return to_local(v).strftime("%Y-%m-%d %H:%M") if v else "-"


def _md_cell(v: Any) -> str:
    # a pipe or newline inside complaint text would break the table
    return str(v).replace("|", "｜").replace("\n", " ")


def _team(k: str | None) -> str:
    return "未分派" if k in (None, "unrouted") else team_name(k)


def markdown(tables: dict[str, Any], title: str, images: list[Path]) -> str:
    """The report as Markdown; images are linked by file name (they sit beside the file)."""
    k, tot = tables["kpi"], tables["totals"]
    change = "" if tot["change"] is None else f"，较上期 {tot['change'] * 100:+.1f}%"
    out = [f"# {title}", "",
           f"统计区间：{_t(tables['window']['start'])} 至 {_t(tables['window']['end'])}（北京时间）", "",
           f"本期受理投诉 **{tot['received']}** 件（上期 {tot['previous']} 件{change}），办结 {tot['resolved']} 件，"
           f"当前超时未结 **{len(tables['overdue'])}** 件。", ""]
    out += [f"![{title}]({p.name})" for p in images] + [""]
    out += ["## 核心指标", "", "| 指标 | 本期 |", "|---|---|",
            f"| 首次响应及时率 | {pct(k['first_response_rate'])} |", f"| 办结按时率（SLA内解决） | {pct(k['resolution_sla_rate'])} |",
            f"| 满意率 | {pct(k['satisfaction_rate'])} |", f"| 重复投诉率 | {pct(k['repeat_rate'])} |", ""]
    for name, key, table in (("来源", "by_source", L.source_labels()), ("类别", "by_category", L.CATEGORY),
                             ("团队", "by_team", None), ("紧急程度", "by_urgency", L.URGENCY)):
        out += [f"## 按{name}", "", f"| {name} | 件数 |", "|---|---|"]
        for kk, v in tables[key].items():
            lab = _team(kk) if table is None else ("未分类" if kk == "unclassified" else L.label(table, kk))
            out.append(f"| {_md_cell(lab)} | {v} |")
        out.append("")
    out += _line_reason_md(tables)
    sv = tables["survey"]
    out += ["## 回访评价", "", f"满意 {sv['satisfied']} 件，一般 {sv['neutral']} 件，不满意 {sv['dissatisfied']} 件"
            f"（满意率不计一般评价）；待人工复核研判 {tables['needs_review']} 件。", ""]
    out += ["## 超时未结清单", ""]
    if tables["overdue"]:
        out += ["| 工单 | 来源 | 团队 | 处理人 | 状态 | 到期 | 超时(小时) | 标题 |", "|---|---|---|---|---|---|---|---|"]
        out += [f"| {o['ticket_id']} | {L.source_label(o['source'])} | {_md_cell(_team(o['team']))} | "
                f"{o['handler'] or '-'} | {L.label(L.STATUS, o['status'])} | {_t(o['due_at'])} | "
                f"{o['overdue_hours']} | {_md_cell(o['title'])} |" for o in tables["overdue"]]
    else:
        out.append("无。")
    out += ["", "## 热点关键词与上升话题", "", "| 关键词 | 本期 | 上期 | 变化 |", "|---|---|---|---|"]
    out += [f"| {_md_cell(w['keyword'])} | {w['count']} | {w['previous']} | {w['delta']:+d} |"
            for w in tables["keywords"]]
    rising = "、".join(f"{r['keyword']}（{r['previous']}→{r['count']}）" for r in tables["rising"]) or "无"
    out += ["", f"上升话题：{rising}", "", "## 群体性事件", ""]
    if tables["incidents"]:
        out += ["| 事件 | 标题 | 关联工单 | 团队 | 状态 |", "|---|---|---|---|---|"]
        out += [f"| {i['incident_id']} | {_md_cell(i['title'])} | {i['ticket_count']} | {_md_cell(_team(i['team']))} |"
                f" {i['state']} |" for i in tables["incidents"]]
    else:
        out.append("无。")
    comp = tables.get("compensation") or {"count": 0, "total": "0", "approved_above_limit": 0}
    out += ["", "## 补偿发放", "", f"本期发放补偿 {comp['count']} 笔，合计 {comp['total']} 元"
            f"（其中超出处理人权限、经组长审批 {comp['approved_above_limit']} 笔）。"]
    return "\n".join(out) + "\n"


def line_label(key: str) -> str:
    """A business line's Chinese name in the profile in force (未分类 for none)."""
    return "未分类" if key == "unclassified" else line_zh(get_taxonomy(), key)


def _line_reason_md(tables: dict[str, Any]) -> list[str]:
    reasons = [c for c in L.CATEGORY] + ["unclassified"]
    out = ["## 业务条线 × 投诉原因", "", "| 业务条线 | " + " | ".join(
        "未分类" if r == "unclassified" else L.CATEGORY[r] for r in reasons) + " | 合计 |",
           "|---|" + "---|" * (len(reasons) + 1)]
    for line, cells in tables["by_line_reason"].items():
        out.append(f"| {_md_cell(line_label(line))} | " + " | ".join(str(cells.get(r, 0)) for r in reasons)
                   + f" | {sum(cells.values())} |")
    return out + [""]


def html(tables: dict[str, Any], title: str, images: list[Path]) -> str:
    """The report as one HTML page (autoescaped; images referenced beside it)."""
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
    env.filters["t"] = _t
    env.filters["pct"] = pct
    env.globals.update(L=L, label=L.label, team=_team, line_label=line_label)
    return env.get_template("report.html").render(tables=tables, title=title, images=[p.name for p in images])
