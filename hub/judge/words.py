"""Chinese names of the judgement's values, for explanations a handler reads."""

from __future__ import annotations

from core.schema import Category
from hub.judge.config import Taxonomy
from hub.labels import CATEGORY as CATEGORY_ZH
from hub.labels import ESCALATION as ESCALATION_ZH
from hub.labels import URGENCY as URGENCY_ZH

__all__ = ["CATEGORY_ZH", "ESCALATION_ZH", "URGENCY_ZH", "line_zh", "sub_zh"]


def sub_zh(tax: Taxonomy, reason: Category, sub: str) -> str:
    """A sub-category's Chinese label (its key when the taxonomy has none)."""
    spec = tax.sub(reason, sub)
    return spec.label if spec and spec.label else sub


def line_zh(tax: Taxonomy, line: str | None, profile: str | None = None) -> str:
    """A business line's Chinese label in a profile (its key when the profile has none)."""
    prof = tax.profiles.get(profile or tax.profile) or tax.lines
    spec = prof.lines.get(line or "") if prof else None
    return spec.label if spec else (line or "-")
