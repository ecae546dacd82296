"""Chinese labels for hub vocabulary, shared by the console and the reports.

Source names are not listed here: each connector declares its own `label`
(`connectors.registry.labels()`), so a new source brings its name with it.
"""

from __future__ import annotations

from connectors.registry import labels as _source_labels

STATUS = {"new": "新建", "assigned": "已分派", "in_progress": "处理中", "waiting_customer": "待客户回复",
          "resolved": "已解决", "closed": "已关闭", "reopened": "重新打开"}
URGENCY = {"urgent": "紧急", "general": "一般", "consultation": "咨询建议"}
CATEGORY = {"product": "产品", "service": "服务", "info_security": "信息安全"}
ESCALATION = {"regulator": "监管部门", "media": "媒体", "lawsuit": "诉讼", "police": "公安"}
RISK = {"low": "低", "medium": "中", "high": "高", "critical": "严重"}
DEADLINE = {"breach": "已超时", "warning": "即将到期", "ok": "正常", "none": "无时限", "done": "已办结"}
CLOCK_KIND = {"first_response": "首次响应", "resolution": "办结", "revisit": "回访"}
CLOCK_STATE = {"running": "计时中", "paused": "已暂停", "met": "已达标", "breached": "已超时"}
ROLE = {"handler": "处理人", "lead": "组长", "compliance": "合规", "admin": "管理员"}
EXPLANATION = {"category": "分类", "sub_category": "子类", "urgency": "紧急程度", "risk": "风险",
               "route": "分派", "team": "分派团队", "handler": "处理人", "sla": "时限", "repeat": "重复投诉",
               "escalation": "升级意图", "incident": "群体事件", "duplicate": "重复/关联",
               "business_line": "业务条线", "review": "待复核", "vulnerable": "弱势客户", "kind": "类型"}
EVENT = {"created": "创建", "updated": "来源更新", "routed": "分派", "status_changed": "状态变更",
         "reminded": "催办", "pushed": "已回传来源", "reopened": "重新打开", "escalation_threat": "客户威胁升级投诉", "linked": "关联案件",
         "note": "备注", "note_added": "备注", "accepted": "受理", "replied": "回复客户", "transferred": "转办",
         "extension_requested": "申请延期", "extension_approved": "延期已批准",
         "extension_rejected": "延期未批准", "extension_denied": "延期未批准", "push_queued": "待回传来源", "pii_revealed": "查看明文个人信息", "escalated": "升级",
         "resolved": "已解决", "classified": "研判", "reclassified": "人工改判"}


def label(table: dict[str, str], value: object) -> str:
    """The Chinese label, or the value itself when there is none (never empty for a value)."""
    if value is None or value == "":
        return "-"
    key = getattr(value, "value", value)
    return table.get(str(key), str(key))


def source_labels() -> dict[str, str]:
    """Source key → its name for people, as each connector declares it."""
    return _source_labels()


def source_label(key: object) -> str:
    """One source's name for people (the key itself for a source no connector declares)."""
    return label(source_labels(), key)
