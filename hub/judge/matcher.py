"""Word-aware phrase matching: one Aho-Corasick automaton over every phrase, read against a segmentation.

A single pass yields every hit of every signal group (reason phrases, business-line phrases,
urgency, escalation, negation cues, vulnerability, faults, blockers). A hit counts only when it
does not lie strictly inside a longer word of the text that is no signal phrase itself — the words come from rjieba (jieba-rs)
with the taxonomy's phrases and blockers in its dictionary — so 信用卡 does not fire inside
信用卡中心 and 诈骗 not inside 防诈骗. Numbers such as 12315 must stand alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick
import rjieba

from core.configfile import cached_config
from hub.judge.config import Taxonomy, get_taxonomy, taxonomy_fingerprint
from hub.judge.normalise import AsrRepair, Variants, normalise

#: clause boundaries: a negation cue never reaches across one of these
CLAUSE_BREAKS = frozenset("，,。.!！?？;；\n、~～… ")  # a space separates clauses in SMS and transcripts
#: cues that deny a fact right before it ("没有被盗刷", "并非本人" is a phrase of its own)
FACT_NEGATIONS = ("没有", "没", "并没有", "并未", "未曾", "从未", "从没", "不是", "并不是", "并非", "不存在", "也没")
FACT_WINDOW = 4
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True, slots=True)
class Entry:
    """What a phrase means: its signal group and a label (sub-category, line, target…)."""

    #: reason | hint | line | urgent | consult | grievance | esc | escbody | esccue_before | esccue_after | esccomplain
    #: | neg | negover | factneg | vuln | fault | block
    group: str
    label: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase found in a normalised text: its span, the phrase and what it means."""

    start: int
    end: int  # exclusive
    phrase: str
    entries: tuple[Entry, ...]
    group_set: frozenset[str] = frozenset()  # the entries' groups, computed once per phrase in the automaton

    def groups(self) -> frozenset[str]:
        """The signal groups this phrase belongs to."""
        return self.group_set


class Matcher:
    """The automaton, the segmenter and the text normalisers of one taxonomy."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self.fingerprint = taxonomy_fingerprint(taxonomy)
        self._own_names: dict[str, list[str]] | None = None
        self.variants = Variants(taxonomy.variants)
        self.asr = AsrRepair(taxonomy.asr_terms)
        table: dict[str, list[Entry]] = {}

        def add(phrases: Iterable[str], group: str, label: str | None = None) -> None:
            for phrase in phrases:
                key = self.norm(str(phrase)).strip()
                if key:
                    table.setdefault(key, []).append(Entry(group, label if label is not None else key))

        for reason, subs in taxonomy.reasons.items():
            for name, sub in subs.items():
                add(sub.phrases, "reason", f"{reason.value}/{name}")
                add(sub.hints, "hint", f"{reason.value}/{name}")
        for pname, profile in (taxonomy.profiles or ({taxonomy.profile: taxonomy.lines} if taxonomy.lines else {})
                               ).items():
            for key, line in profile.lines.items():
                add(line.phrases, "line", f"{pname}/{key}")
        u, esc = taxonomy.urgency, taxonomy.escalation
        for group, phrases in (("urgent", u.urgent), ("consult", u.consultation), ("grievance", u.grievance),
                               ("pressing", u.pressing),
                               ("fault", taxonomy.faults), ("vuln", taxonomy.vulnerable.phrases),
                               ("neg", esc.negations), ("negover", esc.negation_overrides),
                               ("factneg", FACT_NEGATIONS), ("block", taxonomy.blockers)):
            add(phrases, group)
        for target, phrases in esc.acts.by_target().items():
            add(phrases, "esc", target.value)
        for target, phrases in esc.bodies.by_target().items():
            add(phrases, "escbody", target.value)
        add(esc.cues_before, "esccue_before")
        add(esc.cues_after, "esccue_after")
        add(esc.complaint_verbs, "esccomplain")
        self._automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            groups = frozenset(e.group for e in entries)
            # what `scan` asks of every hit, answered once per phrase
            self._automaton.add_word(key, (key, tuple(entries), groups, len(key), bool(_DIGITS.match(key)),
                                           "block" in groups))
        self._automaton.make_automaton()
        #: phrases that are signals themselves: a shorter phrase inside one of them still counts (盗刷 in 被盗刷)
        self.signal_words = frozenset(k for k, entries in table.items() if any(e.group != "block" for e in entries))
        self._jieba = rjieba.Jieba()
        for key in table:
            if len(key) > 1 and not key.isascii():
                self._jieba.add_word(key, 100000, None)
        self.size = len(table)
        self.patterns = {name: re.compile("|".join(f"(?:{p})" for p in pats))
                         for name, pats in taxonomy.patterns.items() if pats}

    def own_names(self, channel: str) -> list[str]:
        """The channel's own names (escalation `ignore_on_channel`), normalised once."""
        if self._own_names is None:
            self._own_names = {ch: [p for p in (self.norm(x) for x in names) if p]
                               for ch, names in self.taxonomy.escalation.ignore_on_channel.items()}
        return self._own_names.get(channel, [])

    def norm(self, text: str) -> str:
        """The matching form of a text (normalise + the taxonomy's variant spellings)."""
        return normalise(text, self.variants)

    def prepare(self, channel: str, text: str) -> str:
        """Normalise a text of `channel` (call-centre transcripts also get their ASR homophones repaired)."""
        s = self.norm(text)
        return self.asr(s) if channel == "callcenter" else s

    def shapes(self, text: str) -> list[str]:
        """The names of the taxonomy's `patterns` found in a prepared text."""
        return [name for name, rx in self.patterns.items() if rx.search(text)]

    def words(self, text: str) -> list[str]:
        """The segmentation of a normalised text (rjieba with the taxonomy's words in its dictionary)."""
        return self._jieba.cut(text, True)

    def scan(self, text: str, words: list[str] | None = None) -> list[Hit]:
        """Every phrase hit in `text` (already prepared) that is not inside a longer word, by end position."""
        words = words if words is not None else self.words(text)
        # for each character, the span of the word holding it
        span_of: list[tuple[int, int]] = []
        pos = 0
        for w in words:
            k = len(w)
            span_of.extend([(pos, pos + k)] * k)
            pos += k
        hits = []
        n = len(text)
        spans = len(span_of) == n
        signal_words = self.signal_words
        blocks: list[tuple[int, int]] = []
        for end, (phrase, entries, groups, size, digits, block) in self._automaton.iter(text):
            start = end - size + 1
            stop = end + 1
            if digits and ((start > 0 and text[start - 1].isdigit()) or (stop < n and text[stop].isdigit())):
                continue
            if spans:
                ws, we = span_of[start]
                if ws <= start and stop <= we and we - ws > size and text[ws:we] not in signal_words:
                    continue  # strictly inside a longer word that is no signal of its own
            if block:
                blocks.append((start, stop))
            hits.append(Hit(start, stop, phrase, entries, groups))
        if blocks:  # a blocker word (防诈骗) also silences the signals inside it when segmentation split it
            hits = [h for h in hits if h.groups() == {"block"}
                    or not any(a <= h.start and h.end <= b and (b - a) > (h.end - h.start) for a, b in blocks)]
        return hits


def drop_contained(hits: list[Hit]) -> list[Hit]:
    """Keep only hits not strictly inside a longer hit (so a phrase is not counted twice)."""
    if len(hits) < 2:
        return hits
    ordered = sorted(hits, key=lambda h: (h.start, -(h.end - h.start)))
    out: list[Hit] = []
    reach = -1
    for h in ordered:
        if h.end <= reach:
            continue  # inside an earlier, longer (or equal-start) hit
        out.append(h)
        reach = max(reach, h.end)
    return out


def clause_start(text: str, pos: int) -> int:
    """Index where the clause holding `pos` begins."""
    i = pos - 1
    while i >= 0 and text[i] not in CLAUSE_BREAKS:
        i -= 1
    return i + 1


def negated(text: str, hit: Hit, cues: list[Hit], window: int) -> bool:
    """Whether a negation cue stands right before `hit` in its clause (within `window` characters)."""
    lo = max(clause_start(text, hit.start), hit.start - window)
    return any(c.start >= lo and c.end <= hit.start for c in cues)


@cached_config
def get_matcher() -> Matcher:
    """The process's matcher for the current taxonomy (built on first use, then reused)."""
    return Matcher(get_taxonomy())
