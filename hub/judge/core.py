"""Judge complaint texts: business line, reason (with sub-category), urgency, escalation, vulnerability, risk.

Rules and the trained model (`hub.judge.model`) work together. The rules read word-aware phrase
hits after normalisation (`hub.judge.matcher`); they are hard overrides where precision matters —
an un-negated theft, fraud, leak or identity-misuse phrase decides the reason, a real threat to
escalate or stolen/frozen money or danger to safety makes it urgent — and features of the model
everywhere. The model decides the rest and says how sure it is; low confidence, or rules and the
model disagreeing, marks the judgement for review (routed to triage, never to a guessed team).
`judge_batch` judges many texts at once (one matrix product per head); `judge_text` one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from core.logs import get_logger
from core.schema import Category, EscalationTarget, Explanation, MessageKind, RiskLevel, Ticket, Urgency
from hub.judge.config import Taxonomy
from hub.judge.escalation import Escalation, find_escalations, quoted_spans
from hub.judge.features import features, readable
from hub.judge.intents import Grade, detect_sms_intent, grade_reply
from hub.judge.matcher import Hit, Matcher, get_matcher, negated
from hub.judge.model import JudgeModel, get_model
from hub.judge.normalise import largest_amount
from hub.judge.risk import risk_level, risk_score
from hub.judge.words import CATEGORY_ZH, ESCALATION_ZH, URGENCY_ZH, line_zh, sub_zh

log = get_logger(__name__)


def _explain(value: str, reason: str, matched: list[str] | None = None, score: float | None = None) -> Explanation:
    """An explanation built from the judge's own values: pydantic's validation would take a third of the time."""
    return Explanation.model_construct(value=value, reason=reason, matched=matched if matched is not None else [],
                                       score=score)


FACT_WINDOW = 6
_AGE = re.compile(r"(\d{2,3})\s*(?:岁|周岁)")
_SECURITY_LIKE = {"info_security", "payments"}


@dataclass(slots=True)
class JudgeResult:
    """Everything the judgement decided, with the explanations behind it."""

    kind: MessageKind = MessageKind.COMPLAINT
    business_line: str | None = None
    category: Category | None = None
    sub_category: str | None = None
    tags: list[str] = field(default_factory=list)
    urgency: Urgency = Urgency.GENERAL
    escalation_intent: list[EscalationTarget] = field(default_factory=list)
    vulnerable: bool = False
    risk_score: float = 0.0
    risk_level: RiskLevel = RiskLevel.LOW
    amount: Decimal | None = None  # given, or the largest found in the text
    severity: int = 1
    skill: str | None = None
    fault: str | None = None  # fault phrase: a candidate for a mass-fault incident
    satisfied: bool | None = None  # survey replies only
    survey: str | None = None  # survey replies only: satisfied / neutral / dissatisfied
    confidence: float = 1.0  # the model's confidence in the reason and business line (the lower)
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)
    model_version: str | None = None
    explanations: dict[str, Explanation] = field(default_factory=dict)

    @property
    def escalation(self) -> bool:
        """Whether the text threatens any escalation."""
        return bool(self.escalation_intent)

    def to_json(self) -> dict[str, Any]:
        """The shape `hub classify --json` prints."""
        doc: dict[str, Any] = {
            "kind": self.kind.value, "business_line": self.business_line,
            "category": self.category.value if self.category else None, "sub_category": self.sub_category,
            "urgency": self.urgency.value, "escalation": self.escalation,
            "escalation_targets": [e.value for e in self.escalation_intent], "vulnerable": self.vulnerable,
            "risk_score": round(self.risk_score, 1), "risk_level": self.risk_level.value, "tags": self.tags,
            "confidence": round(self.confidence, 3), "needs_review": self.needs_review,
            "model_version": self.model_version,
        }
        if self.kind == MessageKind.SURVEY_REPLY:
            doc["satisfied"] = self.satisfied
            doc["survey"] = self.survey
        return doc


@dataclass(frozen=True, slots=True)
class JudgeInput:
    """One text to judge and what the source told about it."""

    channel: str
    text: str
    amount: Decimal | float | str | None = None
    id_number: str | None = None
    repeat_count: int = 0
    incident_size: int = 0
    vulnerable: bool = False
    #: the industry profile whose business lines apply (default: the taxonomy's `profile`)
    profile: str | None = None


def ticket_text(t: Ticket) -> str:
    """The text the judgement reads from a ticket: title (unless the content starts with it), content, demands."""
    m = t.matter
    # a title that merely repeats the start of the content (SMS, app) would double its keywords
    title = "" if m.title and m.content.startswith(m.title) else m.title
    return "\n".join(x for x in (title, m.content, *m.demands) if x)


def age_from_id(id_number: str | None, today: date | None = None) -> int | None:
    """Age from a mainland ID number's birth date (18 or 15 digits); None when unreadable."""
    if not id_number:
        return None
    v = id_number.strip()
    try:
        if len(v) == 18:
            born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
        elif len(v) == 15:
            born = date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
        else:
            return None
    except ValueError:
        return None
    today = today or date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def amount_in_text(text: str) -> Decimal | None:
    """The largest CNY amount written in the text ("3万元", "两千多块", "1,200元"), if any."""
    return largest_amount(text)


def _vulnerable(text: str, phrases: list[str], id_number: str | None, min_age: int) -> list[str]:
    why = list(phrases)
    age = age_from_id(id_number)
    if age is not None and age >= min_age:
        why.append(f"身份证年龄{age}岁")
    for m in _AGE.finditer(text):
        if min_age <= int(m.group(1)) <= 120:
            why.append(m.group(0))
    return why


def _survey(res: JudgeResult, text: str) -> JudgeResult:
    grade = grade_reply(text)
    res.survey = grade.value if grade else None
    res.satisfied = None if grade in (None, Grade.NEUTRAL) else grade is Grade.SATISFIED
    res.explanations["kind"] = _explain(value=res.kind.value, reason="短信回复，非投诉" + (
        f"；评价：{ {'satisfied': '满意', 'neutral': '一般', 'dissatisfied': '不满意'}[grade.value]}" if grade else ""))
    return res


def _evidence(hits: list[Hit], sub_label: str, category: str) -> list[str]:
    """The phrases of the text behind a judged reason: its sub-category's first, then the reason's others."""
    exact: list[str] = []
    near: list[str] = []
    prefix = category + "/"
    for h in hits:
        for e in h.entries:
            if e.group == "reason" or e.group == "hint":
                if e.label == sub_label:
                    exact.append(h.phrase)
                elif e.label.startswith(prefix):
                    near.append(h.phrase)
    return list(dict.fromkeys(exact + near))[:6]


def _top_words(top: list[tuple[str, float]]) -> list[str]:
    # single characters carry weight in the model but say nothing to a handler
    return [f"{readable(f)}({w:+.2f})" for f, w in top if not f.startswith("c1:")]


_WARNED: set[tuple[str, str]] = set()


def _warn_if_stale(model: JudgeModel, matcher: Matcher) -> None:
    """Once per (model, taxonomy): a model trained under another taxonomy judges with stale features."""
    key = (model.version, matcher.fingerprint)
    if key in _WARNED:
        return
    _WARNED.add(key)
    if model.meta.get("taxonomy") != matcher.fingerprint:
        log.warning("judgement model %s was trained under another taxonomy (%s, now %s): run `hub judge train`",
                    model.version, model.meta.get("taxonomy"), matcher.fingerprint)


def judge_batch(items: Sequence[JudgeInput], *, matcher: Matcher | None = None,
                model: JudgeModel | None = None) -> list[JudgeResult]:
    """Judge many texts at once (see the module doc). SMS replies and unsubscribes come back with their kind."""
    matcher = matcher or get_matcher()
    model = model or get_model()
    _warn_if_stale(model, matcher)
    tax = matcher.taxonomy
    results: list[JudgeResult | None] = [None] * len(items)
    todo: list[tuple[int, JudgeInput, str, list[Hit], Decimal | None, Escalation]] = []
    docs: list[list[str]] = []
    texts: list[str] = []  # the prepared texts: their character n-grams are counted for the batch at once
    for i, it in enumerate(items):
        if it.channel == "sms":
            kind = detect_sms_intent(it.text)
            if kind != MessageKind.COMPLAINT:
                results[i] = _survey(JudgeResult(kind=kind, model_version=model.version), it.text) \
                    if kind == MessageKind.SURVEY_REPLY else JudgeResult(kind=kind, model_version=model.version)
                continue
        prepared = matcher.prepare(it.channel, it.text)
        words = matcher.words(prepared)
        hits = matcher.scan(prepared, words)
        amount = _amount(it.amount) if it.amount not in (None, "") else largest_amount(prepared)
        esc = find_escalations(matcher, it.channel, prepared, hits)
        docs.append(features(matcher, it.channel, it.text, amount=amount, prepared=prepared, words=words,
                             hits=hits, esc=esc, grams=False))
        texts.append(prepared)
        todo.append((i, it, prepared, hits, amount, esc))
    if todo:
        x = model.matrix(docs, texts)
        reasons = model.predict("reason", x, explain=5)
        urgencies = model.predict("urgency", x, explain=3)
        lines = _lines(model, x, [it.profile or tax.profile for _, it, _, _, _, _ in todo])
        overrides = [_override(tax, prepared, hits, r.probabilities)
                     for (_, _, prepared, hits, _, _), r in zip(todo, reasons, strict=True)]
        chosen = [o[0] if o else Category(r.label) for o, r in zip(overrides, reasons, strict=True)]
        allowed: list[list[str] | None] = [[f"{c.value}/{s}" for s in tax.reasons.get(c, {})] for c in chosen]
        subs = model.predict("sub", x, explain=0, allowed=allowed)
        for k, (i, it, prepared, hits, amount, esc) in enumerate(todo):
            results[i] = _combine(matcher, model, it, prepared, hits, amount, reasons[k], subs[k], urgencies[k],
                                  lines[k] if lines else None, overrides[k], it.profile or tax.profile, esc)
    return [r if r is not None else JudgeResult() for r in results]


def _lines(model: JudgeModel, x: Any, profiles: list[str]) -> list[Any] | None:
    """Each row's business line from the head of its profile (None for a profile the model has no head for)."""
    out: list[Any] = [None] * len(profiles)
    for name in dict.fromkeys(profiles):
        head = f"line:{name}"
        rows = [i for i, p in enumerate(profiles) if p == name]
        if head not in model.heads:
            continue
        for i, pred in zip(rows, model.predict(head, x[rows], explain=3), strict=True):
            out[i] = pred
    return out


def rescore(res: JudgeResult, *, repeat_count: int, incident_size: int = 0,
            taxonomy: Taxonomy | None = None) -> JudgeResult:
    """The same judgement with its risk (and repeat tag) recomputed for new repeat and incident counts.

    Only the risk depends on them, so a ticket found to be a repeat or part of a mass fault is not
    judged again from its text.
    """
    tax = taxonomy or get_matcher().taxonomy
    tags = [x for x in res.tags if x != "repeat"] + (["repeat"] if repeat_count else [])
    score, parts = risk_score(tax.risk, severity=res.severity, amount=res.amount, escalations=len(res.escalation_intent),
                              vulnerable=res.vulnerable, repeat_count=repeat_count, incident_size=incident_size,
                              urgent=res.urgency == Urgency.URGENT)
    explanations = {**res.explanations, "risk": _explain(value=risk_level(tax.risk, score).value,
                                                            reason=" + ".join(parts), score=score)}
    return replace(res, tags=tags, risk_score=score, risk_level=risk_level(tax.risk, score),
                   explanations=explanations)


def judge_text(channel: str, text: str, *, amount: Decimal | float | str | None = None,
               id_number: str | None = None, repeat_count: int = 0, incident_size: int = 0,
               vulnerable: bool = False) -> JudgeResult:
    """Judge one text from `channel` (a source key); see `judge_batch`."""
    return judge_batch([JudgeInput(channel, text, amount, id_number, repeat_count, incident_size, vulnerable)])[0]


def _amount(value: Decimal | float | str | None) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


#: the GUIDE's order when several reasons apply
_PRECEDENCE = {Category.INFO_SECURITY: 2, Category.PRODUCT: 1, Category.SERVICE: 0}


def _override(tax: Taxonomy, text: str, hits: list[Hit], probabilities: dict[str, float]
              ) -> tuple[Category, str, list[str]] | None:
    """The reason a rule decides, with its sub-category and the phrases, or None (the model decides).

    An un-negated phrase of an `override` sub-category decides outright (theft, fraud, leaks); one of a
    sub-category with `precedence` decides when the model gives its reason at least that probability
    (the GUIDE's info_security > product > service, which a linear model blurs). Phrases inside
    quotation marks — a system message, someone else's words ("提示“非本人操作”") — decide nothing.
    """
    cues = [h for h in hits if "factneg" in h.groups()]
    quoted = quoted_spans(text)
    found: Counter[str] = Counter()
    phrases: dict[str, list[str]] = {}
    for h in hits:
        for e in h.entries:
            if e.group != "reason":
                continue
            reason, sub = e.label.split("/", 1)
            spec = tax.sub(Category(reason), sub)
            if spec is None or negated(text, h, cues, FACT_WINDOW) or any(a <= h.start and h.end <= b
                                                                          for a, b in quoted):
                continue
            if spec.override or (spec.precedence is not None and probabilities.get(reason, 0.0) >= spec.precedence):
                found[e.label] += 1
                phrases.setdefault(e.label, []).append(h.phrase)
    if not found:
        return None
    best = max(found, key=lambda k: (_PRECEDENCE[Category(k.split("/", 1)[0])], found[k], k))
    reason, sub = best.split("/", 1)
    return Category(reason), sub, phrases[best]


def _combine(matcher: Matcher, model: JudgeModel, it: JudgeInput, text: str, hits: list[Hit], amount: Decimal | None,
             reason: Any, sub: Any, urgency: Any, line: Any, override: tuple[Category, str, list[str]] | None,
             profile: str, esc: Escalation) -> JudgeResult:
    tax = matcher.taxonomy
    res = JudgeResult(model_version=model.version, amount=amount)
    groups: dict[str, list[str]] = {}
    fact_cues = [h for h in hits if "factneg" in h.groups()]
    for h in hits:
        for e in h.entries:
            if e.group == "urgent" and negated(text, h, fact_cues, FACT_WINDOW):
                continue
            groups.setdefault(e.group, []).append(h.phrase)
    # --- reason and sub-category
    category = override[0] if override else Category(reason.label)
    sub_name = override[1] if override else sub.label.split("/", 1)[1]
    res.category, res.sub_category = category, sub_name
    spec = tax.sub(category, sub_name)
    res.severity, res.skill = (spec.severity, spec.skill) if spec else (2, None)
    model_reason_p = reason.probabilities.get(category.value, 0.0)
    if override:
        why = f"规则：「{'、'.join(dict.fromkeys(override[2]))}」判定为{CATEGORY_ZH[category.value]}（{sub_zh(tax, category, sub_name)}）"
        if reason.label != category.value:
            why += f"；模型判为{CATEGORY_ZH.get(reason.label, reason.label)}（置信度{reason.confidence:.2f}）"
        res.explanations["category"] = _explain(value=f"{category.value}/{sub_name}", reason=why,
                                                   matched=override[2], score=round(model_reason_p, 3))
    else:
        evidence = _evidence(hits, f"{category.value}/{sub_name}", category.value)
        words = f"文中「{'、'.join(evidence)}」；" if evidence else ""
        res.explanations["category"] = _explain(
            value=f"{category.value}/{sub_name}",
            reason=f"模型（{model.version}）判为{CATEGORY_ZH[category.value]}（{sub_zh(tax, category, sub_name)}），"
                   f"置信度{reason.confidence:.2f}；{words}主要依据：{'、'.join(_top_words(reason.top)) or '无'}",
            matched=evidence or [readable(f) for f, _ in reason.top], score=round(reason.confidence, 3))
    # --- business line
    line_conf = 1.0
    if line is not None:
        res.business_line, line_conf = line.label, line.confidence
        res.explanations["business_line"] = _explain(
            value=line.label, reason=f"模型判为{line_zh(tax, line.label, profile)}，置信度{line.confidence:.2f}；"
                                     f"主要依据：{'、'.join(_top_words(line.top)) or '无'}",
            matched=[readable(f) for f, _ in line.top], score=round(line.confidence, 3))
        res.skill = tax.skill(category, sub_name, line.label, profile)
    res.confidence = min(model_reason_p if not override else max(model_reason_p, 0.5), line_conf)
    # --- review: low confidence, or rules and model disagreeing
    rv = tax.review
    if (model_reason_p if not override else 1.0) < rv.min_reason_confidence:
        res.review_reasons.append(f"原因判断置信度低（{model_reason_p:.2f}）")
    if line is not None and line_conf < rv.min_confidence:
        res.review_reasons.append(f"业务条线判断置信度低（{line_conf:.2f}）")
    if rv.on_disagreement and override and reason.label != category.value and reason.confidence >= 0.8:
        res.review_reasons.append(f"规则与模型不一致（规则：{CATEGORY_ZH[category.value]}，模型：{CATEGORY_ZH[reason.label]}）")
    res.needs_review = bool(res.review_reasons)
    if res.needs_review:
        res.explanations["review"] = _explain(value="needs_review", reason="；".join(res.review_reasons))
    # --- escalation (rules, with negation)
    targets, esc_phrases, denied = esc.targets, esc.phrases, esc.denied
    res.escalation_intent = targets
    if targets:
        esc_why = "威胁或已投诉至：" + "、".join(ESCALATION_ZH[t.value] for t in targets)
    else:
        esc_why = "无升级意图"
    if denied:
        esc_why += f"（否定表述不计：{'、'.join(denied)}）"
    res.explanations["escalation"] = _explain(value=",".join(t.value for t in targets) or "none",
                                                 reason=esc_why, matched=esc_phrases)
    # --- vulnerability
    vuln_why = _vulnerable(text, groups.get("vuln", []), it.id_number, tax.vulnerable.min_age)
    if it.vulnerable and not vuln_why:
        vuln_why = ["来源标记为老年客户"]
    res.vulnerable = bool(vuln_why)
    if res.vulnerable:
        res.explanations["vulnerable"] = _explain(value="true", reason="老年或弱势客户", matched=vuln_why)
    # --- urgency: hard overrides, else the model
    urgent_kw = groups.get("urgent", [])
    large = (amount is not None and float(amount) >= tax.urgency.large_amount
             and (category.value in _SECURITY_LIKE or res.business_line == "payments"))
    if urgent_kw or targets or large:
        res.urgency = Urgency.URGENT
        signals: list[str] = []
        if urgent_kw:
            signals.append(f"紧急信号「{'、'.join(dict.fromkeys(urgent_kw))}」")
        if targets:
            signals.append("威胁升级投诉，按非常紧急处理")
        if large:
            signals.append(f"资金安全或支付问题且金额≥{tax.urgency.large_amount:,.0f}元")
        res.explanations["urgency"] = _explain(value="urgent", reason="规则：" + "；".join(signals),
                                                  matched=urgent_kw + esc_phrases)
    else:
        res.urgency = Urgency(urgency.label)
        res.explanations["urgency"] = _explain(
            value=urgency.label, reason=f"模型判为{URGENCY_ZH[urgency.label]}，置信度{urgency.confidence:.2f}；"
                                        f"主要依据：{'、'.join(_top_words(urgency.top)) or '无'}",
            matched=[readable(f) for f, _ in urgency.top], score=round(urgency.confidence, 3))
    # --- tags and risk
    res.tags += [f"escalation:{t.value}" for t in targets]
    if res.vulnerable:
        res.tags.append("vulnerable")
    if large:
        res.tags.append("large_amount")
    if it.repeat_count:
        res.tags.append("repeat")
    if groups.get("fault"):
        res.fault = groups["fault"][0]
        res.tags.append(f"fault:{res.fault}")
    if res.needs_review:
        res.tags.append("needs_review")
    score, parts = risk_score(tax.risk, severity=res.severity, amount=amount, escalations=len(targets),
                              vulnerable=res.vulnerable, repeat_count=it.repeat_count,
                              incident_size=it.incident_size, urgent=res.urgency == Urgency.URGENT)
    res.risk_score, res.risk_level = score, risk_level(tax.risk, score)
    res.explanations["risk"] = _explain(value=res.risk_level.value, reason=" + ".join(parts), score=score)
    return res
