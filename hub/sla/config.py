"""SLA policies: `config/sla.yaml` as validated models (which clock, how long, in which time mode)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from core.configfile import cached_config, load_model
from core.errors import ConfigError
from core.schema import Clock, ClockKind, Ticket, to_utc
from core.settings import get_settings
from hub.sla.calendar import BusinessCalendar, TimeMode


class ClockSpec(BaseModel):
    """One clock's duration: exactly one of hours, days, working_days, business_hours."""

    model_config = ConfigDict(extra="forbid")
    hours: float | None = None
    days: float | None = None
    working_days: int | None = None
    business_hours: float | None = None

    @model_validator(mode="after")
    def _one(self) -> ClockSpec:
        if sum(v is not None for v in (self.hours, self.days, self.working_days, self.business_hours)) != 1:
            raise ValueError("give exactly one of hours, days, working_days, business_hours")
        return self

    @property
    def mode(self) -> TimeMode:
        """The time mode this duration is measured in."""
        if self.working_days is not None:
            return "working_days"
        if self.business_hours is not None:
            return "business_hours"
        return "calendar"

    def due(self, start: datetime, cal: BusinessCalendar) -> datetime:
        """When a clock of this spec started at `start` falls due (UTC)."""
        if self.working_days is not None:
            return cal.add_working_days(start, self.working_days)
        if self.business_hours is not None:
            return cal.add_business_hours(start, self.business_hours)
        return to_utc(start + timedelta(hours=self.hours or 0, days=self.days or 0))

    def describe(self) -> str:
        """The duration in words, e.g. `5 working days`."""
        for name in ("hours", "days", "working_days", "business_hours"):
            v = getattr(self, name)
            if v is not None:
                return f"{v:g} {name.replace('_', ' ')}"
        return "?"  # pragma: no cover


class Policy(BaseModel):
    """One SLA policy (`policies`): the urgency or source it applies to and the clocks it sets."""

    model_config = ConfigDict(extra="forbid")
    urgency: str | None = None
    source: str | None = None
    #: an urgency policy that still binds when a source policy sets the same clock
    binding: bool = False
    first_response: ClockSpec | None = None
    resolution: ClockSpec | None = None
    revisit: ClockSpec | None = None

    def spec(self, kind: ClockKind) -> ClockSpec | None:
        """The policy's duration for a clock kind, or None when it does not set that clock."""
        return getattr(self, kind.value)


class SlaConfig(BaseModel):
    """The whole of `config/sla.yaml`: warning thresholds, policies and regulatory extensions."""

    model_config = ConfigDict(extra="forbid")
    warn_thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.75])
    policies: dict[str, Policy]
    extensions: dict[str, ClockSpec] = Field(default_factory=dict)
    #: `resolve` answers by (source, urgency, kind, override): a loaded config is never changed in place
    #: (`reload_config()` builds a new one), and every routed ticket asks one of a handful of questions
    _resolved: dict[tuple[str, str, ClockKind, str | None], tuple[tuple[str, ClockSpec, str], ...]] = \
        PrivateAttr(default_factory=dict)

    def resolve(self, ticket: Ticket, kind: ClockKind, override: str | None
                ) -> tuple[tuple[str, ClockSpec, str], ...]:
        """(policy id, spec, `spec.describe()`) of the policies whose clock of `kind` the ticket gets,
        the routing rule's `override` first when it sets that clock (see `hub.sla.clocks._make_clock`)."""
        key = (ticket.source, ticket.judgement.urgency.value, kind, override)
        hit = self._resolved.get(key)
        if hit is None:
            pids = self.applicable(ticket, kind)
            if override and self.policy(override).spec(kind):
                # the rule's policy replaces the others, except a binding (urgent) one
                pids = [override] + [p for p in pids if self.policies[p].binding and self.policies[p].urgency]
            specs = ((pid, self.policies[pid].spec(kind)) for pid in pids)
            hit = self._resolved[key] = tuple((pid, spec, spec.describe()) for pid, spec in specs if spec)
        return hit

    def policy(self, pid: str) -> Policy:
        """The policy with this id; ConfigError naming the known policies otherwise."""
        try:
            return self.policies[pid]
        except KeyError:
            raise ConfigError(f"unknown SLA policy {pid!r} (sla.yaml has {sorted(self.policies)})") from None

    def applicable(self, ticket: Ticket, kind: ClockKind) -> list[str]:
        """Ids of the policies that set this clock for the ticket's source and urgency.

        A source policy replaces the urgency policy for the clocks it defines, unless
        the urgency policy is `binding` (then both apply and the earlier due wins).
        """
        u, s = ticket.judgement.urgency.value, ticket.source
        by_source = [pid for pid, p in self.policies.items() if p.source == s and p.spec(kind)]
        by_urgency = [pid for pid, p in self.policies.items() if p.urgency == u and p.spec(kind)]
        if not by_source:
            return by_urgency
        return by_source + [pid for pid in by_urgency if self.policies[pid].binding]

    def mode_of(self, clock: Clock) -> TimeMode:
        """The time mode a clock runs in (from the policy that set it; calendar if unknown)."""
        p = self.policies.get(clock.policy)
        spec = p.spec(clock.kind) if p else self.extensions.get(clock.policy)
        return spec.mode if spec else "calendar"


def load_sla(path: Path | None = None) -> SlaConfig:
    """Parse and validate sla.yaml; errors name the file and the field."""
    path = path or get_settings().config_dir / "sla.yaml"
    return load_model(path, SlaConfig)


@cached_config
def get_sla() -> SlaConfig:
    """This process's SLA config (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_sla()
