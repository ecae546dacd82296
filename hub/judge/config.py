"""The taxonomy and judgement signals of `config/taxonomy.yaml`, validated (pydantic v2)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.configfile import cached_config, load_model
from core.schema import Category, EscalationTarget
from core.settings import get_settings


class _Model(BaseModel):
    # phrases such as 12315 are read by YAML as numbers
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class SubCategory(_Model):
    """A taxonomy sub-category: label, severity (1-5), routing skill, boost, weighted keywords."""

    label: str = ""
    severity: int = Field(default=2, ge=1, le=5)
    skill: str | None = None
    #: multiplies the summed keyword weight (security problems outweigh the instrument named)
    boost: float = 1.0
    #: weight → phrases
    keywords: dict[float, list[str]]


class UrgencySignals(_Model):
    """The taxonomy's urgency signals: phrases that make a complaint urgent or a consultation."""

    urgent: list[str]
    consultation: list[str]
    grievance: list[str]
    neutral: list[str] = Field(default_factory=list)
    large_amount: float = 50000


class EscalationSignals(_Model):
    """Phrases threatening escalation, by target, with the negation cues that cancel them."""

    regulator: list[str]
    media: list[str]
    lawsuit: list[str]
    police: list[str]
    negations: list[str]
    negation_overrides: list[str] = Field(default_factory=list)
    ignore_on_channel: dict[str, list[str]] = Field(default_factory=dict)

    def targets(self) -> dict[EscalationTarget, list[str]]:
        """The threat phrases by escalation target."""
        return {EscalationTarget.REGULATOR: self.regulator, EscalationTarget.MEDIA: self.media,
                EscalationTarget.LAWSUIT: self.lawsuit, EscalationTarget.POLICE: self.police}


class VulnerableSignals(_Model):
    """Phrases marking a vulnerable customer, and the age from which one counts as such."""

    phrases: list[str]
    min_age: int = 65


class RiskWeights(_Model):
    """taxonomy.yaml `risk`: points per risk factor and the score thresholds of the levels."""

    severity_weight: float = 8
    money: list[tuple[float, float]] = Field(default_factory=list)
    escalation: float = 20
    escalation_extra: float = 5
    vulnerable: float = 12
    repeat_each: float = 5
    repeat_max: float = 15
    incident_each: float = 1
    incident_max: float = 15
    urgent: float = 10
    levels: dict[str, float] = Field(default_factory=lambda: {"medium": 25.0, "high": 50.0, "critical": 75.0})


class Taxonomy(_Model):
    """The whole of `config/taxonomy.yaml`: categories, fault phrases and judgement signals."""

    categories: dict[Category, dict[str, SubCategory]]
    faults: list[str] = Field(default_factory=list)
    urgency: UrgencySignals
    escalation: EscalationSignals
    vulnerable: VulnerableSignals
    risk: RiskWeights = Field(default_factory=RiskWeights)

    def sub(self, name: str) -> tuple[Category, SubCategory] | None:
        """The category and definition of a sub-category name."""
        for cat, subs in self.categories.items():
            if name in subs:
                return cat, subs[name]
        return None


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Parse and validate taxonomy.yaml; errors name the file and the field."""
    path = path or get_settings().config_dir / "taxonomy.yaml"
    return load_model(path, Taxonomy)


@cached_config
def get_taxonomy() -> Taxonomy:
    """This process's taxonomy (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_taxonomy()
