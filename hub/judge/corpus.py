"""The labelled judgement corpus (`data/judge/corpus/*.jsonl`, labelled by `data/judge/GUIDE.md`).

`load_corpus()` reads and validates every file; `split()` sends each record to `train` or `heldout`
by a hash of its id (stable: a record never changes side, and training never sees the held-out
part). `python -m hub.judge.corpus check [FILE…]` validates files and prints the label counts.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.settings import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT / "data" / "judge" / "corpus"
CHANNELS = ("gov12315", "blackcat", "app", "sms", "callcenter")
INDUSTRIES = ("bank", "insurance", "telecom", "ecommerce", "securities", "consumer_finance", "food_delivery",
              "travel", "auto", "utilities", "education")
#: industry → its profile's business lines (the GUIDE's table; the profiles in config/profiles/ agree)
LINES: dict[str, tuple[str, ...]] = {
    "bank": ("cards", "loans", "deposits", "wealth", "insurance", "payments", "ebanking", "branch"),
    "insurance": ("life", "health", "auto", "property", "accident", "claims"),
    "telecom": ("mobile", "broadband", "value_added", "devices", "number"),
    "ecommerce": ("goods", "fresh_food", "membership", "finance", "logistics_service", "platform"),
}
SUBS: dict[str, tuple[str, ...]] = {
    "product": ("quality", "counterfeit", "misrepresentation", "safety", "software"),
    "service": ("attitude", "delay", "fees", "refund", "contract", "process", "logistics", "after_sales",
                "collection", "marketing"),
    "info_security": ("leak", "harassment", "fraud", "theft", "identity"),
}
HARD = ("negation", "lookalike", "mixed", "elderly", "typo", "traditional", "english", "implicit", "long",
        "question")
HELDOUT_SHARE = 0.2


class ComplaintRecord(BaseModel):
    """One labelled complaint text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+-[a-z0-9_]+-\d{4,}$")
    channel: Literal["gov12315", "blackcat", "app", "sms", "callcenter"]
    industry: Literal["bank", "insurance", "telecom", "ecommerce", "securities", "consumer_finance",
                      "food_delivery", "travel", "auto", "utilities", "education"]
    text: str = Field(min_length=4, max_length=4000)
    business_line: str | None
    reason: Literal["product", "service", "info_security"]
    sub: str
    urgency: Literal["urgent", "general", "consultation"]
    escalation: list[Literal["regulator", "media", "lawsuit", "police"]] = Field(default_factory=list)
    vulnerable: bool = False
    hard: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ComplaintRecord:
        lines = LINES.get(self.industry)
        if lines is None and self.business_line is not None:
            raise ValueError(f"industry {self.industry} has no profile: business_line must be null")
        if lines is not None and self.business_line not in lines:
            raise ValueError(f"business_line {self.business_line!r} is not a line of {self.industry} ({lines})")
        if self.sub not in SUBS[self.reason]:
            raise ValueError(f"sub {self.sub!r} is not a sub-category of {self.reason} ({SUBS[self.reason]})")
        if not self.id.startswith(f"{self.channel}-{self.industry}-"):
            raise ValueError(f"id {self.id} must start with {self.channel}-{self.industry}-")
        unknown = set(self.hard) - set(HARD)
        if unknown:
            raise ValueError(f"unknown hard cases {sorted(unknown)} (known: {HARD})")
        if self.escalation and self.urgency != "urgent":
            raise ValueError("a real threat to escalate makes the complaint urgent (GUIDE: Urgency)")
        return self


class SurveyRecord(BaseModel):
    """One labelled SMS reply to a satisfaction survey (or an unsubscribe)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^sms-survey-\d{4}$")
    channel: Literal["sms"]
    kind: Literal["survey_reply", "unsubscribe"]
    text: str = Field(min_length=1, max_length=500)
    survey: Literal["satisfied", "neutral", "dissatisfied"] | None

    @model_validator(mode="after")
    def _consistent(self) -> SurveyRecord:
        if (self.kind == "unsubscribe") != (self.survey is None):
            raise ValueError("an unsubscribe has survey null; a survey reply has a grade")
        return self


Record = ComplaintRecord | SurveyRecord


class CorpusError(ValueError):
    """A corpus file does not follow the guide: the file, the line and the reason."""


def read_file(path: Path) -> list[Record]:
    """The validated records of one corpus file (CorpusError naming file and line when one is wrong)."""
    out: list[Record] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            model: type[ComplaintRecord] | type[SurveyRecord] = SurveyRecord if "kind" in doc else ComplaintRecord
            out.append(model.model_validate(doc))
        except (ValueError, ValidationError) as exc:
            raise CorpusError(f"{path.name}:{n}: {str(exc).splitlines()[0] if isinstance(exc, ValueError) else exc}"
                              ) from None
    return out


def load_corpus(paths: Iterable[Path] | None = None) -> list[Record]:
    """Every record of the corpus (or of `paths`), ids unique across files."""
    files = sorted(paths) if paths is not None else sorted(CORPUS_DIR.glob("*.jsonl"))
    records: list[Record] = []
    seen: dict[str, str] = {}
    for path in files:
        for r in read_file(path):
            if r.id in seen:
                raise CorpusError(f"{path.name}: id {r.id} is also in {seen[r.id]}")
            seen[r.id] = path.name
            records.append(r)
    return records


def is_heldout(record_id: str) -> bool:
    """Whether a record belongs to the held-out split (a stable hash of its id, ≈ 20 %)."""
    h = int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:4], "big")
    return h / 2**32 < HELDOUT_SHARE


def split(records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    """(train, heldout)."""
    train = [r for r in records if not is_heldout(r.id)]
    held = [r for r in records if is_heldout(r.id)]
    return train, held


def counts(records: Sequence[Record]) -> dict[str, Counter[str]]:
    """Label counts per field (for the closing note and the writers' balance)."""
    out: dict[str, Counter[str]] = {k: Counter() for k in ("channel", "industry", "reason", "sub", "urgency",
                                                            "escalation", "business_line", "hard", "survey")}
    for r in records:
        out["channel"][r.channel] += 1
        if isinstance(r, SurveyRecord):
            out["survey"][r.survey or r.kind] += 1
            continue
        out["industry"][r.industry] += 1
        out["reason"][r.reason] += 1
        out["sub"][f"{r.reason}/{r.sub}"] += 1
        out["urgency"][r.urgency] += 1
        out["business_line"][r.business_line or "-"] += 1
        for t in r.escalation:
            out["escalation"][t] += 1
        if not r.escalation:
            out["escalation"]["none"] += 1
        for h in r.hard:
            out["hard"][h] += 1
    return out


def main(argv: list[str]) -> int:
    """`check [FILE…]`: validate and print the counts."""
    if not argv or argv[0] != "check":
        print("usage: python -m hub.judge.corpus check [FILE ...]", file=sys.stderr)
        return 2
    try:
        records = load_corpus([Path(a) for a in argv[1:]] if argv[1:] else None)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(records)} records")
    for field_name, c in counts(records).items():
        if c:
            print(f"  {field_name}: " + ", ".join(f"{k}={v}" for k, v in c.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
