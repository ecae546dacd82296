"""Routing rules of `config/routing.yaml`: ordered, first match wins (pydantic v2)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.configfile import cached_config, load_model
from core.errors import ConfigError
from core.schema import Ticket
from core.settings import get_settings

_LISTS = ("source", "business_line", "category", "sub_category", "urgency", "risk", "tags", "region", "segment")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class When(_Model):
    """Conditions of a rule; all given ones must hold (a list means any of its values)."""

    source: list[str] | None = None
    #: what it is about (lines of the industry profile, config/profiles/)
    business_line: list[str] | None = None
    #: why: product / service / info_security
    category: list[str] | None = None
    sub_category: list[str] | None = None
    urgency: list[str] | None = None
    risk: list[str] | None = None
    tags: list[str] | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    region: list[str] | None = None
    segment: list[str] | None = None
    escalation: bool | None = None
    #: the judgement is unsure (low confidence, rules and model disagree): a person decides
    needs_review: bool | None = None

    @field_validator(*_LISTS, mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str | int) else v

    def matches(self, t: Ticket, segments: set[str]) -> bool:
        """Do all conditions hold for this (judged) ticket?"""
        j = t.judgement
        if self.source and t.source not in self.source:
            return False
        if self.business_line and j.business_line not in self.business_line:
            return False
        if self.needs_review is not None and self.needs_review != j.needs_review:
            return False
        if self.category and (j.category is None or j.category.value not in self.category):
            return False
        if self.sub_category and j.sub_category not in self.sub_category:
            return False
        if self.urgency and j.urgency.value not in self.urgency:
            return False
        if self.risk and j.risk_level.value not in self.risk:
            return False
        if self.tags and not set(self.tags) & set(j.tags):
            return False
        amount = t.matter.amount
        if self.amount_min is not None and (amount is None or amount < self.amount_min):
            return False
        if self.amount_max is not None and (amount is None or amount > self.amount_max):
            return False
        if self.region and not any((t.customer.region or "").startswith(r) for r in self.region):
            return False
        if self.segment and not set(self.segment) & segments:
            return False
        return self.escalation is None or self.escalation == bool(j.escalation_intent)


def segments_of(t: Ticket) -> set[str]:
    """The customer segments a rule's `segment` condition reads (elderly, vip)."""
    return {s for s, on in (("elderly", t.judgement.vulnerable or t.customer.elderly), ("vip", t.customer.vip)) if on}


class Rule(_Model):
    """One routing rule (`rules`): conditions, target team, optional priority and SLA policy."""

    id: str
    when: When = Field(default_factory=When)
    team: str
    priority: int | None = None
    sla: str | None = None  # SLA policy override (config/sla.yaml)


class Assignment(_Model):
    """routing.yaml `assignment`: repeats calling for a senior handler; sticky 首接责任."""

    senior_repeats: int = 2
    sticky: bool = True
    sticky_days: int = 180
    #: per customer, only the most recent N complaints of those days count (bounded work per batch)
    history_limit: int = Field(default=200, ge=1)


class IncidentRules(_Model):
    """routing.yaml `incidents`: how many fault complaints within how many minutes make one."""

    threshold: int = 5
    window_minutes: int = 120


class RoutingConfig(_Model):
    """The whole of `config/routing.yaml`: ordered rules, assignment and incident settings."""

    rules: list[Rule]
    assignment: Assignment = Field(default_factory=Assignment)
    incidents: IncidentRules = Field(default_factory=IncidentRules)

    def match(self, t: Ticket, segments: set[str]) -> Rule:
        """The first rule that matches (the config must end with a catch-all)."""
        for rule in self.rules:
            if rule.when.matches(t, segments):
                return rule
        raise ConfigError("no routing rule matched: config/routing.yaml needs a default rule without `when`")

    def check(self, team_ids: set[str], policy_ids: set[str]) -> None:
        """Fail early when a rule names a team or SLA policy that does not exist."""
        for r in self.rules:
            if r.team not in team_ids:
                raise ConfigError(f"routing rule {r.id!r}: unknown team {r.team!r} (teams.yaml has {sorted(team_ids)})")
            if r.sla and r.sla not in policy_ids:
                raise ConfigError(f"routing rule {r.id!r}: unknown SLA policy {r.sla!r}")


def load_routing(path: Path | None = None) -> RoutingConfig:
    """Parse and validate routing.yaml; errors name the file and the field."""
    path = path or get_settings().config_dir / "routing.yaml"
    return load_model(path, RoutingConfig)


@cached_config
def get_routing() -> RoutingConfig:
    """This process's routing config (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_routing()
