"""`config/taxonomy.yaml` and the industry profiles of `config/profiles/`, validated (pydantic v2)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.configfile import cached_config, load_model
from core.errors import ConfigError
from core.schema import Category, EscalationTarget
from core.settings import get_settings


class _Model(BaseModel):
    # phrases such as 12315 are read by YAML as numbers
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class SubCategory(_Model):
    """A sub-category of a reason: label, severity (1-5), routing skill, its rule phrases."""

    label: str = ""
    severity: int = Field(default=2, ge=1, le=5)
    skill: str | None = None
    #: an un-negated phrase of this sub-category decides the reason whatever the model says
    override: bool = False
    #: a phrase of this sub-category decides the reason when the model gives the reason at least this
    #: probability (the GUIDE's precedence: info_security > product > service)
    precedence: float | None = Field(default=None, ge=0, le=1)
    phrases: list[str] = Field(default_factory=list)
    #: weaker phrases: features of the model only, never an override
    hints: list[str] = Field(default_factory=list)


class BusinessLine(_Model):
    """One business line of a profile: what a complaint is about."""

    label: str
    skill: str | None = None
    phrases: list[str] = Field(default_factory=list)


class Profile(_Model):
    """An industry profile (`config/profiles/<name>.yaml`): its business lines."""

    label: str
    #: the corpus industries whose texts train this profile's business-line model
    industries: list[str]
    lines: dict[str, BusinessLine]


class UrgencySignals(_Model):
    """Phrases that make a complaint urgent (hard overrides), mark a question, or voice a grievance."""

    urgent: list[str]
    consultation: list[str]
    grievance: list[str]
    #: soft signals of pressing need or danger: model features only
    pressing: list[str] = Field(default_factory=list)
    large_amount: float = 50000


class EscalationTargets(_Model):
    """Phrases of each escalation target."""

    regulator: list[str] = Field(default_factory=list)
    media: list[str] = Field(default_factory=list)
    lawsuit: list[str] = Field(default_factory=list)
    police: list[str] = Field(default_factory=list)

    def by_target(self) -> dict[EscalationTarget, list[str]]:
        """The phrases keyed by target."""
        return {EscalationTarget.REGULATOR: self.regulator, EscalationTarget.MEDIA: self.media,
                EscalationTarget.LAWSUIT: self.lawsuit, EscalationTarget.POLICE: self.police}


class EscalationSignals(_Model):
    """How a threat to escalate is recognised.

    `acts` are threats or reports on their own (报警, 起诉, 曝光); `bodies` only name where one could
    go (人民银行, 公安, 记者) and count with a cue in the same clause — going there just before
    (`cues_before`: 去, 找, 向, 打…) or acting there just after (`cues_after`: 投诉, 反映, 举报…) — and
    not in a question that only asks where to go. A negation cue before either cancels it unless an
    override (不排除, 否则) stands before that.
    """

    acts: EscalationTargets
    bodies: EscalationTargets = Field(default_factory=EscalationTargets)
    cues_before: list[str] = Field(default_factory=list)
    cues_after: list[str] = Field(default_factory=list)
    #: words that make a question clause a complaint about escalating rather than a question of where to go
    complaint_verbs: list[str] = Field(default_factory=list)
    negations: list[str]
    negation_overrides: list[str] = Field(default_factory=list)
    ignore_on_channel: dict[str, list[str]] = Field(default_factory=dict)
    #: 报案 in a text about an insurance claim (and no police word) is a claim report, not the police
    claim_context: list[str] = Field(default_factory=list)
    police_words: list[str] = Field(default_factory=list)


class VulnerableSignals(_Model):
    """Phrases marking a vulnerable customer, and the age from which one counts as such."""

    phrases: list[str]
    min_age: int = 65


class ReviewPolicy(_Model):
    """When a judgement is marked for review (and the ticket routed to the triage team)."""

    min_confidence: float = Field(default=0.45, ge=0, le=1)  # on the business line
    min_reason_confidence: float = Field(default=0.7, ge=0, le=1)
    on_disagreement: bool = True


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
    """The whole of `config/taxonomy.yaml` with the profile it names loaded."""

    profile: str = "bank"
    reasons: dict[Category, dict[str, SubCategory]]
    blockers: list[str] = Field(default_factory=list)
    variants: dict[str, str] = Field(default_factory=dict)
    asr_terms: list[str] = Field(default_factory=list)
    faults: list[str] = Field(default_factory=list)
    #: named regular expressions over the normalised text, read by the model as `p:<name>` features
    patterns: dict[str, list[str]] = Field(default_factory=dict)
    urgency: UrgencySignals
    escalation: EscalationSignals
    vulnerable: VulnerableSignals
    review: ReviewPolicy = Field(default_factory=ReviewPolicy)
    risk: RiskWeights = Field(default_factory=RiskWeights)
    #: filled by `load_taxonomy` from config/profiles/<profile>.yaml
    lines: Profile | None = None
    #: every profile of config/profiles/ (their line phrases are features of the shared model)
    profiles: dict[str, Profile] = Field(default_factory=dict)

    def sub(self, reason: Category, name: str) -> SubCategory | None:
        """The definition of a sub-category of a reason."""
        return self.reasons.get(reason, {}).get(name)

    def line(self, key: str | None, profile: str | None = None) -> BusinessLine | None:
        """The definition of a business line of `profile` (default: the profile in force)."""
        prof = self.profiles.get(profile, self.lines) if profile else self.lines
        return prof.lines.get(key or "") if prof else None

    def skill(self, reason: Category | None, sub: str | None, line: str | None,
              profile: str | None = None) -> str | None:
        """The routing skill a judgement calls for.

        What it is about (the business line) decides, unless the account's security is at stake;
        without a line skill the sub-category's skill counts.
        """
        spec = self.sub(reason, sub or "") if reason else None
        line_spec = self.line(line, profile)
        if line_spec and line_spec.skill and reason is not Category.INFO_SECURITY:
            return line_spec.skill
        return spec.skill if spec else None


def profile_path(name: str, config_dir: Path | None = None) -> Path:
    """Where a profile lives (`config/profiles/<name>.yaml`)."""
    return (config_dir or get_settings().config_dir) / "profiles" / f"{name}.yaml"


def load_profile(name: str, config_dir: Path | None = None) -> Profile:
    """One industry profile (ConfigError naming the file when it is missing or wrong)."""
    path = profile_path(name, config_dir)
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(f"taxonomy.yaml names profile {name!r}, but {path} does not exist",
                          hint=f"one of: {', '.join(known)}")
    return load_model(path, Profile)


def taxonomy_fingerprint(tax: Taxonomy) -> str:
    """A digest of everything the taxonomy says: the model's features come from it, so a model
    trained under another taxonomy is stale (`hub judge train` after every edit)."""
    # the review and risk policies do not shape features: tuning them needs no retraining
    return hashlib.sha256(tax.model_dump_json(exclude={"review", "risk"}).encode()).hexdigest()[:16]


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Parse and validate taxonomy.yaml and its profile; errors name the file and the field."""
    path = path or get_settings().config_dir / "taxonomy.yaml"
    tax = load_model(path, Taxonomy)
    profiles = {p.stem: load_model(p, Profile) for p in sorted((path.parent / "profiles").glob("*.yaml"))}
    return tax.model_copy(update={"lines": load_profile(tax.profile, path.parent), "profiles": profiles})


@cached_config
def get_taxonomy() -> Taxonomy:
    """This process's taxonomy (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_taxonomy()
