"""`config/chase.yaml`: chase steps, quiet hours, outbox retry limits, push and survey settings."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.configfile import cached_config, load_model
from core.schema import SHANGHAI
from core.settings import get_settings
from hub.teams import Destination

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """"90m", "2h", "1d", "30s" (or seconds as a number) → timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = _DUR.match(str(value))
    if not m:
        raise ValueError(f"bad duration {value!r}; use e.g. 30s, 5m, 2h, 1d")
    return timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Step(_Model):
    """One chase step (`chase.steps`): its level, delay after the due time, and recipients."""

    level: str
    after: timedelta
    to: list[str]

    _dur = field_validator("after", mode="before")(lambda cls, v: parse_duration(v))


class QuietHours(_Model):
    """Local night hours in which reminders for non-urgent tickets wait for the end."""

    start: str = "22:00"
    end: str = "08:00"

    def end_after(self, at: datetime) -> datetime | None:
        """If `at` is inside quiet hours, the moment they end (aware); else None."""
        local = at.astimezone(SHANGHAI)
        start, end = time.fromisoformat(self.start), time.fromisoformat(self.end)
        t = local.time()
        inside = (start <= t or t < end) if start > end else (start <= t < end)
        if not inside:
            return None
        day = local.date() if t < end else local.date() + timedelta(days=1)
        return datetime.combine(day, end, tzinfo=SHANGHAI)


class ChaseSection(_Model):
    """chase.yaml `chase`: breach steps, warning recipients, quiet hours, recheck bounds, batch."""

    steps: list[Step] = Field(default_factory=list)
    warn_to: list[str] = Field(default_factory=lambda: ["handler"])
    quiet_hours: QuietHours | None = None
    min_recheck: timedelta = timedelta(minutes=5)
    max_recheck: timedelta = timedelta(hours=12)
    batch: int = 2000

    _dur = field_validator("min_recheck", "max_recheck", mode="before")(lambda cls, v: parse_duration(v))


class OutboxSection(_Model):
    """chase.yaml `outbox`: delivery attempts, retry backoff, where dead rows are reported."""

    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    ops_destinations: list[Destination] = Field(default_factory=list)

    _dur = field_validator("backoff_base", "backoff_cap", mode="before")(lambda cls, v: parse_duration(v))


class PushSection(_Model):
    """chase.yaml `push`: statuses pushed back, sources answered by SMS, where a reply is required."""

    statuses: list[str] = Field(default_factory=lambda: ["resolved"])
    sms_sources: list[str] = Field(default_factory=lambda: ["sms"])
    #: sources that show a pushed status change to the customer: such a change needs a reply
    #: (or a template below); the internal note is never sent in its place
    reply_required: list[str] = Field(default_factory=lambda: ["gov12315", "blackcat", "sms", "callcenter"])
    #: per source, the customer text used when such a change carries no reply (none: refused)
    reply_templates: dict[str, str] = Field(default_factory=dict)


class SurveySection(_Model):
    """chase.yaml `survey`: the satisfaction SMS, its expiry, the resolution clock on reopening."""

    enabled: bool = True
    text: str = "您反映的问题已处理完毕，请评价：回复1满意 2不满意 3一般。回复TD退订。"
    expire_after: timedelta = timedelta(days=3)
    reopen_resolution: timedelta = timedelta(days=3)
    #: what a neutral answer (还行, 一般, 3) does: close the ticket (default) or reopen it like a dissatisfied one
    neutral: Literal["close", "reopen"] = "close"

    _dur = field_validator("expire_after", "reopen_resolution", mode="before")(
        lambda cls, v: parse_duration(v))


class ChaseConfig(_Model):
    """The whole of `config/chase.yaml` (each section has defaults)."""

    chase: ChaseSection = Field(default_factory=ChaseSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    push: PushSection = Field(default_factory=PushSection)
    survey: SurveySection = Field(default_factory=SurveySection)


def load_chase_config(path: Path | None = None) -> ChaseConfig:
    """Parse and validate chase.yaml; a missing file gives the defaults."""
    path = path or get_settings().config_dir / "chase.yaml"
    return load_model(path, ChaseConfig, missing_ok=True)


@cached_config
def get_chase_config() -> ChaseConfig:
    """The chase config of this process (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_chase_config()
