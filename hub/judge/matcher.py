"""One Aho-Corasick automaton over every phrase of the taxonomy, built once.

A single pass over a text yields every hit of every signal group (category
keywords, urgency, escalation, negation cues, vulnerability, faults), so the
cost of a judgement does not grow with the number of keywords.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import ahocorasick

from core.configfile import cached_config
from hub.judge.config import Taxonomy, get_taxonomy

#: clause boundaries: a negation cue never reaches across one of these
CLAUSE_BREAKS = frozenset("，,。.!！?？;；\n、~～…")


@dataclass(frozen=True, slots=True)
class Entry:
    """What a phrase means: its signal group, a label (sub-category, target…) and a weight."""

    group: str  # cat | urgent | consult | grievance | neutral | esc | neg | negover | vuln | fault
    label: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase found in a normalised text: its span, the phrase and what it means."""

    start: int
    end: int  # exclusive
    phrase: str
    entries: tuple[Entry, ...]


def normalise(text: str) -> str:
    """NFKC (full-width → half-width) and lower case: the form phrases are matched in."""
    return unicodedata.normalize("NFKC", text or "").lower()


_DIGITS = re.compile(r"^\d+$")


class Matcher:
    """The automaton and the rules for reading its hits."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        table: dict[str, list[Entry]] = {}

        def add(phrase: str, entry: Entry) -> None:
            key = normalise(phrase).strip()
            if key:
                table.setdefault(key, []).append(entry)

        #: "category/sub" → position in the taxonomy (earlier wins a tie)
        self.rank: dict[str, int] = {}
        for cat, subs in taxonomy.categories.items():
            for name, sub in subs.items():
                self.rank[f"{cat.value}/{name}"] = len(self.rank)
                for weight, phrases in sub.keywords.items():
                    for p in phrases:
                        add(p, Entry("cat", f"{cat.value}/{name}", float(weight) * sub.boost))
        u = taxonomy.urgency
        for group, phrases in (("urgent", u.urgent), ("consult", u.consultation), ("grievance", u.grievance),
                               ("neutral", u.neutral),
                               ("fault", taxonomy.faults), ("vuln", taxonomy.vulnerable.phrases),
                               ("neg", taxonomy.escalation.negations),
                               ("negover", taxonomy.escalation.negation_overrides)):
            for p in phrases:
                add(p, Entry(group, p))
        for target, phrases in taxonomy.escalation.targets().items():
            for p in phrases:
                add(p, Entry("esc", target.value))
        self._automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            self._automaton.add_word(key, (key, tuple(entries)))
        self._automaton.make_automaton()
        self.size = len(table)

    def scan(self, text: str) -> list[Hit]:
        """Every phrase hit in `text` (already normalised), in order of end position."""
        hits = []
        n = len(text)
        for end, (phrase, entries) in self._automaton.iter(text):
            start = end - len(phrase) + 1
            # numbers such as 12315 or 110 must stand alone, not sit inside an order number
            if _DIGITS.match(phrase) and ((start > 0 and text[start - 1].isdigit())
                                         or (end + 1 < n and text[end + 1].isdigit())):
                continue
            hits.append(Hit(start, end + 1, phrase, entries))
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


@cached_config
def get_matcher() -> Matcher:
    """The process's matcher for the current taxonomy (built on first use, then reused)."""
    return Matcher(get_taxonomy())
