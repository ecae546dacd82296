"""Typed flow parameters: what the Prefect UI shows and what the server checks before a run exists.

`prefect deploy` stores each flow's parameter schema with its deployment and the server
validates `prefect deployment run --param …` (and the UI's form) against it
(`enforce_parameter_schema`, on by default), so a bad value is refused with the field named
and no run is created:
- `SourceKey`: an enum of the sources declared in `config/sources.yaml` (a dropdown in the UI);
- `LocalTime`: an ISO date or date-time, text; without an offset it is local time
  (`HUB_TIMEZONE`, Asia/Shanghai) — never silently UTC.
When the run starts, pydantic turns `LocalTime` into an aware datetime and `check_since`
holds backfill windows to a sane range, naming the parameter.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, WithJsonSchema

from connectors.registry import check_source, source_keys
from core.errors import ConfigError
from core.schema import utcnow
from core.settings import get_settings

#: ISO 8601 date, or date and time (seconds and fraction optional), optional Z / ±hh:mm offset
ISO_LOCAL = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
#: how far back a backfill may reach (sources keep about a year of history)
MAX_BACKFILL = timedelta(days=400)


def _source(value: str) -> str:
    """A declared source key (at run time too: the config may have changed since the deploy)."""
    try:
        return check_source(str(value))
    except ConfigError as exc:  # pydantic reports ValueErrors as the parameter's validation error
        raise ValueError(str(exc)) from None


def localize(value: datetime) -> datetime:
    """Naive input is local time (HUB_TIMEZONE, Asia/Shanghai); aware input is kept as given."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return value


#: a text field with a pattern, not the UI's UTC date picker: naive means local, which a picker cannot say
TIME_SCHEMA: dict[str, Any] = {"type": "string", "pattern": ISO_LOCAL,
                               "examples": ["2026-11-20", "2026-11-20T08:00:00", "2026-11-20T08:00:00+08:00"]}
#: the report periods (hub.reports.Period; spelled here so the push/chase flows do not load matplotlib)
Period = Literal["daily", "weekly"]
OutboxKind = Literal["dispatch", "reminder", "status_update", "sms", "ops"]
SourceKey = Annotated[str, Field(json_schema_extra={"enum": source_keys(enabled_only=False)}),
                      AfterValidator(_source)]
LocalTime = Annotated[datetime, WithJsonSchema(TIME_SCHEMA), AfterValidator(localize)]


def check_since(since: datetime, now: datetime | None = None) -> datetime:
    """`since` of a backfill: not in the future, at most `MAX_BACKFILL` back (ValueError names the parameter)."""
    now = now or utcnow()
    since = localize(since)
    if since > now:
        raise ValueError(f"since: {since.isoformat()} is in the future")
    if since < now - MAX_BACKFILL:
        raise ValueError(f"since: {since.isoformat()} is more than {MAX_BACKFILL.days} days back")
    return since
