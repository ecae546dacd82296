"""What the model reads of a text: character n-grams, words, the rule hits, the channel, the money.

One function for training and for judging, so the two can never drift apart. Feature names are
readable (`c2:年费`, `w:推诿`, `r:info_security/theft`, `u:urgent`) because the top contributing
features are the explanation a handler sees.
"""

from __future__ import annotations

from decimal import Decimal

from hub.judge.escalation import Escalation, find_escalations
from hub.judge.matcher import Hit, Matcher, negated

_SKIP = frozenset(" \t\r\n，,。.!！?？;；:：、~～…\"'“”‘’()（）[]【】<>《》-—_/\\|*#@&%$^+=")
#: money bands (CNY) as features: a large loss reads differently from a ten-yuan fee
_BANDS = ((100000, "amt:1e5"), (10000, "amt:1e4"), (1000, "amt:1e3"), (0, "amt:any"))
#: how many times each rule feature is repeated (its weight against the n-grams)
RULE_WEIGHT = 3
#: text length bands: a one-line question reads differently from a page-long account
_LENGTHS = ((200, "long"), (60, "medium"), (20, "short"), (0, "tiny"))


def char_ngrams(text: str, lo: int = 1, hi: int = 3) -> list[str]:
    """Character n-grams of the text without spaces and punctuation (`c1:卡`, `c2:年费`, `c3:被盗刷`)."""
    s = "".join(ch for ch in text if ch not in _SKIP)
    out: list[str] = []
    for n in range(lo, hi + 1):
        prefix = f"c{n}:"
        out.extend(prefix + s[i:i + n] for i in range(len(s) - n + 1))
    return out


def rule_features(matcher: Matcher, channel: str, text: str, hits: list[Hit],
                  esc: Escalation | None = None) -> list[str]:
    """The rule hits as features: reason and line phrases, urgency, escalation (real or negated), cues."""
    out: list[str] = []
    fact_cues = [h for h in hits if "factneg" in h.groups()]
    for h in hits:
        for e in h.entries:
            g = e.group
            if g == "reason":
                out.append(f"r:{e.label}" + (":neg" if negated(text, h, fact_cues, 4) else ""))
            elif g == "hint":
                out.append(f"rh:{e.label}" + (":neg" if negated(text, h, fact_cues, 4) else ""))
            elif g == "line":
                out.append(f"l:{e.label}")
            elif g == "urgent":
                out.append("u:urgent:neg" if negated(text, h, fact_cues, 4) else "u:urgent")
            elif g in ("consult", "grievance", "vuln", "fault", "pressing"):
                out.append(f"g:{g}")
    out.extend("p:" + name for name in matcher.shapes(text))
    esc = esc if esc is not None else find_escalations(matcher, channel, text, hits)
    out.extend(f"e:{t.value}" for t in esc.targets)
    out.extend("e:neg" for _ in esc.denied)
    return out


#: the characters `char_ngrams` drops, as code points (the model's batch vectoriser drops them in numpy)
SKIP_CODES = tuple(sorted(ord(ch) for ch in _SKIP))


def features(matcher: Matcher, channel: str, text: str, *, amount: Decimal | None = None,
             prepared: str | None = None, words: list[str] | None = None,
             hits: list[Hit] | None = None, esc: Escalation | None = None, grams: bool = True) -> list[str]:
    """Every feature of one text (`prepared`, `words`, `hits`, `esc` reuse what the caller computed).

    `grams=False` leaves out the character n-grams (`char_ngrams` of the prepared text): the judge
    counts those for a whole batch at once in `JudgeModel.matrix`, the same features by code point.
    """
    s = prepared if prepared is not None else matcher.prepare(channel, text)
    ws = words if words is not None else matcher.words(s)
    hs = hits if hits is not None else matcher.scan(s, ws)
    out = char_ngrams(s) if grams else []
    out.extend("w:" + w for w in ws if len(w) > 1 and w[0] not in _SKIP)
    # rule hits repeat: with sublinear tf each counts 1 + ln(RULE_WEIGHT) against a single n-gram
    out.extend(rule_features(matcher, channel, s, hs, esc) * RULE_WEIGHT)
    out.append("ch:" + channel)
    out.append("len:" + next(name for lo, name in _LENGTHS if len(s) >= lo))
    if amount is not None:
        out.append(next(name for lo, name in _BANDS if amount >= lo))
    return out


def readable(feature: str) -> str:
    """A feature as a handler reads it: the text part of an n-gram or word, the rule behind a rule feature."""
    kind, _, rest = feature.partition(":")
    if kind in _TEXT_KINDS:
        return rest
    return _KIND_ZH.get(kind, kind) + ":" + rest


_TEXT_KINDS = frozenset(("c1", "c2", "c3", "w"))
_KIND_ZH = {"r": "规则", "rh": "提示词", "l": "业务规则", "u": "紧急信号", "e": "升级信号", "g": "信号", "ch": "渠道",
            "amt": "金额", "p": "句式", "len": "长度"}
