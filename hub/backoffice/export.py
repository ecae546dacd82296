"""Excel (xlsx, openpyxl) exports of a filtered queue and of the report tables, PII masked unless revealed.

Every text cell is written as a string (never a formula), so a complaint that starts with `=`
cannot run in the reader's spreadsheet. The queue rows are the masked `QueueItem`s; a role that
may reveal personal data (lead, compliance) can ask for the customers' name, phone and ID number
in clear (`revealed_columns`), and then every ticket in the file gets its `pii_revealed` event.
The report tables hold no personal data. Who exported what is written to the audit log by the caller.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection

from core.schema import to_local
from hub import labels
from hub.backoffice.auth import Principal
from hub.backoffice.queries import QueueItem, audit_reveal
from hub.store.tickets import get_ticket
from hub.teams import handler_name, team_name

Sheet = tuple[str, list[str], list[list[Any]]]
QUEUE_HEADER = ["时限", "到期时间", "工单号", "来源", "来源单号", "标题", "紧急程度", "风险", "状态", "团队", "处理人",
                "客户", "受理时间"]


def _cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return to_local(v).strftime("%Y-%m-%d %H:%M")
    if v is None:
        return ""
    return v if isinstance(v, int | float) else str(v)


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with one sheet per (name, header, rows); text cells are strings, never formulas."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, header, rows in sheets:
        ws = wb.create_sheet(title=name[:31])
        ws.append(header)
        for c in ws[1]:
            c.font = Font(bold=True)
        for row in rows:
            ws.append([_cell(v) for v in row])
        for r in ws.iter_rows(min_row=2):
            for c in r:
                if isinstance(c.value, str):
                    c.data_type = "s"  # "=cmd|..." stays text
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


REVEALED_HEADER = ["客户姓名（明文）", "手机号（明文）", "证件号（明文）"]


def reveal_queue(conn: Connection, principal: Principal, items: Sequence[QueueItem]) -> dict[str, list[str]]:
    """Per ticket id of `items`: the customer's name, phone and ID number in clear (empty where unknown).

    Each ticket read this way gets its `pii_revealed` event (channel `xlsx`), as a reveal on
    screen does; the caller has checked that the principal may reveal.
    """
    out: dict[str, list[str]] = {}
    for item in items:
        t = get_ticket(conn, item.ticket_id)
        if t is None:
            continue
        c = t.customer.model_dump(mode="json", context={"reveal_pii": True}, include={"name", "phone", "id_number"})
        out[t.ticket_id] = [str(c.get(k) or "") for k in ("name", "phone", "id_number")]
        audit_reveal(conn, principal, t.ticket_id, channel="xlsx",
                     fields=["customer.name", "customer.phone", "customer.id_number"])
    return out


def queue_sheet(items: Sequence[QueueItem], revealed: dict[str, list[str]] | None = None) -> Sheet:
    """The queue as one sheet, in Chinese, PII masked; with `revealed`, clear customer columns appended."""
    if revealed is not None:
        name, header, rows = queue_sheet(items)
        return (name, header + REVEALED_HEADER,
                [row + revealed.get(i.ticket_id, ["", "", ""]) for row, i in zip(rows, items, strict=True)])
    rows = [[labels.label(labels.DEADLINE, i.deadline_state), i.next_due_at, i.ticket_id, labels.source_label(i.source),
             i.external_id, i.title, labels.label(labels.URGENCY, i.urgency), labels.label(labels.RISK, i.risk_level),
             labels.label(labels.STATUS, i.status), team_name(i.team), handler_name(i.team, i.handler),
             i.customer_name or "", i.received_at] for i in items]
    return ("工单队列", QUEUE_HEADER, rows)


def report_sheets(tables: dict[str, Any]) -> list[Sheet]:
    """The report's tables as sheets: totals and KPIs, counts by source/category/team/urgency, overdue, compensation."""
    k, tot = tables["kpi"], tables["totals"]

    def pct(r: dict[str, Any]) -> str:
        return "-" if r.get("rate") is None else f"{r['rate'] * 100:.1f}%"

    summary = [["受理", tot["received"]], ["上期受理", tot["previous"]], ["办结", tot["resolved"]],
               ["当前未结", tot["open_now"]], ["首次响应及时率", pct(k["first_response_rate"])],
               ["办结按时率", pct(k["resolution_sla_rate"])], ["满意率", pct(k["satisfaction_rate"])],
               ["重复投诉率", pct(k["repeat_rate"])]]
    comp = tables.get("compensation") or {}
    summary += [["补偿笔数", comp.get("count", 0)], ["补偿合计（元）", comp.get("total", "0")],
                ["超权限经审批", comp.get("approved_above_limit", 0)]]
    counts = [[labels.source_label(s), n] for s, n in tables["by_source"].items()]
    counts += [[labels.label(labels.CATEGORY, c) if c != "unclassified" else "未分类", n]
               for c, n in tables["by_category"].items()]
    counts += [[team_name(t) if t != "unrouted" else "未分派", n] for t, n in tables["by_team"].items()]
    overdue = [[o["ticket_id"], labels.source_label(o["source"]), team_name(o["team"]), o["handler"] or "",
                labels.label(labels.STATUS, o["status"]), o["due_at"], o["overdue_hours"], o["title"]]
               for o in tables["overdue"]]
    return [("核心指标", ["指标", "本期"], summary), ("分类统计", ["项目", "件数"], counts),
            ("超时未结", ["工单", "来源", "团队", "处理人", "状态", "到期", "超时(小时)", "标题"], overdue)]
