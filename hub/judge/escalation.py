"""Escalation intent: does the customer threaten to go, or say they went, to a regulator, the media,
a court or the police? (The rules of `config/taxonomy.yaml` `escalation`; see `EscalationSignals`.)

Read on a prepared text and its word-aware hits (`hub.judge.matcher`). An act (报警, 起诉, 曝光)
counts by itself; a body (人民银行, 公安, 记者) counts only with a cue in its clause — going there just
before it, acting there just after it — and not when the clause is a question of where to go with
no complaint in it ("是去人民银行换吗？"). A negation cue just before ("不会去起诉") cancels either,
unless an override stands before the negation ("不排除", "否则": "否则我就报警" is a threat).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.schema import EscalationTarget
from hub.judge.config import EscalationSignals
from hub.judge.matcher import CLAUSE_BREAKS, Hit, Matcher, clause_start, negated

#: how far before a threat a negation cue may sit (characters, same clause)
NEGATION_WINDOW = 12
#: how far a cue may stand from the body it points to (characters, same clause; after: into the next
#: comma clause too, "交给记者了，稿子在写")
CUE_BEFORE = 10
CUE_AFTER = 12
#: words that start a new decision: a negation before them does not reach past them
_SCOPE_BREAKERS = ("就", "才", "只能", "只好", "然后", "结果", "所以", "但", "可是", "于是", "已经", "还是", "干脆",
                   "必须", "一定")
_SOFT_BREAKS = frozenset("，,、 ")
_REPORT = re.compile(r"报.?案")
#: what may stand between a negation and the threat it denies (不会 再 去 找 媒体)
_GLUE = frozenset("去找向到跟给打再就要会想也都还说是闹告上一定非得了真的马上立刻直接你们我他她")
_QUESTION = ("？", "?", "吗", "请问", "是否", "要不要", "能不能", "可不可以", "哪里", "哪个")


@dataclass
class Escalation:
    """The targets threatened, the phrases that said so, and the negated mentions left out."""

    targets: list[EscalationTarget] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)


def clause_end(text: str, pos: int) -> int:
    """Index just past the clause holding `pos` (its closing punctuation included)."""
    i = pos
    while i < len(text) and text[i] not in CLAUSE_BREAKS:
        i += 1
    return min(i + 1, len(text))


def _of(hits: list[Hit], group: str) -> list[Hit]:
    return [h for h in hits if group in h.groups()]


def _cued(text: str, body: Hit, hits: list[Hit]) -> bool:
    """Is a body pointed at by a cue in its clause, outside a mere question of where to go?"""
    lo, hi = clause_start(text, body.start), clause_end(text, body.end)
    reach = clause_end(text, hi) if hi < len(text) and text[hi - 1] in _SOFT_BREAKS else hi
    before = any(c.end <= body.start and c.start >= max(lo, body.start - CUE_BEFORE)
                 for c in _of(hits, "esccue_before"))
    after = any(c.start >= body.end and c.end <= min(reach, body.end + CUE_AFTER) for c in _of(hits, "esccue_after"))
    if not (before or after):
        return False
    clause = text[lo:hi]
    if any(q in clause for q in _QUESTION):
        return any(lo <= c.start and c.end <= hi for c in _of(hits, "esccomplain"))
    return True


def _denied(text: str, hit: Hit, cues: list[Hit]) -> bool:
    """Does a negation cue deny this threat? Its scope runs to the threat unless a word that starts a
    new decision stands between ("不想把事闹大去报警" is denied; "没有办法只能报警", "钱还没到账我就报警"
    are not). A one-character cue (没, 未) only denies what follows it at once."""
    lo = max(clause_start(text, hit.start), hit.start - NEGATION_WINDOW)
    for c in cues:
        if c.start < lo or c.start >= hit.start or c.end > hit.end:
            continue  # a cue may overlap the threat's start: 不打 before 打12315
        between = text[c.end:hit.start]
        if len(c.phrase) == 1 and len(between.strip()) > 2:
            continue
        if not any(b in between for b in _SCOPE_BREAKERS):
            return True
    return False


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans inside quotation marks: someone else's words (催收说“要起诉你”), or a name for a thing."""
    spans: list[tuple[int, int]] = []
    for open_, close in (("“", "”"), ("「", "」"), ("『", "』"), ('"', '"')):
        i = 0
        while (a := text.find(open_, i)) >= 0:
            b = text.find(close, a + 1)
            if b < 0 or b - a > 60:
                break
            spans.append((a, b + 1))
            i = b + 1
    return spans


def _ignored_spans(matcher: Matcher, channel: str, text: str) -> list[tuple[int, int]]:
    """Where the channel's own name stands in the text (a 12315 complaint naming 12315 is no threat)."""
    spans = []
    for p in matcher.own_names(channel):
        i = 0
        while p and (a := text.find(p, i)) >= 0:
            spans.append((a, a + len(p)))
            i = a + 1
    return spans


def _claim_report(esc: EscalationSignals, text: str, hit: Hit) -> bool:
    """报案 to an insurer (a claim), not to the police: the text speaks of a claim and of no police."""
    if not _REPORT.search(hit.phrase) or any(w in hit.phrase for w in esc.police_words):
        return False
    return any(w in text for w in esc.claim_context) and not any(w in text for w in esc.police_words)


def find_escalations(matcher: Matcher, channel: str, text: str, hits: list[Hit]) -> Escalation:
    """The escalation a prepared text of `channel` expresses (see the module doc)."""
    own, quoted = _ignored_spans(matcher, channel, text), quoted_spans(text)
    esc = matcher.taxonomy.escalation
    cues, overrides = _of(hits, "neg"), _of(hits, "negover")
    out = Escalation()
    for h in hits:
        for e in h.entries:
            if e.group not in ("esc", "escbody"):
                continue
            if any(a <= h.start < b for a, b in own) or any(a <= h.start and h.end <= b for a, b in quoted):
                continue  # the channel naming itself (黑猫投诉发帖了), or someone else's words
            if e.group == "escbody" and not _cued(text, h, hits):
                continue
            if e.label == "police" and _claim_report(esc, text, h):
                continue
            if _denied(text, h, cues) and not negated(text, h, overrides, NEGATION_WINDOW + 4):
                out.denied.append(h.phrase)
                continue
            target = EscalationTarget(e.label)
            if target not in out.targets:
                out.targets.append(target)
            out.phrases.append(h.phrase)
    return out
