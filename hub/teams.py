"""Teams, handlers, leads and destinations from `config/teams.yaml`."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.configfile import cached_config, load_model
from core.errors import ConfigError
from core.schema import SHANGHAI
from core.settings import get_settings

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnDuty(_Model):
    """When a team or handler is on duty: weekdays and local (Asia/Shanghai) hours."""

    days: list[str] = Field(default_factory=lambda: DAYS[:5])
    hours: str = "09:00-18:00"  # local time, Asia/Shanghai; "00:00-24:00" for always

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if d not in DAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}; use {DAYS}")
        return v

    def covers(self, at: datetime) -> bool:
        """Is `at` inside the on-duty window?"""
        local = at.astimezone(SHANGHAI)
        if DAYS[local.weekday()] not in self.days:
            return False
        start_s, end_s = self.hours.split("-")
        start = time.fromisoformat(start_s)
        now_t = local.time()
        if end_s == "24:00":
            return now_t >= start
        return start <= now_t < time.fromisoformat(end_s)


class Handler(_Model):
    """One handler of a team: skills, capacity, seniority and, optionally, own duty hours."""

    id: str
    name: str = ""
    skills: list[str] = Field(default_factory=list)
    capacity: int = 20
    senior: bool = False
    on_duty: OnDuty | None = None  # overrides the team's window


class Destination(_Model):
    """Where a team's notices go: its queue, a webhook or chat bot, email, or an Apprise URL."""

    type: Literal["queue", "webhook", "wecom", "dingtalk", "email", "apprise"]
    url: str | None = None  # may be `env:NAME|default`
    secret: str | None = None  # reference, never a literal
    to: list[str] = Field(default_factory=list)  # email recipients


class Team(_Model):
    """One team of teams.yaml: lead, assignment strategy, duty hours, handlers, destinations."""

    id: str = ""
    name: str
    lead: str
    strategy: Literal["round_robin", "least_loaded"] = "least_loaded"
    on_duty: OnDuty = Field(default_factory=lambda: OnDuty(days=DAYS, hours="00:00-24:00"))
    handlers: list[Handler]
    destinations: list[Destination] = Field(default_factory=lambda: [Destination(type="queue")])
    escalation: list[str] | None = None  # levels after the lead; None → department head, compliance
    callback_token: str | None = None  # reference

    def handler(self, handler_id: str) -> Handler | None:
        """The team's handler with this id, or None."""
        return next((h for h in self.handlers if h.id == handler_id), None)


class EscalationDefaults(_Model):
    """teams.yaml `escalation_defaults`: chase levels after the lead when a team names none."""

    department_head: str
    compliance: str


class TeamsConfig(_Model):
    """The whole of `config/teams.yaml`: escalation defaults and the teams by id."""

    escalation_defaults: EscalationDefaults
    teams: dict[str, Team]
    #: what a ticket's customer history shows of the customer's tickets held by *other* teams:
    #: `show` (number, status, team, first handler — "one customer, one owner" visible),
    #: `count` (only how many there are) or `hide` (nothing: strict team isolation)
    history_other_teams: Literal["show", "count", "hide"] = "show"

    def model_post_init(self, __context: object) -> None:
        """Give each team its key under `teams` as its id."""
        for key, team in self.teams.items():
            team.id = key

    def team(self, team_id: str) -> Team:
        """The team with this id; ConfigError naming the known teams otherwise."""
        try:
            return self.teams[team_id]
        except KeyError:
            raise ConfigError(f"unknown team {team_id!r} (teams.yaml has {sorted(self.teams)})") from None

    def chase_chain(self, team_id: str) -> list[str]:
        """Who is chased after the handler: lead, then the escalation levels."""
        team = self.team(team_id)
        rest = team.escalation if team.escalation is not None else [
            self.escalation_defaults.department_head, self.escalation_defaults.compliance]
        return [team.lead, *rest]


def load_teams(path: Path | None = None) -> TeamsConfig:
    """Parse and validate teams.yaml; errors name the file and the field."""
    path = path or get_settings().config_dir / "teams.yaml"
    return load_model(path, TeamsConfig)


@cached_config
def get_teams() -> TeamsConfig:
    """The teams config of this process (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_teams()


def team_name(team: str | None) -> str:
    """A team's display name from teams.yaml ("-" for none; the id when unknown)."""
    if not team:
        return "-"
    t = get_teams().teams.get(team)
    return t.name if t else team


def handler_name(team: str | None, handler: str | None) -> str:
    """Employees' display names come from teams.yaml (staff, not customers: not masked)."""
    if not handler:
        return "-"
    t = get_teams().teams.get(team or "")
    h = t.handler(handler) if t else None
    if h and h.name:
        return f"{h.name}（{handler}）"
    return handler
