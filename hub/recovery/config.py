"""`config/recovery.yaml`: the alert bound for unrouted tickets, outbox priorities and quotas, phase deadlines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.configfile import cached_config, load_model
from core.settings import get_settings

_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: customer- and regulator-facing kinds first, then the operator, then the teams
DEFAULT_PRIORITY = ["status_update", "sms", "ops", "dispatch", "reminder"]
DEFAULT_QUOTAS = {"status_update": 0.4, "sms": 0.4, "ops": 0.05, "dispatch": 0.1, "reminder": 0.05}


def _duration(value: str | int | float | timedelta) -> timedelta:
    """"90s", "15m", "2h", "1d" or seconds as a number."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    text = value.strip()
    if text and text[-1] in _UNIT:
        return timedelta(seconds=float(text[:-1]) * _UNIT[text[-1]])
    return timedelta(seconds=float(text))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeliverySection(_Model):
    """`delivery`: which outbox kinds drain first, and each kind's share of one pass (the rest flows on)."""

    priority: list[str] = Field(default_factory=lambda: list(DEFAULT_PRIORITY))
    #: kind → share of one pass's limit (0..1) that kind may take before the others had their share
    quotas: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_QUOTAS))

    @field_validator("quotas")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if not 0 <= x <= 1]
        if bad:
            raise ValueError(f"quota of {bad[0]} must be between 0 and 1")
        return v


class DeadlineSection(_Model):
    """`deadlines`: how long each phase of a hub cycle may take before it is cut short (and reported)."""

    sync: timedelta = timedelta(minutes=10)
    push: timedelta = timedelta(minutes=3)
    chase: timedelta = timedelta(minutes=3)
    surveys: timedelta = timedelta(minutes=2)
    #: one connector push-back (status update, SMS) in a drain
    push_one: timedelta = timedelta(seconds=30)

    _dur = field_validator("sync", "push", "chase", "surveys", "push_one", mode="before")(
        lambda cls, v: _duration(v))


class RecoveryConfig(_Model):
    """The whole of `config/recovery.yaml` (every key has a default)."""

    #: a complaint still without a team this long after it was ingested is an alert
    unrouted_alert_after: timedelta = timedelta(minutes=15)
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    deadlines: DeadlineSection = Field(default_factory=DeadlineSection)

    _dur = field_validator("unrouted_alert_after", mode="before")(lambda cls, v: _duration(v))


def load_recovery_config(path: Path | None = None) -> RecoveryConfig:
    """Parse and validate recovery.yaml; a missing file gives the defaults."""
    return load_model(path or get_settings().config_dir / "recovery.yaml", RecoveryConfig, missing_ok=True)


@cached_config
def get_recovery_config() -> RecoveryConfig:
    """The recovery config of this process (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_recovery_config()
