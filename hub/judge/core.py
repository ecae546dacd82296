"""`judge_text`: category, urgency, escalation intent, vulnerability and risk of one text (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from core.schema import Category, EscalationTarget, Explanation, MessageKind, RiskLevel, Urgency
from hub.judge.intents import detect_sms_intent, survey_satisfied
from hub.judge.matcher import Hit, clause_start, drop_contained, get_matcher, normalise
from hub.judge.risk import risk_level, risk_score

#: how far before a threat a negation cue may sit (characters, same clause)
NEGATION_WINDOW = 8
_AMOUNT = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*(万|千)?\s*(?:元|块|rmb|cny)")
_AGE = re.compile(r"(\d{2,3})\s*(?:岁|周岁)")
_SECURITY_LIKE = {"info_security/account_theft", "info_security/fraud", "product/payments"}


@dataclass(slots=True)
class JudgeResult:
    """Everything `judge_text` decided, with the explanations behind it."""

    kind: MessageKind = MessageKind.COMPLAINT
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
    explanations: dict[str, Explanation] = field(default_factory=dict)

    @property
    def escalation(self) -> bool:
        """Whether the text threatens any escalation."""
        return bool(self.escalation_intent)

    def to_json(self) -> dict[str, Any]:
        """The shape `hub classify --json` prints."""
        doc: dict[str, Any] = {
            "kind": self.kind.value, "category": self.category.value if self.category else None,
            "sub_category": self.sub_category, "urgency": self.urgency.value, "escalation": self.escalation,
            "escalation_targets": [e.value for e in self.escalation_intent], "vulnerable": self.vulnerable,
            "risk_score": round(self.risk_score, 1), "risk_level": self.risk_level.value, "tags": self.tags,
        }
        if self.kind == MessageKind.SURVEY_REPLY:
            doc["satisfied"] = self.satisfied
        return doc


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
    """The largest CNY amount written in the text ("3万元", "1,200元"), if any."""
    best: Decimal | None = None
    for m in _AMOUNT.finditer(text):
        try:
            v = Decimal(m.group(1).replace(",", ""))
        except InvalidOperation:
            continue
        v *= {"万": 10000, "千": 1000}.get(m.group(2) or "", 1)
        best = v if best is None or v > best else best
    return best


def _escalations(text: str, hits: list[Hit], channel: str, ignored: set[str]) -> tuple[
        list[EscalationTarget], list[str], list[str]]:
    """Real threats (targets, phrases) and the negated phrases, e.g. "不会去起诉"."""
    cues = [(h, e.group) for h in hits for e in h.entries if e.group in ("neg", "negover")]
    targets: list[EscalationTarget] = []
    phrases: list[str] = []
    negated: list[str] = []
    for h in hits:
        for e in h.entries:
            if e.group != "esc" or h.phrase in ignored:
                continue
            lo = max(clause_start(text, h.start), h.start - NEGATION_WINDOW)
            near = [(c, g) for c, g in cues if c.start >= lo and c.end <= h.start]
            groups = {g for _, g in near}
            if "neg" in groups and "negover" not in groups:
                # quote only from the cue to the threat: never a wider slice of the customer's text
                negated.append(text[min(c.start for c, g in near if g == "neg"):h.end])
                continue
            t = EscalationTarget(e.label)
            if t not in targets:
                targets.append(t)
            phrases.append(h.phrase)
    return targets, phrases, negated


def _vulnerable(text: str, phrases: list[str], id_number: str | None, min_age: int) -> tuple[bool, list[str]]:
    why = list(phrases)
    age = age_from_id(id_number)
    if age is not None and age >= min_age:
        why.append(f"age {age} from ID")
    for m in _AGE.finditer(text):
        if min_age <= int(m.group(1)) <= 120:
            why.append(m.group(0))
    return bool(why), why


def judge_text(channel: str, text: str, *, amount: Decimal | float | str | None = None,
               id_number: str | None = None, repeat_count: int = 0, incident_size: int = 0,
               vulnerable: bool = False) -> JudgeResult:
    """Judge one complaint text from `channel` (a source key).

    Pure: the same inputs give the same result, nothing is read but the taxonomy.
    SMS survey replies and unsubscribes come back with their `kind` and nothing else.
    `vulnerable` says the source already flagged the customer (e.g. the app's age field).
    """
    matcher = get_matcher()
    tax = matcher.taxonomy
    res = JudgeResult()
    if channel == "sms":
        res.kind = detect_sms_intent(text)
        if res.kind != MessageKind.COMPLAINT:
            res.satisfied = survey_satisfied(text) if res.kind == MessageKind.SURVEY_REPLY else None
            res.explanations["kind"] = Explanation(value=res.kind.value, reason="short SMS reply, not a complaint")
            return res
    norm = normalise(text)
    hits = matcher.scan(norm)
    groups: dict[str, list[str]] = {}
    neutral = [(h.start, h.end) for h in hits if any(e.group == "neutral" for e in h.entries)]
    for h in hits:
        for e in h.entries:
            if e.group == "cat":
                continue
            # "投诉" inside "被投诉方" is a formal term, not a grievance
            if e.group == "grievance" and any(a <= h.start and h.end <= b for a, b in neutral):
                continue
            groups.setdefault(e.group, []).append(h.phrase)

    # --- category: summed weights per sub-category over non-overlapping keyword hits
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    for h in drop_contained([h for h in hits if any(e.group == "cat" for e in h.entries)]):
        for e in h.entries:
            # a phrase counts once however often it is repeated (ASR transcripts repeat a lot)
            if e.group == "cat" and h.phrase not in matched.get(e.label, ()):
                scores[e.label] = scores.get(e.label, 0.0) + e.weight
                matched.setdefault(e.label, []).append(h.phrase)
    if scores:
        # ties go to the sub-category listed first in the taxonomy
        best = max(scores, key=lambda k: (scores[k], -matcher.rank.get(k, 999)))
        cat_s, sub = best.split("/", 1)
        res.category, res.sub_category = Category(cat_s), sub
        found = tax.categories[res.category][sub]
        res.severity, res.skill = found.severity, found.skill
        runner = sorted((v, k) for k, v in scores.items() if k != best)[-1:] or []
        res.explanations["category"] = Explanation(
            value=best, reason=f"keyword weight {scores[best]:g}" + (
                f" (next: {runner[0][1]} {runner[0][0]:g})" if runner else ""),
            matched=matched[best], score=scores[best])
    else:
        res.category, res.sub_category, res.severity, res.skill = Category.SERVICE, "general", 1, "general"
        res.explanations["category"] = Explanation(value="service/general", reason="no taxonomy keyword matched")

    # --- money
    if amount not in (None, ""):
        try:
            res.amount = Decimal(str(amount))
        except InvalidOperation:
            res.amount = None
    if res.amount is None:
        res.amount = amount_in_text(norm)

    # --- escalation intent (with negation)
    ignored = {normalise(p) for p in tax.escalation.ignore_on_channel.get(channel, [])}
    targets, esc_phrases, negated = _escalations(norm, hits, channel, ignored)
    res.escalation_intent = targets
    reason = f"threat or report: {', '.join(t.value for t in targets)}" if targets else "no threat to escalate"
    if negated:
        reason += f"; negated, not counted: {'; '.join(negated)}"
    res.explanations["escalation"] = Explanation(value=",".join(t.value for t in targets) or "none",
                                                 reason=reason, matched=esc_phrases)

    # --- vulnerability
    res.vulnerable, vuln_why = _vulnerable(norm, groups.get("vuln", []), id_number, tax.vulnerable.min_age)
    if vulnerable and not res.vulnerable:
        res.vulnerable, vuln_why = True, ["flagged by the source (elderly)"]
    if res.vulnerable:
        res.explanations["vulnerable"] = Explanation(value="true", reason="elderly or vulnerable customer",
                                                     matched=vuln_why)

    # --- urgency: tier 1 signals, a real threat, or big money in a security/payment matter
    urgent_kw = groups.get("urgent", [])
    large = (res.amount is not None and float(res.amount) >= tax.urgency.large_amount
             and f"{res.category.value}/{res.sub_category}" in _SECURITY_LIKE)
    if urgent_kw or targets or large:
        res.urgency = Urgency.URGENT
        why = []
        if urgent_kw:
            why.append("urgent keywords")
        if targets:
            why.append("threatens to escalate (handled as 非常紧急)")
        if large:
            why.append(f"amount ≥ ¥{tax.urgency.large_amount:,.0f} in a {res.sub_category} matter")
        res.explanations["urgency"] = Explanation(value="urgent", reason="; ".join(why),
                                                  matched=urgent_kw + esc_phrases)
    elif groups.get("consult") and not groups.get("grievance"):
        res.urgency = Urgency.CONSULTATION
        res.explanations["urgency"] = Explanation(value="consultation", reason="question or suggestion, no grievance",
                                                  matched=groups["consult"])
    else:
        res.explanations["urgency"] = Explanation(value="general", reason="a grievance without urgent signals",
                                                  matched=groups.get("grievance", [])[:5])

    # --- tags and risk
    if targets:
        res.tags += [f"escalation:{t.value}" for t in targets]
    if res.vulnerable:
        res.tags.append("vulnerable")
    if large:
        res.tags.append("large_amount")
    if repeat_count:
        res.tags.append("repeat")
    if groups.get("fault"):
        res.fault = groups["fault"][0]
        res.tags.append(f"fault:{res.fault}")
    score, parts = risk_score(tax.risk, severity=res.severity, amount=res.amount, escalations=len(targets),
                              vulnerable=res.vulnerable, repeat_count=repeat_count, incident_size=incident_size,
                              urgent=res.urgency == Urgency.URGENT)
    res.risk_score, res.risk_level = score, risk_level(tax.risk, score)
    res.explanations["risk"] = Explanation(value=res.risk_level.value, reason=" + ".join(parts), score=score)
    return res

