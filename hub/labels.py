"""Chinese labels for hub vocabulary, shared by the console and the reports.

Source names are not listed here: each connector declares its own `label`
(`connectors.registry.labels()`), so a new source brings its name with it.
"""

from __future__ import annotations

import re

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
               "business_line": "业务条线", "review": "待复核", "vulnerable": "弱势客户", "kind": "类型",
               "priority": "优先级", "clock.first_response": "首次响应时限", "clock.resolution": "办结时限",
               "clock.revisit": "回访时限", "case": "关联案件", "survey": "满意度回访"}
EVENT = {"created": "创建", "updated": "来源更新", "routed": "分派", "status_changed": "状态变更",
         "reminded": "催办", "sms_undelivered": "短信未送达", "pushed": "已回传来源", "reopened": "重新打开", "escalation_threat": "客户威胁升级投诉", "linked": "关联案件",
         "note": "备注", "note_added": "备注", "accepted": "受理", "replied": "回复客户", "transferred": "转办",
         "extension_requested": "申请延期", "extension_approved": "延期已批准",
         "extension_rejected": "延期未批准", "extension_denied": "延期未批准", "push_queued": "待回传来源", "pii_revealed": "查看明文个人信息", "escalated": "升级",
         "resolved": "已解决", "classified": "研判", "reclassified": "人工改判",
         "clock_breached": "时限已超时", "incident_joined": "并入群体事件", "incident_linked": "关联群体事件",
         "survey_sent": "已发送满意度回访", "survey_answered": "客户已回复回访", "survey_skipped": "未发送回访",
         "survey_unclear": "回访回复无法识别", "push_failed": "回传来源失败", "closed": "已关闭",
         "compensated": "已补偿", "compensation_requested": "补偿待审批",
         "compensation_denied": "补偿未批准", "incident_notice": "群体事件统一答复"}
#: chase levels of config/chase.yaml (warn_N and escalate_N are numbered)
REMINDER_LEVEL = {"warn": "预警", "breach": "已超时", "escalate": "升级"}
#: SLA policy ids of config/sla.yaml → what a person reads
POLICY = {"urgent": "紧急件时限", "general": "一般件时限", "consultation": "咨询建议时限",
          "gov12315": "12315平台时限", "telecom": "电信用户申诉时限", "banking": "银行保险投诉时限",
          "banking_complex": "复杂事项时限", "banking_extension": "监管延期"}
#: time modes of a clock (hub.sla.calendar)
TIME_MODE = {"calendar": "自然日", "working_days": "工作日（节假日、调休按国家安排）",
             "business_hours": "工作时间（工作日营业时段）"}
#: values that several explanations use
FLAG = {"true": "是", "false": "否", "none": "无", "needs_review": "待人工复核", "-": "-", "round_robin": "轮流分派",
        "least_loaded": "负载最低", "customer": "同一客户",
        "complaint": "投诉", "survey_reply": "回访回复", "inquiry": "咨询", "0": "普通", "1": "优先"}
#: who acted, for the timeline (the part before ":"; the rest is the name)
ACTOR = {"hub": "系统", "system": "系统", "customer": "客户", "source": "来源系统", "handler": "处理人",
         "user": "", "team": "团队", "operator": "运维", "lead": "组长"}
ACTOR_SUB = {"chase": "催办", "enrich": "研判分派", "sync": "同步", "push": "回传", "throttle": "登录保护"}

#: English explanation texts written by earlier versions (stored on tickets) → Chinese, in order
_REASONS: list[tuple[str, str]] = [
    (r"keyword weight ([\d.]+)", r"关键词权重 \1"),
    (r"no threat to escalate", "无升级意图"),
    (r"earliest ticket of the case \(primary\)", "案件中最早的工单（主单）"),
    (r"already in the case", "已在案件中"),
    (r"same customer \(([^)]*)\)", r"同一客户（\1）"),
    (r"similar matter", "诉求相似"),
    (r"cross-channel", "跨渠道"),
    (r"repeat on the same channel", "同渠道重复投诉"),
    (r"mass fault '([^']*)'", r"群体故障「\1」"),
    (r"\(routing override\)", "（分派规则指定）"),
    (r"stricter than", "严于"),
    (r"pushed out by ([\d.]+) h \((\w+)\) paused waiting on the customer",
     r"等待客户期间暂停，顺延 \1 小时（\2）"),
    (r"extended by ([\d.]+) days \(([^)]*)\)", r"延期 \1 天（\2）"),
    (r"; was ", "；原到期 "),
    (r"CAUTION: no holiday data for ([\d, ]+) — counted Mon–Fri, so this deadline may be earlier than the legal one "
     r"\(add the year to config/calendar.yaml\)", r"注意：缺少 \1 年节假日数据，按周一至周五计算，时限可能早于法定时限"),
    (r"sticky \(首接责任\): same case as (\S+), its first handler", r"首接责任：与 \1 同一案件，由首接处理人处理"),
    (r"sticky \(首接责任\): same customer as (\S+), its first handler", r"首接责任：与 \1 同一客户，由首接处理人处理"),
    (r"team (\S+) has no handlers: left in the team queue", r"团队 \1 无处理人：留在团队队列"),
    (r"nobody on duty: queued for the next shift", "无人当班：排入下一班次"),
    (r"(\d+) on duty", r"\1 人当班"),
    (r"senior handlers \(repeats (\d+) ≥ (\d+)\)", r"资深处理人（重复投诉 \1 次 ≥ \2）"),
    (r"senior handlers \(critical risk\)", "资深处理人（风险严重）"),
    (r"skill (\S+)", r"技能 \1"),
    (r"round_robin #(\d+)", r"轮流分派 第\1位"),
    (r"least_loaded (\d+)/(\d+) open", r"负载最低（在办 \1/\2）"),
    (r"routed once", "已分派过"),
    (r"reopened: ", "重新打开："),
    (r"\brule\b:? ?", "分派规则 "),
    (r"\burgent\b", "紧急"),
    (r"\bdefault\b", "默认"),
    (r"\bcase\b", "案件"),
    (r"\bcustomer\b", "客户"),
    (r"\bphone\b", "电话"),
    (r"\bid\b", "证件"),
]
_REASON_RE = [(re.compile(p), r) for p, r in _REASONS]
_SPEC_RE = re.compile(r"([\d.]+) (working days|business hours|hours|days)")
_SPEC_ZH = {"working days": "个工作日", "business hours": "个工作小时", "hours": "小时", "days": "天"}
_POLICY_RE = re.compile(r"\bpolicy ([\w-]+): ")
_POLICY_ID_RE = re.compile(r"(?<![\w-])(" + "|".join(sorted(POLICY, key=len, reverse=True)) + r")(?![\w-])")
_FROM_RE = re.compile(r" from (\d{4}-\d{2}-\d{2} \d{2}:\d{2})")


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


def policy_label(pid: object) -> str:
    """An SLA policy's name for people (`gov12315` → 12315平台时限); unknown ids read 时限策略 <id>."""
    key = str(getattr(pid, "value", pid) or "")
    if not key:
        return "-"
    return POLICY.get(key) or f"时限策略 {key}"


def duration_zh(text: str) -> str:
    """`5 working days` → `5个工作日` (sla ClockSpec.describe's words in Chinese)."""
    return _SPEC_RE.sub(lambda m: f"{m.group(1)}{_SPEC_ZH[m.group(2)]}", text)


def explain_reason(text: object) -> str:
    """An explanation's reason in Chinese: texts stored by earlier versions are translated here."""
    out = str(text or "")
    if not out:
        return "-"
    out = _POLICY_RE.sub(lambda m: f"{policy_label(m.group(1))}：", out)
    out = _FROM_RE.sub(lambda m: f"，自 {m.group(1)} 起算", out)
    out = duration_zh(out)
    for rx, repl in _REASON_RE:
        out = rx.sub(repl, out)
    out = _POLICY_ID_RE.sub(lambda m: POLICY[m.group(1)], out)
    return out.replace("; ", "；")


def actor_label(actor: object) -> str:
    """Who acted, for people: `hub:chase` → 系统（催办）, `handler:zhang` → 处理人 zhang, `customer` → 客户."""
    text = str(actor or "")
    if not text:
        return "-"
    head, _, rest = text.partition(":")
    if head not in ACTOR:
        return text
    if head == "source":
        return f"来源系统（{source_label(rest)}）" if rest else ACTOR[head]
    if head in ("hub", "system"):
        return f"系统（{ACTOR_SUB.get(rest, '自动处理')}）" if rest else ACTOR[head]
    return f"{ACTOR[head]} {rest}".strip() if rest else ACTOR[head]


def reminder_level(level: object) -> str:
    """A chase level for people: `warn_1` → 预警1, `breach` → 已超时, `escalate_2` → 升级2."""
    text = str(level or "")
    head, _, n = text.rpartition("_") if text[-1:].isdigit() else (text, "", "")
    return f"{REMINDER_LEVEL.get(head, head)}{n}" if head else "-"


#: form fields named in an error, for people
FIELD = {"reply": "最终答复客户", "handler": "处理人", "to_team": "转办团队", "reason": "原因", "note": "说明",
         "days": "延期天数", "text": "回复内容", "business_line": "业务条线", "sub_category": "子类",
         "category": "投诉原因", "urgency": "紧急程度", "amount": "金额", "template": "话术模板",
         "q": "搜索内容", "status": "状态", "source": "来源", "line": "业务条线", "due": "时限",
         "from": "受理日期从", "to": "受理日期至"}
_ERRORS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in [
    (r"is already (\w+)$", "工单已是「{0}」"),
    (r": (\w+) → (\w+) is not allowed", "不能从「{0}」变为「{1}」"),
    (r"is (\w+): reopen it before replying", "工单{0}，需先重新打开才能回复"),
    (r"is (\w+): cannot transfer", "工单{0}，无法转办"),
    (r"is (\w+): nothing to extend", "工单{0}，无可延期的时限"),
    (r"is already with", "工单已在该团队"),
    (r"the ticket is already with this team", "工单已在该团队"),
    (r"an extension is at least one day", "延期至少一天"),
    (r"has no pending extension request", "没有待审批的延期申请"),
    (r"the correction changes nothing", "改判内容与当前研判相同"),
    (r"cannot be decided by the one who requested it", "延期申请不能由申请人本人审批"),
    (r"is not a handler of team", "所选处理人不属于本团队"),
    (r"unknown team", "未知的团队"),
    (r"shows this (\w+) to the customer", "来源系统会把「{0}」展示给客户，请填写最终答复客户"),
    (r"a new reason needs its sub-category", "更改投诉原因时须选择子类"),
    (r"not a (business line|sub-category)", "所选值不在当前行业配置中"),
    (r"cannot be approved by the one who requested it", "补偿申请不能由申请人本人审批"),
    (r"has no pending compensation request", "没有待审批的补偿申请"),
    (r"has a compensation request awaiting approval", "已有补偿申请待组长审批"),
    (r"is (\w+): cannot compensate", "工单{0}，无法补偿"),
    (r"an amount is more than 0", "金额须大于 0 且不超过上限"),
]]


def action_error(status: int, message: str, field: str | None = None) -> str:
    """An action's refusal in Chinese (the hub's English message is matched, never shown as is)."""
    for rx, text in _ERRORS:
        m = rx.search(message or "")
        if m:
            return text.format(*(label(STATUS, g) for g in m.groups()))
    if field:
        return f"「{FIELD.get(field, field)}」填写有误，请检查后重试"
    return {403: "您的角色无权执行此操作", 404: "没有找到该工单", 409: "当前状态下无法执行此操作",
            503: "来源系统暂时无法连接，请稍后重试"}.get(status, "操作失败，请检查后重试")
